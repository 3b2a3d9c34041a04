/**
 * Renders a {@link GpuPassthroughVm} to a `proxmox_virtual_environment_vm` (bpg/proxmox 0.112.0): q35, OVMF with a
 * 4m EFI disk, CPU type host, memory dedicated and not ballooned, one `hostpci` per GPU with all its functions (by
 * PCI id, or through the GPU's PCI mapping), PCIe, the ROM BAR on, x-vga on the first GPU when it is the primary
 * display or the hypervisor must be hidden, and OVMF's 64-bit MMIO aperture through `kvm_arguments`.
 */
import { Op, TerraformProvider, Token } from "cdktf";
import type {
  VirtualEnvironmentVm,
  VirtualEnvironmentVmConfig,
  VirtualEnvironmentVmHostpci,
  VirtualEnvironmentVmNetworkDevice,
  VirtualEnvironmentVmVga,
} from "../../../.gen/providers/proxmox/virtual-environment-vm";
import type { HostGpu } from "../../host";
import { MmioRequirement } from "../../mmio";
import { ovmfApertureArgs } from "../../ovmf-aperture";
import { terraformLiteral } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import { ProxmoxVga, ProxmoxVmOptions } from "./vm-options";

export const DEFAULT_DISK_GIB = 64;
export const DEFAULT_DATASTORE = "local-lvm";
export const DEFAULT_BRIDGE = "vmbr0";
export const DEFAULT_DISK_INTERFACE = "scsi0";
/** Every VM this library makes carries it, so that `pvesh get /cluster/resources` finds them. */
export const PASSTHROUGH_TAG = "gpu-passthrough";
/** A guest that ignores the ACPI shutdown is stopped after this (the provider forces it off; its default is 1800). */
const SHUTDOWN_TIMEOUT_S = 300;
const HUGEPAGES = { "2M": "2", "1G": "1024" } as const;

/** Where and how the VM is placed on its node, after the backend's defaults. */
export interface VmPlacement {
  readonly provider?: TerraformProvider;
  readonly node: string;
  readonly datastore: string;
  readonly bridge: string;
  /** The name of a guest GPU's PCI mapping (a reference to its resource), when the host assigns GPUs by mapping. */
  readonly mappingOf?: (gpu: HostGpu) => string | undefined;
}

export interface RenderedVm {
  readonly resource: VirtualEnvironmentVm;
  /** Writes what follows from the VM's GPUs: called at synth, once the allocation is complete. */
  readonly finalize: () => void;
}

/** `kvm_arguments` sizing OVMF's 64-bit PCI aperture, or undefined when the GPUs fit the default. */
export function ovmfMmioArguments(mmio: MmioRequirement): string | undefined {
  return ovmfApertureArgs(mmio).join(" ") || undefined;
}

/**
 * Whether the first GPU is the primary display (x-vga). It is also how the hypervisor is hidden: for an x-vga device
 * qemu-server adds `kvm=off` to its own -cpu and, for Windows, `hv_vendor_id=proxmox` (PCI.pm print_hostpci_devices,
 * CPUConfig.pm); the provider has no `hidden` CPU option, and a `-cpu` in kvm_arguments would replace PVE's.
 */
export function isPrimaryGpu(vm: GpuPassthroughVm, opts: ProxmoxVmOptions): boolean {
  return opts.primaryGpu ?? vm.hideHypervisor;
}

/** `vga.type`: none beside a primary GPU, as PVE does for x-vga when the VM sets no vga. */
export function vgaType(primary: boolean, opts: ProxmoxVmOptions): ProxmoxVga {
  return opts.vga ?? (primary ? "none" : "std");
}

/** The PVE tags of the VM: the library's own and the user's, sorted as PVE stores them. */
export function vmTags(opts: ProxmoxVmOptions): string[] {
  return [...new Set([PASSTHROUGH_TAG, ...(opts.tags ?? [])])].sort();
}

/**
 * One hostpci per GPU declared by address, in address order, with all its functions: by id, the functions the GPU's
 * model lists (`0000:0b:00.0;0000:0b:00.1`, which PVE passes as one multifunction device), so the VM gets exactly
 * what the manifest, the IOMMU rule and the report name; or the GPU's mapping, whose path is the whole device.
 * `rombar` is always written: left out, the provider sends rombar=0 and hides the GPU's ROM (vm.go
 * vmGetHostPCIDeviceObjects).
 */
export function hostpciBlocks(
  gpus: readonly HostGpu[],
  opts: ProxmoxVmOptions,
  primary: boolean,
  mappingOf: VmPlacement["mappingOf"],
): VirtualEnvironmentVmHostpci[] {
  return gpus
    .filter((gpu) => gpu.address)
    .map((gpu, i) => {
      const mapping = mappingOf?.(gpu);
      return {
        device: `hostpci${i}`,
        ...(mapping !== undefined ? { mapping } : { id: gpu.functions.map(String).join(";") }),
        pcie: true,
        rombar: opts.gpuRom?.bar ?? true,
        romFile: opts.gpuRom?.file,
        xvga: i === 0 && primary ? true : undefined,
      };
    });
}

/** What follows from the VM's GPUs, which the app allocates at synth (see lib/allocation.ts). */
export interface GpuDependentVm {
  readonly description: string;
  readonly hostpci: VirtualEnvironmentVmHostpci[];
  readonly kvmArguments?: string;
  readonly vga: VirtualEnvironmentVmVga;
}

export function gpuDependentVm(vm: GpuPassthroughVm, opts: ProxmoxVmOptions, placement: VmPlacement): GpuDependentVm {
  const { derived } = vm;
  const primary = isPrimaryGpu(vm, opts) && derived.gpus.length > 0;
  return {
    description: `GPU passthrough VM: ${derived.gpus.map((g) => `${g.label} ${g.model.name}`).join(", ")}`,
    hostpci: hostpciBlocks(derived.gpus, opts, primary, placement.mappingOf),
    kvmArguments: ovmfMmioArguments(derived.mmio),
    vga: { type: vgaType(primary, opts) },
  };
}

