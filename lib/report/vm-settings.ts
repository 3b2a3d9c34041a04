/**
 * Each setting passthrough derives for a VM, with the inputs it came from: what a reviewer checks before a VM is
 * deployed (why EFI, why this MMIO window, why all memory is reserved, why the hypervisor is hidden or not).
 */
import { formatMib } from "../gpu/model";
import { LARGE_BAR_THRESHOLD_MIB } from "../mmio";
import type { ManifestVm } from "./manifest";
import type { VmSetting } from "./model";
import { byText } from "./order";
import { planReadingOf } from "./readings";

export function vmSettings(vm: ManifestVm): VmSetting[] {
  return [firmware(vm), mmio(vm), memory(vm), hideHypervisor(vm), devices(vm), ...(vm.backendSettings ?? [])];
}

function largest(vm: ManifestVm): { gpu: string; model: string; mappedMib: number } | undefined {
  return [...vm.mmio.inputs].sort((a, b) => b.mappedMib - a.mappedMib || byText(a.gpu, b.gpu))[0];
}

function firmware(vm: ManifestVm): VmSetting {
  const value = vm.firmware === "efi" ? `EFI${vm.secureBoot ? ", secure boot" : ""}` : vm.firmware.toUpperCase();
  const big = largest(vm);
  const threshold = formatMib(LARGE_BAR_THRESHOLD_MIB);
  const why =
    vm.firmware !== "efi"
      ? `chosen for this VM; allowed because no GPU maps more than ${threshold}`
      : vm.mmio.needs64BitMmio && big
        ? `${big.gpu} ${big.model} maps ${formatMib(big.mappedMib)} (more than ${threshold}): only EFI firmware places BARs above 4 GB`
        : `the default: EFI boots any GPU (BIOS only for GPUs mapping ${threshold} or less)`;
  return { setting: "firmware", value, why };
}

function mmio(vm: ManifestVm): VmSetting {
  const m = vm.mmio;
  const sum = m.inputs.map((i) => `${i.gpu} ${i.model} ${formatMib(i.mappedMib)}`).join(" + ");
  // A backend no plug-in has (a manifest from a newer version): where it sets the window is its own.
  const where = planReadingOf(vm.backend)?.mmioSetting(m.sizeGb) ?? `set by the ${vm.backend} backend`;
  if (!m.needs64BitMmio) {
    const big = largest(vm);
    return {
      setting: "mmio",
      value: "default window",
      why: `no GPU maps more than ${formatMib(LARGE_BAR_THRESHOLD_MIB)}${big ? ` (largest ${formatMib(big.mappedMib)})` : ""}: no 64-bit MMIO setting needed`,
    };
  }
  return {
    setting: "mmio",
    value: `${m.sizeGb} GB`,
    why: m.overridden
      ? `set for this VM (a power of two at least the ${formatMib(m.totalMib)} the GPUs map: ${sum}); ${where}`
      : m.rule === "vendor-table"
        ? `${sum} = ${formatMib(m.totalMib)}; ${m.ruleWhy}; ${where}`
        : `every BAR of every GPU (${sum} = ${formatMib(m.totalMib)}) rounded up to a power of two; ${where}`,
  };
}

function memory(vm: ManifestVm): VmSetting {
  const value = `${formatMib(vm.memoryReservationMib)} of ${formatMib(vm.memoryMib)} reserved`;
  const why =
    planReadingOf(vm.backend)?.memoryWhy ??
    "all guest memory reserved: the GPU reads and writes guest memory by DMA, which needs all of it resident";
  return { setting: "memory", value, why };
}

function hideHypervisor(vm: ManifestVm): VmSetting {
  return { setting: "hide-hypervisor", value: vm.hideHypervisor ? "hidden" : "visible", why: vm.hideHypervisorReason };
}

function devices(vm: ManifestVm): VmSetting {
  const gpus = vm.gpus.map(
    (g) => `${g.model} at ${g.gpu}: ${g.functions.length} function${plural(g.functions.length)}`,
  );
  return {
    setting: "devices",
    value: vm.pciFunctions.join(", ") || "none",
    why: gpus.length
      ? `${gpus.join("; ")}: every function of a GPU goes to the same VM, as it shares the GPU's reset and IOMMU group`
      : "no GPU declared by address",
  };
}

export function plural(n: number): string {
  return n === 1 ? "" : "s";
}
