/**
 * Host preparation for KVM passthrough, as the peers' tools do it (quickpassthrough, nixos-vfio; see
 * shared/reference/libvirt.md "Host preparation"): the IOMMU kernel arguments for the CPU vendor, `iommu=pt`,
 * vfio-pci claiming every function of the guest GPUs at boot (by vendor:device id, or by address when ids cannot tell
 * a guest GPU from one the host keeps), the GPU drivers ordered after vfio-pci, the vfio modules in the initramfs, and
 * the reboot that makes it all take effect. Pure: the backends write the plan for a declared host, preflight applies
 * the same rules to a live one (`current`), and nothing here runs anything.
 */
import { GpuModel, mappedMib } from "../gpu/model";
import { isLargeBar } from "../mmio";
import type { PciAddress } from "../pci/address";
import { CpuVendor, firmwareSetting, iommuArg } from "./cpu";
import {
  LinuxDistro,
  VFIO_MODULES,
  bootLoaderNotes,
  initramfsTool,
  installCommand,
  kernelArgCommands,
  RESTART_LIBVIRT,
  SWTPM_LOCALCA,
  SWTPM_USER,
  swtpmPackages,
} from "./distro";
import {
  GuestHostNeeds,
  HUGETLBFS_1G,
  HUGE_PAGE_ARG_NAMES,
  HugePageNeed,
  hugePageKernelArgs,
  hugePageNeeds,
  hugePageNotes,
} from "./hugepages";

/** One PCI function vfio-pci must claim, and the VM it is for. */
export interface PreparedFunction {
  readonly address: string;
  /** `vendor:device`, when the GPU model knows it. */
  readonly id?: string;
  /** Function 0 of a board that ships under several device ids (RTX 2080 Ti: 1e07 and 1e04): the others. */
  readonly otherIds?: readonly string[];
  readonly kind: "display" | "audio" | "usb" | "serial-bus" | "other";
  readonly gpu: string;
  readonly model: string;
  readonly vm: string;
}

/** A GPU as the planner needs it; a host's `HostGpu` is one. */
export interface PlannedGpu {
  /** How messages name it, e.g. its address. */
  readonly label: string;
  readonly model: GpuModel;
  /** Every function passed together, function 0 first. */
  readonly functions: readonly PciAddress[];
}

export interface HostPrepInput {
  readonly host: string;
  readonly cpuVendor: CpuVendor;
  readonly distro: LinuxDistro;
  /** Guest GPUs given to VMs, with the VM that holds each. */
  readonly assigned: readonly { readonly gpu: PlannedGpu; readonly vm: string }[];
  /** GPUs the host keeps (role host): vfio-pci must leave them alone. */
  readonly kept: readonly PlannedGpu[];
  /** What the host's guests need beyond their GPUs: huge pages, a software TPM. @default - nothing */
  readonly guests?: readonly GuestHostNeeds[];
}

/** A hugetlbfs mount the host needs: its fstab line and mount point. */
export interface PreparedMount {
  readonly path: string;
  readonly fstab: string;
  readonly why: string;
}

/** Packages the host needs, with the command that installs them. */
export interface PreparedPackages {
  readonly names: readonly string[];
  readonly command: string;
  readonly why: string;
  /** Commands run after the install that make the packages usable, each with its reason. */
  readonly setup: readonly { readonly command: string; readonly why: string }[];
}

/** The preparation of one host; written as JSON (`host-prep.json`), so its fields are its format. */
export interface HostPreparation {
  readonly host: string;
  readonly cpuVendor: CpuVendor;
  readonly distro: LinuxDistro;
  /** Firmware settings, for people: they cannot be scripted. */
  readonly bios: readonly string[];
  /** Arguments for the kernel command line (huge page reservations last). */
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
  /** Huge pages reserved at boot, by size, for the guests backed by them. */
  readonly hugepages: readonly HugePageNeed[];
  /** hugetlbfs mounts the guests need (1 GiB pages); libvirt finds every hugetlbfs mount when it starts. */
  readonly mounts: readonly PreparedMount[];
  readonly packages: readonly PreparedPackages[];
  readonly rebootRequired: boolean;
  readonly notes: readonly string[];
}

export const MODPROBE_FILE = "/etc/modprobe.d/vfio.conf";

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

/** Every function of a GPU with its id and kind, function 0 first. */
export function gpuFunctions(gpu: PlannedGpu): Omit<PreparedFunction, "vm">[] {
  const { model } = gpu;
  const vendor = model.vendorId;
  return gpu.functions.map((address) => {
    const extra = model.functions.find((f) => f.fn === address.fn);
    const device = extra ? extra.deviceId : model.deviceId;
    const others = !extra && vendor ? (model.otherDeviceIds ?? []).map((o) => `${vendor}:${o.deviceId}`) : [];
    return {
      address: address.toString(),
      id: vendor && device ? `${vendor}:${device}` : undefined,
      ...(others.length ? { otherIds: others } : {}),
      kind: extra ? extra.kind : "display",
      gpu: gpu.label,
      model: model.name,
    };
  });
}

