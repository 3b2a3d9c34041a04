/**
 * Renders a {@link GpuPassthroughVm} to a `libvirt_domain` (dmacvicar/libvirt 0.9.7): KVM on q35, host-passthrough
 * CPU, explicit OVMF loader and NVRAM, memory locked, one managed vfio hostdev per GPU function, the hypervisor
 * hidden when the GPU's driver needs it, and OVMF's 64-bit MMIO aperture for large-BAR GPUs. The boot disk is a
 * qcow2 overlay on a base image; cloud-init is a seed ISO uploaded to the pool and attached as a CD-ROM.
 */
import { createHash } from "crypto";
import { TerraformProvider } from "cdktf";
import type { CloudinitDisk } from "../../../.gen/providers/libvirt/cloudinit-disk";
import type { Domain, DomainConfig, DomainDevicesHostdevs } from "../../../.gen/providers/libvirt/domain";
import type { Volume } from "../../../.gen/providers/libvirt/volume";
import type { HostGpu } from "../../host";
import type { VmBackendSetting } from "../backend";
import { ovmfApertureArgs, ovmfApertureMinPhysBits } from "../../ovmf-aperture";
import { PciAddress } from "../../pci/address";
import { terraformLiteral } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import type { CpuTopology } from "../../cpu-topology";
import { OvmfPaths } from "./distro";
import { GuestProfile, guestProfile, hyperVEnlightenments } from "./guest";
import { NumaPlacement, numaPlacement } from "./numa";
import { LibvirtVmOptions } from "./vm-options";

export const DEFAULT_DISK_GIB = 40;
const NVRAM_DIR = "/var/lib/libvirt/qemu/nvram";
const SHUTDOWN_TIMEOUT_S = 300;
const HUGEPAGE_KIB = { "2M": 2048, "1G": 1048576 } as const;

export interface DomainPlacement {
  readonly provider?: TerraformProvider;
  readonly pool: string;
  readonly network: string;
  readonly ovmf: OvmfPaths;
  /** The host's declared NUMA nodes and cores. @default - unknown: memory bound to the GPUs' node, CPUs not placed */
  readonly topology?: CpuTopology;
}

export interface RenderedDomain {
  readonly domain: Domain;
  /** Writes what follows from the VM's GPUs into the domain: called at synth, once the allocation is complete. */
  readonly finalize: () => void;
  readonly bootVolume: Volume;
  /** The cloud-init seed, when the guest runs it (see guest.ts): Linux, or Windows with cloudbase-init. */
  readonly cloudInit?: CloudinitDisk;
  readonly cloudInitVolume?: Volume;
}

/** One hostdev per PCI function, function 0 first, each managed (libvirt binds it to vfio-pci on start). */
export function pciHostdevs(gpus: readonly HostGpu[], rom: LibvirtVmOptions["gpuRom"]): DomainDevicesHostdevs[] {
  return gpus.flatMap((gpu) =>
    gpu.functions.map((fn) => ({
      managed: true,
      subsysPci: { source: { address: pciAddressAttrs(fn) }, driver: { name: "vfio" } },
      ...(fn.fn === 0 && rom && (rom.file !== undefined || rom.bar !== undefined)
        ? { rom: { file: rom.file, bar: rom.bar === undefined ? undefined : rom.bar ? "on" : "off" } }
        : {}),
    })),
  );
}

function pciAddressAttrs(a: PciAddress): { domain: number; bus: number; slot: number; function: number } {
  return { domain: a.domain, bus: a.bus, slot: a.slot, function: a.fn };
}

export function cloudConfig(vm: GpuPassthroughVm, opts: LibvirtVmOptions): string {
  const ci = opts.cloudInit ?? {};
  if (ci.userData !== undefined) return ci.userData;
  // Quoted: cloud-init reads YAML 1.1, where a bare 0x1f is a number and yes a boolean (JSON strings are YAML).
  const lines = ["#cloud-config", `hostname: ${JSON.stringify(ci.hostName ?? vm.vmName)}`];
  if (ci.sshAuthorizedKeys?.length) {
    lines.push("ssh_authorized_keys:", ...ci.sshAuthorizedKeys.map((k) => `  - ${JSON.stringify(k)}`));
  }
  return `${lines.join("\n")}\n`;
}

