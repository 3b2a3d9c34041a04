/**
 * The preparation plan of a KVM host, derived from the VMs that use it: the IOMMU kernel arguments for its CPU
 * vendor, vfio-pci claiming every function of the guest GPUs at boot (by vendor:device id, or by address when ids
 * cannot tell a guest GPU from one the host keeps), the GPU drivers ordered after vfio-pci, the vfio modules in the
 * initramfs, and the reboot that makes it all take effect. It is data (`host-prep.json`, for scripts and the report)
 * and a commented shell script (`prepare-host.sh`, for people), both written into the stack's synth output.
 */
import type { HostGpu } from "../../host";
import { isLargeBar } from "../../mmio";
import { mappedMib } from "../../gpu/model";
import { iommuArg } from "../../preflight/host-prep";
import { shellComment, shellQuote } from "../../shell";
import { HostStep } from "../backend";
import { HostDistro, VFIO_MODULES, distroTools, kernelArgCommands } from "./distro";

export type CpuVendor = "intel" | "amd";

/** One PCI function vfio-pci must claim, and the VM it is for. */
export interface PreparedFunction {
  readonly address: string;
  /** `vendor:device`, when the GPU model knows it. */
  readonly id?: string;
  readonly kind: "display" | "audio" | "usb" | "serial-bus" | "other";
  readonly gpu: string;
  readonly model: string;
  readonly vm: string;
}

export interface HostPrepPlan {
  readonly host: string;
  readonly cpuVendor: CpuVendor;
  readonly distro: HostDistro;
  /** Firmware settings, for people: they cannot be scripted. */
  readonly bios: readonly string[];
  /** Arguments for the kernel command line. */
  readonly kernelArgs: readonly string[];
  /** How vfio-pci finds the functions: by id (`vfio-pci.ids`), or by address (`driverctl`) when ids are ambiguous. */
  readonly bindBy: "ids" | "address";
  readonly bindReason: string;
  readonly vfioPciIds: readonly string[];
  /** Every function passed to a VM on this host. */
  readonly functions: readonly PreparedFunction[];
  /** /etc/modprobe.d/vfio.conf. */
  readonly modprobe: { readonly file: string; readonly lines: readonly string[] };
  readonly initramfs: {
    readonly tool: string;
    readonly file: string;
    readonly lines: readonly string[];
    readonly rebuild: string;
  };
  /** Kernel argument and boot loader commands for this distribution. */
  readonly kernelArgCommands: readonly string[];
  /** Commands that bind functions by address (persistent across boots); empty when binding by id. */
  readonly driverOverrides: readonly string[];
  readonly rebootRequired: boolean;
  readonly notes: readonly string[];
  /**
   * What to run on the host when a VM's first start fails: provider 0.9.7 then leaves the domain defined outside
   * Terraform's state, and no setting avoids it. Never run by the script: only after such a failure.
   */
  readonly recovery: { readonly when: string; readonly commands: readonly string[] };
}

export interface HostPrepInput {
  readonly host: string;
  readonly cpuVendor: CpuVendor;
  readonly distro: HostDistro;
  /** Guest GPUs given to VMs, with the VM that holds each. */
  readonly assigned: readonly { readonly gpu: HostGpu; readonly vm: string }[];
  /** GPUs the host keeps (role host): vfio-pci must leave them alone. */
  readonly kept: readonly HostGpu[];
  /** The host's domains with NVRAM (EFI firmware), which a failed first start leaves behind. @default none */
  readonly nvramVms?: readonly string[];
}

/**
 * Why a first start can leave a domain behind (provider 0.9.7, domain_resource.go Create): the domain is defined, its
 * start fails, and the cleanup calls virDomainUndefine without flags, which libvirt refuses once the start has copied
 * the NVRAM template ("cannot undefine domain with nvram"; libvirt 9.0 copies it before QEMU or the hostdevs can
 * fail). The domain stays defined but not in Terraform's state, so the next apply fails.
 */
export const FIRST_START_FAILURE =
  'a VM\'s first start fails at apply ("Failed to Start Domain"), provider 0.9.7 cannot undefine it ' +
  '(libvirt: "cannot undefine domain with nvram") and the next apply fails because the domain already exists: ' +
  "fix what made the start fail, run this as root on the host (the domain never ran: its NVRAM is the template's copy), then apply again";

/** The host command that removes a domain left by a failed first start, NVRAM included. */
export const undefineCommand = (vm: string): string => `virsh undefine --nvram ${shellQuote(vm)}`;

