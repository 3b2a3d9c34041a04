/**
 * vSphere's `extra_config` keys of a 64-bit MMIO window, in a module of its own: `gpu-passthrough mmio` prints them
 * without loading the VM renderer (cdktf and the provider bindings).
 */
import type { MmioRequirement } from "../../mmio";

/** The `extra_config` keys of a 64-bit MMIO window (none when the GPUs do not need one). */
export function mmioExtraConfig(mmio: MmioRequirement): Record<string, string> {
  if (!mmio.needs64BitMmio) return {};
  return { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": String(mmio.sizeGb) };
}