/** The seed's meta data: the instance id cloud-init keys its once-per-instance work on, and the host name. */
export function cloudMetaData(vm: GpuPassthroughVm, opts: LibvirtVmOptions): string {
  const hostName = opts.cloudInit?.hostName ?? vm.vmName;
  return `instance-id: ${JSON.stringify(vm.vmName)}\nlocal-hostname: ${JSON.stringify(hostName)}\n`;
}

/**
 * The id provider 0.9.7 gives a cloud-init ISO: the first 16 hex digits of sha256(user data, meta data), also the
 * ISO's file name on the runner (cloudinit_disk_resource.go). The same content always gives the same id.
 */
export function cloudInitId(userData: string, metaData: string): string {
  return createHash("sha256").update(userData).update(metaData).digest("hex").slice(0, 16);
}

/** What follows from the VM's GPUs, which the app allocates at synth (see lib/allocation.ts). */
export interface GpuDependentDomain {
  readonly description: string;
  readonly maxPhysAddr?: { readonly mode: string };
  readonly kvm?: { readonly hidden: { readonly state: string } };
  readonly hyperV?: NonNullable<DomainConfig["features"]>["hyperV"];
  readonly hostdevs: DomainDevicesHostdevs[];
  readonly qemuCommandline?: DomainConfig["qemuCommandline"];
  /** Where the VM runs on a NUMA host: its GPUs' nodes decide. */
  readonly numa: NumaPlacement;
}

export function gpuDependentDomain(
  vm: GpuPassthroughVm,
  opts: LibvirtVmOptions,
  topology?: CpuTopology,
): GpuDependentDomain {
  const { derived } = vm;
  const mmioArgs = ovmfApertureArgs(derived.mmio);
  const usb = (opts.usbDevices ?? []).map((u) => ({
    managed: true,
    // Optional at start: an unplugged keyboard or receiver must not keep the VM from starting.
    subsysUsb: {
      source: { vendor: { id: `0x${u.vendorId}` }, product: { id: `0x${u.productId}` }, startUpPolicy: "optional" },
    },
  }));
  return {
    description: `GPU passthrough VM: ${derived.gpus.map((g) => `${g.label} ${g.model.name}`).join(", ")}`,
    // The 64-bit aperture sits above guest RAM; the guest needs the host's physical address width to reach it.
    maxPhysAddr: derived.mmio.needs64BitMmio ? { mode: "passthrough" } : undefined,
    kvm: derived.hideHypervisor ? { hidden: { state: "on" } } : undefined,
    hyperV: hyperVEnlightenments(derived.hideHypervisor, guestProfile(vm, opts), opts),
    hostdevs: [...pciHostdevs(derived.gpus, opts.gpuRom), ...usb],
    qemuCommandline: mmioArgs.length ? { args: mmioArgs.map((value) => ({ value })) } : undefined,
    numa: numaPlacement(vm, opts.vcpuPins, topology),
  };
}

/** Windows keeps its RTC in local time and times itself with hypervclock; HPET only adds interrupts (virt-manager). */
function clock(guest: GuestProfile): DomainConfig["clock"] {
  return {
    offset: guest.os === "windows" ? "localtime" : "utc",
    timer: [
      { name: "rtc", tickPolicy: "catchup" },
      { name: "pit", tickPolicy: "delay" },
      { name: "hpet", present: "no" },
      ...(guest.os === "windows" ? [{ name: "hypervclock", present: "yes" }] : []),
    ],
  };
}

/**
 * The host CPU's address width the VM needs (host-passthrough gives the guest the host's): OVMF starts the aperture
 * after the guest RAM, aligned to its size, and faults when it ends beyond the CPU's reach (lib/ovmf-aperture.ts).
 */
