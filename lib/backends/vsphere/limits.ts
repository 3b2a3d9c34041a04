/** What a vSphere VM can have; a light module, so the fleet schema and the mmio command need not load the provider. */
import type { BackendLimits } from "../backend";

/** vSphere 8 (VM hardware 20+) limits; 16 passthrough devices per VM since vSphere 7. */
export const VSPHERE_LIMITS: BackendLimits = {
  maxCpus: 768,
  maxMemoryMib: 24 * 1024 * 1024,
  memoryGranularityMib: 4,
  maxPciDevices: 16,
};
