/**
 * Public API of cdktf-gpu-passthrough: the constructs and their props, the hypervisor backends, what they derive,
 * and the interfaces a new backend implements. The command line (lib/cli), the report (lib/report) and preflight
 * (lib/preflight) are the `gpu-passthrough` program's, not the library's.
 */

// The constructs.
export { PassthroughHost, PassthroughHostProps, HostGpuProps, HostGpu, GpuRole, PciDeviceMatch } from "./host";
export { GpuPassthroughVm, GpuPassthroughVmProps, Firmware } from "./vm";
export { PassthroughApp, appProblems, assertValidApp } from "./validation/app";
export { ensureManifest } from "./report/manifest";

// What is derived for every VM, and from what.
export { DerivedVm, VmIntent, deriveVm } from "./derive";
export { GpuLedger, GpuClaim, GpuAllocation } from "./allocation";
export { PciAddress, PciAddressError } from "./pci/address";
export { GpuModel, GpuFunction, GpuQuirks, CustomGpuModel, mappedMib, formatMib } from "./gpu/model";
export { GPU_CATALOG, catalogModel, catalogModelIds } from "./gpu/catalog";
export { resolveGpuModel } from "./gpu/resolve";
export {
  MmioRequirement,
  MmioInput,
  requiredMmio,
  withOverride,
  nextPowerOfTwo,
  isPowerOfTwo,
  LARGE_BAR_THRESHOLD_MIB,
  isLargeBar,
} from "./mmio";
export { IommuGroupProps, IommuGroup, checkIsolation } from "./pci/iommu";
export { Problem, formatProblem, PassthroughValidationError } from "./problems";
export { terraformLiteral, escapeTemplate } from "./terraform-literal";
export { NAME_LIMITS, hostNameProblem, vmNameProblem, textProblem } from "./validation/names";

// Hypervisors: the interfaces a backend implements, and the plug-in registry the fleet file and report use.
export {
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
export { HypervisorPlugin, FleetFragments, SiteBinding, SiteScope } from "./backends/plugin";
export { HYPERVISORS, hypervisorOf } from "./backends/registry";

// vSphere.
export { VsphereBackend, VsphereBackendProps, VsphereHostBinding } from "./backends/vsphere/vsphere-backend";
export {
  VsphereVmOptions,
  VsphereCustomization,
  VsphereWindowsCustomization,
  VsphereIpv4,
  HorizonDesktopOptions,
} from "./backends/vsphere/vm-options";

// libvirt/KVM.
export { LibvirtBackend, LibvirtBackendProps, LibvirtHostBinding } from "./backends/libvirt/libvirt-backend";
export { LibvirtVmOptions, LibvirtCloudInit, UsbDevice } from "./backends/libvirt/vm-options";
export { RenderedDomain } from "./backends/libvirt/render-domain";
export { HostDistro, OvmfPaths } from "./backends/libvirt/distro";

// Proxmox VE.
export { ProxmoxBackend, ProxmoxBackendProps, ProxmoxHostBinding } from "./backends/proxmox/proxmox-backend";
export { ProxmoxVmOptions, ProxmoxOsType, ProxmoxVga } from "./backends/proxmox/vm-options";
export { ProxmoxAuth, ProxmoxDeviceMode } from "./backends/proxmox/vm-rules";

// Host preparation (kernel arguments, vfio-pci) for KVM hosts.
export { CpuVendor } from "./host-prep/cpu";
export { LinuxDistro } from "./host-prep/distro";

// The fleet file.
export { Fleet, FleetSite, FleetHost, FleetVm, fleetSchema } from "./fleet/schema";
export { loadFleetFile, parseFleet, readFleet, readFleetFile, FleetReading, FleetFileError } from "./fleet/load";