export function apertureSettings(vm: GpuPassthroughVm): VmBackendSetting[] {
  const { mmio } = vm.derived;
  if (!mmio.needs64BitMmio || vm.firmware !== "efi") return [];
  const bits = ovmfApertureMinPhysBits(vm.memoryMib, mmio.sizeGb);
  return [
    {
      setting: "host CPU address width",
      value: `at least ${bits} physical address bits`,
      why:
        `OVMF places the ${mmio.sizeGb} GB aperture after the ${vm.memoryMib / 1024} GiB of RAM, aligned to its size: ` +
        `it ends below 2^${bits}; on an Intel CPU with fewer bits (grep 'address sizes' /proc/cpuinfo on the host) the ` +
        `firmware uses that aperture and faults`,
    },
  ];
}

/**
 * The domain's configuration; `gpu` is what follows from the VM's GPUs as the app's allocation gives them now
 * (undefined: left out, for the resource built before the allocation is final).
 */
export function domainConfig(
  vm: GpuPassthroughVm,
  opts: LibvirtVmOptions,
  placement: DomainPlacement,
  gpu: GpuDependentDomain | undefined = gpuDependentDomain(vm, opts, placement.topology),
): DomainConfig {
  const efi = vm.firmware === "efi";
  const { ovmf } = placement;
  const guest = guestProfile(vm, opts);
  return {
    provider: placement.provider,
    name: vm.vmName,
    type: "kvm",
    description: gpu?.description,
    memory: vm.memoryMib,
    memoryUnit: "MiB",
    vcpu: vm.cpus,
    vcpuCpuset: gpu?.numa.vcpuCpuset,
    running: true,
    autostart: opts.autostart ?? false,
    // Every change but name and type stops the domain (provider 0.9.7): the guest is asked to shut down, and forced
    // off if it has not after the timeout.
    update: { shutdown: { timeout: SHUTDOWN_TIMEOUT_S } },
    // No `destroy`: with destroy.shutdown, 0.9.7 waits and then fails without forcing a guest that ignores ACPI
    // (Delete never forces), and graceful alone fails when QEMU outlives SIGTERM. The default stops QEMU with
    // SIGTERM, then SIGKILL, so a destroy always finishes; the guest OS is not asked first (README, Limitations).
    os: {
      type: "hvm",
      typeArch: "x86_64",
      typeMachine: "q35",
      ...(efi
        ? {
            loader: vm.secureBoot ? ovmf.secureCode : ovmf.code,
            loaderReadonly: "yes",
            loaderType: "pflash",
            loaderSecure: vm.secureBoot ? "yes" : "no",
            nvRam: {
              nvRam: `${NVRAM_DIR}/${vm.vmName}_VARS.fd`,
              template: vm.secureBoot ? ovmf.secureVars : ovmf.vars,
            },
          }
        : {}),
      bootDevices: [{ dev: "hd" }],
    },
    cpu: {
      mode: "host-passthrough",
      check: "none",
      topology: {
        sockets: vm.cpus / vm.coresPerSocket,
        dies: 1,
        cores: vm.coresPerSocket / (gpu?.numa.threads ?? 1),
        threads: gpu?.numa.threads ?? 1,
      },
      ...(gpu?.maxPhysAddr ? { maxPhysAddr: gpu.maxPhysAddr } : {}),
      ...(gpu?.numa.cells.length
        ? {
            numa: {
              cell: gpu.numa.cells.map((c) => ({ id: c.id, cpus: c.cpus, memory: c.memoryKib, unit: "KiB" })),
            },
          }
        : {}),
    },
    ...cpuTune(gpu?.numa.vcpuPins ?? opts.vcpuPins, gpu?.numa.emulatorCpuset),
    ...(gpu?.numa.memoryNodeset
      ? {
          numaTune: {
            memory: { mode: "strict", nodeset: gpu.numa.memoryNodeset },
            ...(gpu.numa.cells.length
              ? {
                  memNodes: gpu.numa.cells.map((c) => ({ cellId: c.id, mode: "strict", nodeset: String(c.hostNode) })),
                }
              : {}),
          },
        }
      : {}),
    // With locked memory and no hard limit libvirt lets QEMU lock without bound (Red Hat requires a limit).
    memoryTune: { hardLimit: guest.hardLimitMib, hardLimitUnit: "MiB" },
    memoryBacking: {
      memoryLocked: true,
      ...(opts.hugepages
        ? { memoryHugePages: { hugepages: [{ size: HUGEPAGE_KIB[opts.hugepages], unit: "KiB" }] } }
        : {}),
    },
    features: {
      acpi: true,
      apic: {},
      ...(vm.secureBoot ? { smm: { state: "on" } } : {}),
      ...(gpu?.kvm ? { kvm: gpu.kvm } : {}),
      ...(gpu?.hyperV ? { hyperV: gpu.hyperV } : {}),
      ioapic: { driver: "kvm" },
    },
    clock: clock(guest),
    devices: {
      disks: [
        {
          device: "disk",
          driver: { name: "qemu", type: "qcow2" },
          source: { volume: { pool: placement.pool, volume: bootVolumeName(vm) } },
          target: { dev: guest.diskDev, bus: guest.diskBus },
        },
        ...(guest.seed
          ? [
              {
                device: "cdrom",
                source: { volume: { pool: placement.pool, volume: cloudInitVolumeName(vm, opts) } },
                target: { dev: guest.diskBus === "sata" ? "sdb" : "sda", bus: "sata" },
                readOnly: true,
              },
            ]
          : []),
      ],
      interfaces: [
        { source: { network: { network: opts.network ?? placement.network } }, model: { type: guest.nicModel } },
      ],
      hostdevs: gpu?.hostdevs ?? [],
      // A serial port and its console: `virsh console` when the GPU shows nothing or the network is down.
      // No source: libvirt makes it a pty. A pty path in the plan would differ from the running domain's /dev/pts/N.
      serials: [{ target: { type: "isa-serial", port: 0, model: { name: "isa-serial" } } }],
      consoles: [{ target: { type: "serial", port: 0 } }],
      // VFIO pins all guest memory: a balloon could not return any.
      memBalloon: { model: "none" },
      ...(guest.tpm ? { tpms: [{ model: "tpm-crb", backend: { emulator: { version: "2.0" } } }] } : {}),
    },
    ...(gpu?.qemuCommandline ? { qemuCommandline: gpu.qemuCommandline } : {}),
  };
}