/** Drivers that could claim these GPUs' functions before vfio-pci, in the order met. */
export function gpuDrivers(models: readonly GpuModel[]): string[] {
  return [
    ...new Set(
      models.flatMap((model) => [
        ...(DRIVERS_BY_VENDOR[model.vendor] ?? []),
        ...model.functions.flatMap((f) => DRIVERS_BY_KIND[f.kind] ?? []),
      ]),
    ),
  ];
}

/** modprobe.d lines that load vfio-pci before these modules (softdep, not blacklist: the host may need them). */
export function softdepLines(modules: readonly string[]): string[] {
  return [...new Set(modules)].map((m) => `softdep ${m} pre: vfio-pci`);
}

export interface Binding {
  readonly bindBy: "ids" | "address";
  readonly reason: string;
  /** The ids for `vfio-pci.ids`, in the order met; empty when binding by address. */
  readonly ids: readonly string[];
}

/**
 * How vfio-pci should find the guest functions at boot: by `vendor:device` id, unless a function's id is unknown or
 * a device the host keeps has the same id (vfio-pci.ids would take it too); then by address.
 * @param keptIds the ids of every device the host keeps
 */
export function bindingFor(
  functions: readonly Pick<PreparedFunction, "address" | "id" | "otherIds">[],
  keptIds: Iterable<string>,
): Binding {
  const kept = new Set(keptIds);
  const unknownId = functions.filter((f) => !f.id);
  const shared = functions.filter((f) => allIds(f).some((id) => kept.has(id)));
  if (shared.length) {
    return {
      bindBy: "address",
      reason: `the host keeps a GPU with the same id as ${shared.map((f) => `${f.address} (${f.id})`).join(", ")}: ids cannot tell them apart`,
      ids: [],
    };
  }
  if (unknownId.length) {
    return {
      bindBy: "address",
      reason: `the GPU model does not give the id of ${unknownId.map((f) => f.address).join(", ")}`,
      ids: [],
    };
  }
  return {
    bindBy: "ids",
    reason: "every guest function has a vendor:device id that no GPU the host keeps shares",
    ids: [...new Set(functions.flatMap(allIds))],
  };
}

/** Every id a function may have: a board shipped under several ids is bound by all of them. */
function allIds(f: Pick<PreparedFunction, "id" | "otherIds">): string[] {
  return f.id ? [f.id, ...(f.otherIds ?? [])] : [];
}

/** The ids already given to vfio-pci on a kernel command line (`vfio-pci.ids=` or `vfio_pci.ids=`). */
export function currentVfioIds(args: readonly string[]): string[] {
  return args
    .filter((a) => /^vfio[-_]pci\.ids=/.test(a))
    .flatMap((a) => a.slice(a.indexOf("=") + 1).split(","))
    .map((id) => id.toLowerCase())
    .filter(Boolean);
}

/** What a running host already has, so that only what it lacks is planned. */
export interface CurrentBoot {
  /** The kernel command line, split into arguments. */
  readonly args: readonly string[];
  /** Whether an IOMMU is active (AMD hosts and recent kernels turn it on without an argument). */
  readonly iommuActive: boolean;
}

/**
 * The kernel arguments a host needs: the IOMMU argument of its CPU vendor (none for a vendor without one), `iommu=pt`
 * (the host's own devices skip DMA translation), and the ids vfio-pci claims at boot.
 * @param vfioIds ids for `vfio-pci.ids`; none when binding by address or when nothing is left to bind
 * @param current the running host: only the arguments it lacks, with `vfio-pci.ids` merged into the ids it has
 */
export function kernelArgsFor(
  vendor: CpuVendor | undefined,
  vfioIds: readonly string[],
  current?: CurrentBoot,
): string[] {
  const iommuOn = vendor && iommuArg(vendor);
  if (!current) return [...(iommuOn ? [iommuOn] : []), "iommu=pt", ...vfioIdsArg(vfioIds)];
  const has = (arg: string) => current.args.includes(arg);
  const ids = currentVfioIds(current.args);
  return [
    ...(iommuOn && !current.iommuActive && !has(iommuOn) ? [iommuOn] : []),
    ...(has("iommu=pt") ? [] : ["iommu=pt"]),
    ...(vfioIds.some((id) => !ids.includes(id)) ? vfioIdsArg([...new Set([...ids, ...vfioIds])]) : []),
  ];
}

function vfioIdsArg(ids: readonly string[]): string[] {
  return ids.length ? [`vfio-pci.ids=${ids.join(",")}`] : [];
}

