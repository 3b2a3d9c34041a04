/** What a KVM VM can have; a light module, so the fleet schema need not load the backend (cdktf, the bindings). */
import type { BackendLimits } from "../backend";

/**
 * KVM limits on q35 as this library uses them: QEMU's q35 machine takes 288 vCPUs without an IOMMU for
 * interrupt remapping; each passed function takes a pcie-root-port, and libvirt places those on pcie.0's 31 slots.
 */
export const KVM_LIMITS: BackendLimits = {
  maxCpus: 288,
  maxMemoryMib: 16 * 1024 * 1024,
  memoryGranularityMib: 1,
  maxPciDevices: 28,
};