function cpuTune(pins: readonly string[] | undefined, emulator: string | undefined): Pick<DomainConfig, "cpuTune"> {
  if (!pins?.length && emulator === undefined) return {};
  return {
    cpuTune: {
      ...(pins?.length ? { vcpuPin: pins.map((cpuSet, vcpu) => ({ vcpu, cpuSet })) } : {}),
      ...(emulator !== undefined ? { emulatorPin: { cpuSet: emulator } } : {}),
    },
  };
}

export const bootVolumeName = (vm: GpuPassthroughVm): string => `${vm.vmName}-boot.qcow2`;
/**
 * The seed volume is named by its content: a volume cannot be updated (provider 0.9.7: "Update Not Supported") and a
 * changed `create.content.url` does not force a replacement, but a changed name does. So a cloud-init change plans
 * as a replacement of the volume (and a domain update that attaches the new one), never as a failing update.
 */
export function cloudInitVolumeName(vm: GpuPassthroughVm, opts: LibvirtVmOptions): string {
  return `${vm.vmName}-cloudinit-${cloudInitId(cloudConfig(vm, opts), cloudMetaData(vm, opts))}.iso`;
}

/**
 * The generated classes, loaded on first use: the domain binding is 7 MB of JavaScript (about 140 ms to load), which a
 * vSphere-only app or a library import should not pay for.
 */
function bindings() {
  return {
    /* eslint-disable @typescript-eslint/no-require-imports */
    Domain: (require("../../../.gen/providers/libvirt/domain") as { Domain: typeof Domain }).Domain,
    Volume: (require("../../../.gen/providers/libvirt/volume") as { Volume: typeof Volume }).Volume,
    CloudinitDisk: (
      require("../../../.gen/providers/libvirt/cloudinit-disk") as { CloudinitDisk: typeof CloudinitDisk }
    ).CloudinitDisk,
    /* eslint-enable @typescript-eslint/no-require-imports */
  };
}