/**
 * The VM's network device with every key given: the provider declares network_device as an attribute (SDKv2
 * ConfigModeAttr), so Terraform's JSON syntax wants whole objects ("attributes ... are required"). The values are the
 * provider's defaults; null leaves the MAC address to PVE, the trunks unset, and `enabled` (deprecated) at its default.
 */
export function networkDevice(bridge: string): VirtualEnvironmentVmNetworkDevice {
  return {
    bridge,
    model: "virtio",
    enabled: null as unknown as boolean,
    disconnected: false,
    firewall: false,
    mtu: 0,
    queues: 0,
    rateLimit: 0,
    vlanId: 0,
    macAddress: null as unknown as string,
    trunks: null as unknown as string,
  };
}

/** Sockets from vCPUs and cores per socket; a Token stays one (Terraform divides it). */
function sockets(vm: GpuPassthroughVm): number {
  if (vm.coresPerSocket === vm.cpus) return 1;
  if (Token.isUnresolved(vm.cpus) || Token.isUnresolved(vm.coresPerSocket)) {
    return Token.asNumber(Op.div(vm.cpus, vm.coresPerSocket));
  }
  return vm.cpus / vm.coresPerSocket;
}

/** The VM's configuration without what depends on its GPUs (see {@link gpuDependentVm}). */
export function vmConfig(vm: GpuPassthroughVm, opts: ProxmoxVmOptions, placement: VmPlacement) {
  const efi = vm.firmware === "efi";
  const datastore = opts.datastore ?? placement.datastore;
  const tpm = opts.tpm ?? opts.osType === "win11";
  return {
    provider: placement.provider,
    nodeName: placement.node,
    vmId: opts.vmId,
    name: vm.vmName,
    tags: vmTags(opts),
    machine: "q35",
    bios: efi ? "ovmf" : "seabios",
    // 4m: the provider's default 2m OVMF cannot hold secure boot keys and is what PVE only keeps for old VMs.
    efiDisk: efi ? { datastoreId: datastore, type: "4m", preEnrolledKeys: vm.secureBoot } : undefined,
    tpmState: tpm ? { datastoreId: datastore, version: "v2.0" } : undefined,
    // host: the guest sees the host's CPU and its physical address width (QEMU's host-phys-bits for -cpu host), so
    // the 64-bit aperture above guest RAM is addressable.
    cpu: { type: "host", cores: vm.coresPerSocket, sockets: sockets(vm), numa: opts.hugepages ? true : undefined },
    // floating 0: no balloon device. VFIO pins every page of guest memory for the GPU's DMA.
    memory: {
      dedicated: vm.memoryMib,
      floating: 0,
      hugepages: opts.hugepages ? HUGEPAGES[opts.hugepages] : undefined,
    },
    operatingSystem: { type: opts.osType ?? "l26" },
    clone: opts.template !== undefined ? { vmId: opts.template, full: !(opts.linkedClone ?? false) } : undefined,
    scsiHardware: "virtio-scsi-single",
    disk: [
      {
        interface: opts.diskInterface ?? DEFAULT_DISK_INTERFACE,
        datastoreId: datastore,
        // A clone without diskGib keeps its template's size (size is computed); disks never shrink.
        size: opts.diskGib ?? (opts.template === undefined ? DEFAULT_DISK_GIB : undefined),
        iothread: true,
        discard: "on",
      },
    ],
    networkDevice: [networkDevice(opts.bridge ?? placement.bridge)],
    cdrom: opts.iso !== undefined ? { fileId: opts.iso, interface: "ide2" } : undefined,
    agent: { enabled: opts.agent ?? false },
    started: true,
    onBoot: opts.onBoot ?? false,
    // Changes that need the VM off (hostpci, cpu, memory, kvm_arguments, ...) shut it down and start it again.
    rebootAfterUpdate: true,
    timeoutShutdownVm: SHUTDOWN_TIMEOUT_S,
  } satisfies VirtualEnvironmentVmConfig;
}

/**
 * The generated class, loaded on first use: the VM binding is large, and a vSphere-only app or a library import
 * should not pay for it.
 */
function vmClass(): typeof VirtualEnvironmentVm {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return (
    require("../../../.gen/providers/proxmox/virtual-environment-vm") as {
      VirtualEnvironmentVm: typeof VirtualEnvironmentVm;
    }
  ).VirtualEnvironmentVm;
  /* eslint-enable @typescript-eslint/no-require-imports */
}

export function renderVm(vm: GpuPassthroughVm, opts: ProxmoxVmOptions, placement: VmPlacement): RenderedVm {
  const VmClass = vmClass();
  const resource = new VmClass(vm, "vm", terraformLiteral(vmConfig(vm, opts, placement)));
  // The blocks that follow from the GPUs, written from the final allocation at synth (escape-hatch overrides are
  // applied on top then; they are kept). Not at construction: reading the allocation while VMs are still being
  // defined would make the app allocate again for every VM, quadratic in the fleet's size.
  const finalize = () => {
    const gpu = terraformLiteral(gpuDependentVm(vm, opts, placement));
    resource.description = gpu.description;
    if (gpu.hostpci.length) resource.putHostpci(gpu.hostpci);
    else resource.resetHostpci();
    if (gpu.kvmArguments !== undefined) resource.kvmArguments = gpu.kvmArguments;
    else resource.resetKvmArguments();
    resource.putVga(gpu.vga);
  };
  return { resource, finalize };
}