/** Drivers that would claim a function before vfio-pci, by GPU vendor and function kind. */
const DRIVERS_BY_VENDOR: Record<string, readonly string[]> = {
  nvidia: ["nvidia", "nouveau"],
  amd: ["amdgpu", "radeon"],
  intel: ["i915", "xe"],
};
const DRIVERS_BY_KIND: Record<string, readonly string[]> = {
  audio: ["snd_hda_intel"],
  usb: ["xhci_pci"],
  "serial-bus": ["i2c_nvidia_gpu"],
};

const MODPROBE_FILE = "/etc/modprobe.d/vfio.conf";

/** Every function of a GPU with its id and kind, function 0 first. */
export function gpuFunctions(gpu: HostGpu): Omit<PreparedFunction, "vm">[] {
  const { model } = gpu;
  const vendor = model.vendorId;
  return gpu.functions.map((address) => {
    const extra = model.functions.find((f) => f.fn === address.fn);
    const device = extra ? extra.deviceId : model.deviceId;
    return {
      address: address.toString(),
      id: vendor && device ? `${vendor}:${device}` : undefined,
      kind: extra ? extra.kind : "display",
      gpu: gpu.label,
      model: model.name,
    };
  });
}

export function hostPrepPlan(input: HostPrepInput): HostPrepPlan {
  const tools = distroTools(input.distro);
  const functions: PreparedFunction[] = input.assigned.flatMap(({ gpu, vm }) =>
    gpuFunctions(gpu).map((f) => ({ ...f, vm })),
  );
  const keptIds = new Set(input.kept.flatMap((g) => gpuFunctions(g).flatMap((f) => (f.id ? [f.id] : []))));
  const unknownId = functions.filter((f) => !f.id);
  const shared = functions.filter((f) => f.id && keptIds.has(f.id));
  const bindBy = unknownId.length || shared.length ? "address" : "ids";
  const bindReason =
    bindBy === "ids"
      ? "every guest function has a vendor:device id that no GPU the host keeps shares"
      : shared.length
        ? `the host keeps a GPU with the same id as ${shared.map((f) => `${f.address} (${f.id})`).join(", ")}: ids cannot tell them apart`
        : `the GPU model does not give the id of ${unknownId.map((f) => f.address).join(", ")}`;
  const ids = bindBy === "ids" ? [...new Set(functions.flatMap((f) => (f.id ? [f.id] : [])))] : [];

  const kernelArgs = [
    iommuArg(input.cpuVendor) as string,
    "iommu=pt",
    ...(ids.length ? [`vfio-pci.ids=${ids.join(",")}`] : []),
  ];
  const drivers = [
    ...new Set(
      input.assigned.flatMap(({ gpu }) => [
        ...(DRIVERS_BY_VENDOR[gpu.model.vendor] ?? []),
        ...gpu.model.functions.flatMap((f) => DRIVERS_BY_KIND[f.kind] ?? []),
      ]),
    ),
  ];
  const modprobeLines = [
    ...(ids.length ? [`options vfio-pci ids=${ids.join(",")}`] : []),
    // softdep, not blacklist: the host may keep a GPU of the same vendor and still need its driver.
    ...drivers.map((d) => `softdep ${d} pre: vfio-pci`),
  ];
  const largeBar = input.assigned.some(({ gpu }) => isLargeBar(mappedMib(gpu.model)));
  const notes = [
    ...(input.assigned.some(({ gpu }) => gpu.model.quirks.resetBug)
      ? [
          `${[...new Set(input.assigned.filter(({ gpu }) => gpu.model.quirks.resetBug).map(({ gpu }) => gpu.model.name))].join(", ")} does not reset cleanly when its VM stops: install the vendor-reset module (github.com/gnif/vendor-reset) or reboot the host between VM starts`,
        ]
      : []),
    ...(input.kept.length
      ? [`the host keeps ${input.kept.map((g) => `${g.label} (${g.model.name})`).join(", ")}; vfio-pci leaves it alone`]
      : []),
  ];
  return {
    host: input.host,
    cpuVendor: input.cpuVendor,
    distro: input.distro,
    bios: [
      input.cpuVendor === "intel"
        ? "enable Intel VT-x and VT-d in the firmware setup"
        : "enable SVM (AMD-V) and IOMMU (AMD-Vi) in the firmware setup",
      ...(largeBar ? ["enable Above 4G Decoding: the guest GPUs map more than 16 GB"] : []),
    ],
    kernelArgs,
    bindBy,
    bindReason,
    vfioPciIds: ids,
    functions,
    modprobe: { file: MODPROBE_FILE, lines: modprobeLines },
    initramfs: {
      tool: tools.initramfs.name,
      file: tools.initramfs.file,
      lines: tools.initramfs.lines(VFIO_MODULES),
      rebuild: tools.initramfs.rebuild,
    },
    kernelArgCommands: kernelArgCommands(input.distro, kernelArgs),
    driverOverrides: bindBy === "address" ? functions.map((f) => `driverctl set-override ${f.address} vfio-pci`) : [],
    rebootRequired: functions.length > 0,
    notes,
    recovery: {
      when: FIRST_START_FAILURE,
      commands: [...new Set(input.nvramVms ?? [])].map(undefineCommand),
    },
  };
}