export function renderDomain(vm: GpuPassthroughVm, opts: LibvirtVmOptions, placement: DomainPlacement): RenderedDomain {
  const { Domain, Volume, CloudinitDisk } = bindings();
  const provider = placement.provider;
  const bootVolume = new Volume(
    vm,
    "boot",
    terraformLiteral({
      provider,
      name: bootVolumeName(vm),
      pool: placement.pool,
      capacity: (opts.diskGib ?? DEFAULT_DISK_GIB) * 1024 * 1024 * 1024,
      // qcow2 v3: lazy refcounts, zero clusters and discard; libvirt would otherwise pick by its own version.
      target: { format: { type: "qcow2" }, compat: "1.1" },
      backingStore: { path: opts.baseImage, format: { type: "qcow2" } },
    }),
  );
  const seed = guestProfile(vm, opts).seed ? renderSeed(vm, opts, placement, CloudinitDisk, Volume) : undefined;
  // Volumes are named literally in the domain (so its XML reads plainly); depends_on keeps the order.
  const domain = new Domain(vm, "domain", {
    // Without the GPU-dependent parts: finalize() writes them at synth, from the final allocation (reading it while
    // VMs are still being defined would make the app allocate again for every VM).
    ...terraformLiteral(domainConfig(vm, opts, placement, undefined)),
    dependsOn: [bootVolume, ...(seed ? [seed.cloudInitVolume] : [])],
  });
  // The blocks that follow from the GPUs, written again from the final allocation (escape-hatch overrides are
  // applied on top at synth; they are kept).
  const finalize = () => {
    const config = terraformLiteral(domainConfig(vm, opts, placement));
    domain.description = config.description ?? "";
    if (config.cpu) domain.putCpu(config.cpu);
    if (config.features) domain.putFeatures(config.features);
    if (config.devices) domain.putDevices(config.devices);
    if (config.qemuCommandline) domain.putQemuCommandline(config.qemuCommandline);
    else domain.resetQemuCommandline();
    if (config.cpuTune) domain.putCpuTune(config.cpuTune);
    else domain.resetCpuTune();
    if (config.numaTune) domain.putNumaTune(config.numaTune);
    else domain.resetNumaTune();
    if (config.vcpuCpuset !== undefined) domain.vcpuCpuset = config.vcpuCpuset;
    else domain.resetVcpuCpuset();
  };
  return { domain, finalize, bootVolume, ...seed };
}

/** The NoCloud seed: an ISO built on the runner, uploaded into a volume the domain attaches as a CD-ROM. */
function renderSeed(
  vm: GpuPassthroughVm,
  opts: LibvirtVmOptions,
  placement: DomainPlacement,
  CloudinitDisk: ReturnType<typeof bindings>["CloudinitDisk"],
  Volume: ReturnType<typeof bindings>["Volume"],
): { cloudInit: CloudinitDisk; cloudInitVolume: Volume } {
  const provider = placement.provider;
  const cloudInit = new CloudinitDisk(
    vm,
    "cloudinit",
    terraformLiteral({
      provider,
      name: `${vm.vmName}-cloudinit`,
      userData: cloudConfig(vm, opts),
      metaData: cloudMetaData(vm, opts),
    }),
  );
  const cloudInitVolume = new Volume(
    vm,
    "cloudinit-volume",
    terraformLiteral({
      provider,
      name: cloudInitVolumeName(vm, opts),
      pool: placement.pool,
      target: { format: { type: "raw" } },
      create: { content: { url: cloudInit.path } },
      lifecycle: {
        // The ISO's path is on the runner (its temp directory): a fresh CI runner makes the ISO again and its path
        // is unknown until apply. The name already changes with the content, so the URL need not be compared.
        ignoreChanges: ["create"],
        // Names differ by content, so the new seed can be uploaded and attached before the old one is deleted.
        createBeforeDestroy: true,
      },
    }),
  );
  return { cloudInit, cloudInitVolume };
}
