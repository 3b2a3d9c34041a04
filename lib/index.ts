/** Public API of cdktf-gpu-passthrough. */
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
export { Problem, formatProblem, PassthroughValidationError } from "./problems";
export { PassthroughHost, PassthroughHostProps, HostGpuProps, HostGpu, GpuRole } from "./host";
export { GpuPassthroughVm, GpuPassthroughVmProps, Firmware } from "./vm";
export { GpuLedger, GpuClaim } from "./allocation";
export {
  HypervisorBackend,
  HostBinding,
  HostStep,
  VmStep,
  VmBackendSetting,
  VmRendering,
  BackendLimits,
} from "./backends/backend";
export { VsphereBackend, VsphereBackendProps, VsphereHostBinding } from "./backends/vsphere/vsphere-backend";
export {
  VsphereVmOptions,
  VsphereCustomization,
  VsphereWindowsCustomization,
  VsphereIpv4,
  HorizonDesktopOptions,
} from "./backends/vsphere/vm-options";
export { toolsInstallCommand, toolsRemoveList } from "./backends/vsphere/horizon";
export { enablePassthroughCommand } from "./backends/vsphere/directpath";
export { passthroughExtraConfig, mmioExtraConfig } from "./backends/vsphere/render-vm";
export { PassthroughApp, appProblems, assertValidApp } from "./validation/app";
export { Fleet, FleetSite, FleetHost, FleetVm, fleetSchema } from "./fleet/schema";
export {
  loadFleetFile,
  parseFleet,
  readFleet,
  readFleetFile,
  FleetReading,
  FleetFileError,
  formatPath,
} from "./fleet/load";
export { terraformLiteral, escapeTemplate } from "./terraform-literal";
export { NAME_LIMITS, hostNameProblem, vmNameProblem, textProblem } from "./validation/names";
export { readInventory, HostInventory, DetectedGpu, HostDevice } from "./preflight/inventory";
export { preflightReport, PreflightReport } from "./preflight/report";
export { Finding, Severity } from "./preflight/checks";
export { discoverYaml } from "./preflight/discover";
export { LibvirtBackend, LibvirtBackendProps, LibvirtHostBinding } from "./backends/libvirt/libvirt-backend";
export { LibvirtVmOptions, LibvirtCloudInit, UsbDevice } from "./backends/libvirt/vm-options";
export { HostDistro, OvmfPaths, ovmfPaths } from "./backends/libvirt/distro";
export { HostPrepPlan, hostPrepPlan, hostPrepScript } from "./backends/libvirt/host-prep";
export { domainXml } from "./backends/libvirt/domain-xml";
export { IommuGroupProps, IommuGroup, checkIsolation } from "./pci/iommu";
export { StackFile, StackFileProps, SynthesizedStack } from "./stack-file";
export { PassthroughManifest, ManifestHost, ManifestVm, MANIFEST_FILE } from "./report/manifest";
export { PassthroughReport } from "./report/model";
export { buildReport } from "./report/build-report";
export { renderMarkdown } from "./report/markdown";
export { parsePlan, TerraformPlan } from "./report/plan";