/** The plan as host steps: the same list every backend gives for outputs and reports. */
export function hostPrepSteps(plan: HostPrepPlan): HostStep[] {
  if (!plan.functions.length) return [];
  return [
    ...plan.bios.map((description): HostStep => ({ kind: "bios", description })),
    ...plan.kernelArgCommands.map((command): HostStep => ({
      kind: "command",
      description: `kernel arguments: ${plan.kernelArgs.join(" ")}`,
      command,
    })),
    ...plan.driverOverrides.map((command): HostStep => ({
      kind: "command",
      description: "bind a guest GPU function to vfio-pci by address",
      command,
    })),
    ...fileCommands(plan.modprobe.file, plan.modprobe.lines).map((command): HostStep => ({
      kind: "command",
      description: "order the GPU drivers after vfio-pci",
      command,
    })),
    ...[...fileCommands(plan.initramfs.file, plan.initramfs.lines), plan.initramfs.rebuild].map(
      (command): HostStep => ({
        kind: "command",
        description: `vfio modules in the initramfs (${plan.initramfs.tool})`,
        command,
      }),
    ),
    { kind: "reboot", description: "reboot the host: kernel arguments and the initramfs take effect at boot" },
  ];
}

/** Commands that add lines to a file unless it already has them. */
function fileCommands(file: string, lines: readonly string[]): string[] {
  return lines.map(
    (line) => `grep -qxF ${shellQuote(line)} ${file} 2>/dev/null || echo ${shellQuote(line)} >> ${file}`,
  );
}

/** The plan as a shell script to read, then run as root on the host. */
export function hostPrepScript(plan: HostPrepPlan): string {
  const lines = [
    "#!/bin/sh",
    shellComment(`Preparation of KVM host "${plan.host}" for GPU passthrough (${plan.distro}, ${plan.cpuVendor} CPU).`),
    "# Written by cdktf-gpu-passthrough at synth from the VMs that use this host; read it, then run it as root.",
    "# Every step is idempotent: running it twice changes nothing.",
    "set -eu",
    "",
    "# Firmware settings (do these by hand in the firmware setup):",
    ...plan.bios.map((b) => shellComment(`  - ${b}`)),
    "",
    "# Functions vfio-pci claims at boot:",
    ...plan.functions.map((f) =>
      shellComment(`  ${f.address} ${f.id ?? "(id unknown)"} ${f.kind} of ${f.model} ${f.gpu} -> VM ${f.vm}`),
    ),
    shellComment(`Bound by ${plan.bindBy === "ids" ? "vendor:device id" : "address"}: ${plan.bindReason}.`),
    "",
    shellComment(`Kernel arguments: ${plan.kernelArgs.join(" ")}`),
    ...plan.kernelArgCommands,
    "",
    ...(plan.driverOverrides.length
      ? ["# Bind by address (driverctl keeps the override across reboots).", ...plan.driverOverrides, ""]
      : []),
    shellComment(`Load vfio-pci before the GPU drivers (${plan.modprobe.file}).`),
    ...fileCommands(plan.modprobe.file, plan.modprobe.lines),
    "",
    shellComment(`vfio modules in the initramfs (${plan.initramfs.tool}).`),
    `mkdir -p $(dirname ${plan.initramfs.file})`,
    ...fileCommands(plan.initramfs.file, plan.initramfs.lines),
    plan.initramfs.rebuild,
    "",
    ...plan.notes.map((n) => shellComment(`Note: ${n}.`)),
    ...(plan.recovery.commands.length
      ? ["", shellComment(`If ${plan.recovery.when}:`), ...plan.recovery.commands.map((c) => shellComment(`  ${c}`))]
      : []),
    ...(plan.rebootRequired
      ? ["echo 'Done. Reboot the host: kernel arguments and the initramfs take effect at boot.'"]
      : []),
  ];
  return `${lines.join("\n")}\n`;
}
