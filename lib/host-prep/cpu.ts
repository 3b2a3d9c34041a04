/**
 * The CPU vendors whose IOMMU a host can be prepared for: each has its kernel argument and firmware settings. A live
 * host may report another vendor (preflight's `other`) or none readable (`unknown`); neither has a known argument.
 */
export type CpuVendor = "intel" | "amd";

/** The vendor of a `vendor_id` from /proc/cpuinfo, when it is one of {@link CpuVendor}. */
export function cpuVendorOf(vendorId: string | undefined): CpuVendor | undefined {
  if (vendorId === "GenuineIntel") return "intel";
  if (vendorId === "AuthenticAMD") return "amd";
  return undefined;
}

/** The value as a {@link CpuVendor}, or undefined for any other (preflight's `other` and `unknown`). */
export function asCpuVendor(value: string): CpuVendor | undefined {
  return value === "intel" || value === "amd" ? value : undefined;
}

/** The argument that turns the IOMMU on for this CPU vendor (the AMD one is a no-op on recent kernels, but harmless). */
export function iommuArg(vendor: CpuVendor): string {
  return vendor === "intel" ? "intel_iommu=on" : "amd_iommu=on";
}

/** The firmware settings that give the host hardware virtualization and an IOMMU: they cannot be scripted. */
export function firmwareSetting(vendor: CpuVendor): string {
  return vendor === "intel"
    ? "enable Intel VT-x and VT-d in the firmware setup"
    : "enable SVM (AMD-V) and IOMMU (AMD-Vi) in the firmware setup";
}