/**
 * libvirt runs swtpm as tss, or as root when tss did not exist when it started (qemu_conf.c): a libvirtd running
 * while swtpm's package creates tss goes on as root, and root's files in the local CA then fail every new TPM once it
 * restarts as tss (preflight's swtpm-localca-owner). So the CA is given to tss and libvirt restarted now.
 */
const SWTPM_SETUP = [
  {
    command: `[ ! -d ${SWTPM_LOCALCA} ] || ! id -u ${SWTPM_USER} >/dev/null 2>&1 || chown -R ${SWTPM_USER} ${SWTPM_LOCALCA}`,
    why: `swtpm_setup signs each new TPM with the local CA as ${SWTPM_USER}: the CA must be ${SWTPM_USER}'s`,
  },
  {
    command: RESTART_LIBVIRT,
    why: `libvirt picks the user it runs swtpm as (${SWTPM_USER}) when it starts`,
  },
];

/** The preparation of a host from the GPUs its VMs take and the GPUs it keeps. */
export function planHostPreparation(input: HostPrepInput): HostPreparation {
  const functions: PreparedFunction[] = input.assigned.flatMap(({ gpu, vm }) =>
    gpuFunctions(gpu).map((f) => ({ ...f, vm })),
  );
  const keptIds = input.kept.flatMap((g) => gpuFunctions(g).flatMap(allIds));
  const binding = bindingFor(functions, keptIds);
  const ids = binding.ids;
  const baseArgs = kernelArgsFor(input.cpuVendor, ids);
  const guests = input.guests ?? [];
  const hugepages = hugePageNeeds(guests);
  const hugeArgs = hugePageKernelArgs(hugepages, input.distro);
  const kernelArgs = [...baseArgs, ...hugeArgs];
  const tpmVms = guests.filter((g) => g.tpm).map((g) => g.vm);
  const packages: PreparedPackages[] = tpmVms.length
    ? [
        {
          names: swtpmPackages(input.distro),
          command: installCommand(input.distro, swtpmPackages(input.distro)),
          why: `libvirt runs swtpm for the software TPM of ${tpmVms.join(", ")}`,
          setup: SWTPM_SETUP,
        },
      ]
    : [];
  const mounts: PreparedMount[] = hugepages.some((n) => n.size === "1G")
    ? [{ ...HUGETLBFS_1G, why: "QEMU backs 1 GiB-page guests with files on a hugetlbfs of that page size" }]
    : [];
  const modprobeLines = [
    ...(ids.length ? [`options vfio-pci ids=${ids.join(",")}`] : []),
    ...softdepLines(gpuDrivers(input.assigned.map(({ gpu }) => gpu.model))),
  ];
  const largeBar = input.assigned.some(({ gpu }) => isLargeBar(mappedMib(gpu.model)));
  const resetBug = [
    ...new Set(input.assigned.filter(({ gpu }) => gpu.model.quirks.resetBug).map(({ gpu }) => gpu.model.name)),
  ];
  const notes = [
    ...(resetBug.length
      ? [
          `${resetBug.join(", ")} does not reset cleanly when its VM stops: install the vendor-reset module (github.com/gnif/vendor-reset) or reboot the host between VM starts`,
        ]
      : []),
    ...(input.kept.length
      ? [`the host keeps ${input.kept.map((g) => `${g.label} (${g.model.name})`).join(", ")}; vfio-pci leaves it alone`]
      : []),
    ...hugePageNotes(hugepages, input.distro),
    ...(functions.length ? bootLoaderNotes(input.distro) : []),
  ];
  const initramfs = initramfsTool(input.distro);
  return {
    host: input.host,
    cpuVendor: input.cpuVendor,
    distro: input.distro,
    bios: [
      firmwareSetting(input.cpuVendor),
      ...(largeBar ? ["enable Above 4G Decoding: the guest GPUs map more than 16 GB"] : []),
    ],
    kernelArgs,
    bindBy: binding.bindBy,
    bindReason: binding.reason,
    vfioPciIds: ids,
    functions,
    modprobe: { file: MODPROBE_FILE, lines: modprobeLines },
    initramfs: {
      tool: initramfs.name,
      file: initramfs.file,
      lines: initramfs.lines(VFIO_MODULES),
      rebuild: initramfs.rebuild,
    },
    kernelArgCommands: kernelArgCommands(input.distro, baseArgs, { names: HUGE_PAGE_ARG_NAMES, args: hugeArgs }),
    driverOverrides:
      binding.bindBy === "address" ? functions.map((f) => `driverctl set-override ${f.address} vfio-pci`) : [],
    hugepages,
    mounts,
    packages,
    rebootRequired: functions.length > 0 || hugeArgs.length > 0,
    notes,
  };
}
