/**
 * Public API of cdktf-gpu-passthrough: the constructs and their props, the hypervisor backends, what they derive,
 * and the interfaces a new backend implements. The command line (lib/cli), the report (lib/report) and preflight
 * (lib/preflight) are the `gpu-passthrough` program's, not the library's.
 */

// The constructs.
export { PassthroughHost } from "./host";
export type { PassthroughHostProps, HostGpuProps, HostGpu, GpuRole, PciDeviceMatch } from "./host";
export { GpuPassthroughVm } from "./vm";
export type { GpuPassthroughVmProps, Firmware } from "./vm";
export { PassthroughApp, appProblems, assertValidApp } from "./validation/app";
export { ensureManifest } from "./report/manifest";

// What is derived for every VM, and from what.
export { deriveVm } from "./derive";
export type { DerivedVm, VmIntent } from "./derive";
export { GpuLedger } from "./allocation";
export type { GpuClaim, GpuAllocation } from "./allocation";
export { PciAddress, PciAddressError } from "./pci/address";
export { mappedMib, formatMib, configureModel } from "./gpu/model";
export type {
  GpuModel,
  GpuFunction,
  GpuQuirks,
  CustomGpuModel,
  DisplayMode,
  BoardConfig,
  VendorMmio,
  OtherDeviceId,
} from "./gpu/model";
export { GPU_CATALOG, NVIDIA_MMIO_TABLE, catalogModel, catalogModelIds } from "./gpu/catalog";
export { resolveGpuModel } from "./gpu/resolve";
export { requiredMmio, withOverride, nextPowerOfTwo, isPowerOfTwo, LARGE_BAR_THRESHOLD_MIB, isLargeBar } from "./mmio";
export type { MmioRequirement, MmioInput } from "./mmio";
export { checkIsolation } from "./pci/iommu";
export type { IommuGroupProps, IommuGroup } from "./pci/iommu";
export { formatProblem, PassthroughValidationError } from "./problems";
export type { Problem } from "./problems";
export { terraformLiteral, escapeTemplate } from "./terraform-literal";
export { NAME_LIMITS, hostNameProblem, vmNameProblem, textProblem } from "./validation/names";

// Hypervisors: the interfaces a backend implements, and the plug-in registry the fleet file and report use.
export type {
  HypervisorBackend,
  HypervisorVmOptions,
  HostBinding,
  HostStep,
  VmStep,
  VmBackendSetting,
  VmRendering,
  BackendLimits,
  IPassthroughHost,
  IGpuPassthroughVm,
} from "./backends/backend";
export type { HypervisorPlugin, FleetFragments, SiteBinding, SiteScope } from "./backends/plugin";
export { HYPERVISORS, hypervisorOf } from "./backends/registry";

// vSphere.
export { VsphereBackend, VsphereHostBinding } from "./backends/vsphere/vsphere-backend";
export type { VsphereBackendProps } from "./backends/vsphere/vsphere-backend";
export type {
  VsphereVmOptions,
  VsphereCustomization,
  VsphereWindowsCustomization,
  VsphereIpv4,
  HorizonDesktopOptions,
} from "./backends/vsphere/vm-options";

// libvirt/KVM.
export { LibvirtBackend, LibvirtHostBinding } from "./backends/libvirt/libvirt-backend";
export type { LibvirtBackendProps } from "./backends/libvirt/libvirt-backend";
export type { LibvirtVmOptions, LibvirtCloudInit, UsbDevice } from "./backends/libvirt/vm-options";
export type { RenderedDomain } from "./backends/libvirt/render-domain";
export type { HostDistro, OvmfPaths } from "./backends/libvirt/distro";

// Proxmox VE.
export { ProxmoxBackend, ProxmoxHostBinding } from "./backends/proxmox/proxmox-backend";
export type { ProxmoxBackendProps } from "./backends/proxmox/proxmox-backend";
export type { ProxmoxVmOptions, ProxmoxOsType, ProxmoxVga } from "./backends/proxmox/vm-options";
export type { ProxmoxAuth, ProxmoxDeviceMode } from "./backends/proxmox/vm-rules";

// Host preparation (kernel arguments, vfio-pci) for KVM hosts.
export type { CpuVendor } from "./host-prep/cpu";
export type { LinuxDistro } from "./host-prep/distro";

// The fleet file.
export { fleetSchema } from "./fleet/schema";
export type { Fleet, FleetSite, FleetHost, FleetVm } from "./fleet/schema";
export { loadFleetFile, parseFleet, readFleet, readFleetFile, FleetFileError } from "./fleet/load";
export type { FleetReading } from "./fleet/load";
