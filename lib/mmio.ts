/**
 * Sizing of the VM's 64-bit MMIO window, the address space above 4 GiB where the guest firmware places the
 * GPUs' large BARs. Too small and the VM does not power on ("PCIPassthru: total number of pages needed ...
 * exceeds limit"); on KVM the guest sees "BAR0 is 0M".
 *
 * The rule (VMware "Using GPUs with Virtual Machines on vSphere – Part 2" and Broadcom KB 323402): add up every
 * BAR of every GPU passed to the VM, in GB, and round up to the next power of two. Because BAR1 is itself a
 * power of two and BAR0/BAR3 push the sum just past it, this gives 64 for one 32 GB-BAR V100, 256 for one
 * H100 80 GB (128 GiB BAR1), and 64 for two 16 GB-BAR GPUs — the figures both documents quote.
 *
 * Never below the vendor's figure: NVIDIA publishes the window each of its large GPUs needs (the table of "GPUs
 * requiring 64 GB or more of MMIO space"). Where it is larger than the BAR sum gives (one V100 16GB: the sum gives
 * 32, NVIDIA says 64), the vendor's figure governs, and the requirement says so. The figure is per GPU: a VM with
 * several gets at least the largest figure, and the BAR sum of all of them when that is larger.
 *
 * The sum counts the gaps the firmware leaves: each GPU's BARs share one bridge window aligned to its largest BAR
 * ({@link placedMib}), so three A100 80GB take 640 GiB, not the 384 GiB their BARs add up to, and need 1024 GB
 * (the lab booted them in OVMF: with 512 GB the third GPU's BAR1 stays unassigned).
 */
import { GpuModel, formatMib, mappedMib } from "./gpu/model";

/** A device mapping more than this needs the 64-bit MMIO settings and EFI firmware (VMware: "more than 16GB"). */
export const LARGE_BAR_THRESHOLD_MIB = 16 * 1024;

/** Whether a device mapping this many MiB is "large-BAR": it needs EFI and the 64-bit MMIO settings. */
export function isLargeBar(mappedMib: number): boolean {
  return mappedMib > LARGE_BAR_THRESHOLD_MIB;
}

export interface MmioInput {
  /** Which GPU (its address), for the report. */
  readonly gpu: string;
  readonly model: Pick<GpuModel, "name" | "barsMib"> & Partial<Pick<GpuModel, "vendorMmio">>;
}

/**
 * Which rule set the window: VMware's BAR sum, the GPU vendor's published figure, the user's override, or the pages
 * ESXi said it needed (`mmio --vmware-log`).
 */
export type MmioRule = "none" | "bar-sum" | "vendor-table" | "override" | "esxi-pages";

export interface MmioRequirement {
  /** Whether any GPU maps more than 16 GB, which needs `pciPassthru.use64bitMMIO` and EFI. */
  readonly needs64BitMmio: boolean;
  /** Sum of all BARs of all GPUs, in MiB. */
  readonly totalMib: number;
  /** The window to configure, in GB (GiB): the sum rounded up to a power of two. 0 when not needed. */
  readonly sizeGb: number;
  /** Whether {@link sizeGb} is the user's override rather than the computed figure. */
  readonly overridden: boolean;
  /** The rule that governed {@link sizeGb} (absent in manifests written before the vendor figures). */
  readonly rule?: MmioRule;
  /** Why, in a sentence for people: the figures each rule gave. */
  readonly ruleWhy?: string;
  /** Per GPU, what it maps: the inputs a reviewer checks. */
  readonly inputs: readonly { readonly gpu: string; readonly model: string; readonly mappedMib: number }[];
}

/** Smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && nextPowerOfTwo(n) === n;
}

/**
 * How much of the 64-bit window a VM's GPUs take once the guest firmware has placed them, not only what their BARs
 * add up to. Each passed GPU sits behind a PCIe root port of its own (libvirt on q35; Proxmox VE's pcie=1), whose
 * prefetchable window holds all of that GPU's BARs in one piece and is aligned to its largest BAR (a BAR is aligned to
 * its size). The firmware lays the windows out largest alignment first (edk2's PciBus: each at the next multiple of
 * its alignment), so the gaps count: three A100 80GB (128 GiB BAR1 + 48 MiB each) end at 640 GiB, beyond the 512 GB
 * their BAR sum rounds up to, and OVMF then leaves a GPU unassigned (measured: __tests__/lab/firmware.test.ts).
 * For one GPU, and for two or four equal ones, this is the BAR sum. Returns where the last GPU's window ends, in MiB
 * from the start of the window.
 */
export function placedMib(models: readonly Pick<GpuModel, "barsMib">[]): number {
  const windows = models
    .map((m) => ({
      size: m.barsMib.reduce((sum, bar) => sum + bar, 0),
      align: Math.max(1, ...m.barsMib.map((bar) => nextPowerOfTwo(bar))),
    }))
    .sort((a, b) => b.align - a.align);
  let end = 0;
  for (const w of windows) end = Math.ceil(end / w.align) * w.align + w.size;
  return end;
}

/** The MMIO window the computed rules give for these GPUs (no override): the BAR sum, never below the vendor's figure. */
export function requiredMmio(gpus: readonly MmioInput[]): MmioRequirement {
  const inputs = gpus.map((g) => ({ gpu: g.gpu, model: g.model.name, mappedMib: mappedMib(g.model) }));
  const totalMib = inputs.reduce((sum, i) => sum + i.mappedMib, 0);
  const listed = gpus.filter((g) => g.model.vendorMmio);
  // A GPU the vendor lists needs its large window even when its own BARs stay under 16 GB.
  const needs64BitMmio = inputs.some((i) => isLargeBar(i.mappedMib)) || listed.length > 0;
  if (!needs64BitMmio) {
    return {
      needs64BitMmio,
      totalMib,
      sizeGb: 0,
      overridden: false,
      rule: "none",
      ruleWhy: noWindowWhy(inputs),
      inputs,
    };
  }
  // The BARs as the firmware places them: each GPU's window aligned to its largest BAR ({@link placedMib}).
  const placed = Math.max(totalMib, placedMib(gpus.map((g) => g.model)));
  const sumGb = nextPowerOfTwo(Math.max(1, Math.ceil(placed / 1024)));
  // The vendor sizes one GPU: its figure is a floor, not a term to add up (VMware's two 16 GB-BAR GPUs fit in 64 GB,
  // the BAR sum, whatever one GPU's figure is). So the largest figure of the VM's GPUs.
  const vendorGb = Math.max(0, ...listed.map((g) => g.model.vendorMmio?.sizeGb ?? 0));
  const gaps =
    placed > totalMib
      ? `; ${formatMib(placed)} once each GPU's window is aligned to its largest BAR, as the firmware places them`
      : "";
  const sumWhy = `every BAR of every GPU (${formatMib(totalMib)}${gaps}) rounded up to a power of two gives ${sumGb} GB`;
  if (vendorGb > sumGb) {
    const top = listed.filter((g) => g.model.vendorMmio?.sizeGb === vendorGb);
    const names = [...new Set(top.map((g) => g.model.name))].join(", ");
    const source = [...new Set(top.map((g) => g.model.vendorMmio?.source))].join("; ");
    return {
      needs64BitMmio,
      totalMib,
      sizeGb: vendorGb,
      overridden: false,
      rule: "vendor-table",
      ruleWhy: `the vendor's figure governs: ${names} needs ${vendorGb} GB (${source}), more than the BAR sum: ${sumWhy}`,
      inputs,
    };
  }
  const vendorNote = listed.length ? `; the vendor's figure (${vendorGb} GB) is not larger` : "";
  return {
    needs64BitMmio,
    totalMib,
    sizeGb: sumGb,
    overridden: false,
    rule: "bar-sum",
    ruleWhy: sumWhy + vendorNote,
    inputs,
  };
}

function noWindowWhy(inputs: MmioRequirement["inputs"]): string {
  if (!inputs.length) return "no GPU";
  return `no GPU maps more than ${formatMib(LARGE_BAR_THRESHOLD_MIB)} and none is in a vendor's table of large-MMIO GPUs`;
}

/**
 * Applies a user's override: it must be a power of two and at least the computed size.
 * @returns the requirement to render, or the problem with the override.
 */
export function withOverride(required: MmioRequirement, overrideGb: number | undefined): MmioRequirement | string {
  if (overrideGb === undefined) return required;
  if (!isPowerOfTwo(overrideGb)) {
    const up = Number.isFinite(overrideGb) && overrideGb > 0 ? nextPowerOfTwo(Math.ceil(overrideGb)) : 1;
    return `mmioSizeGb ${overrideGb} is not a power of two: use ${Math.max(up, required.sizeGb)} (vSphere and OVMF size the window in powers of two)`;
  }
  if (overrideGb < required.sizeGb) {
    return `mmioSizeGb ${overrideGb} is below what the GPUs map (${required.sizeGb} GB for ${describeInputs(required)}): use ${required.sizeGb} or more, or leave it out`;
  }
  return {
    ...required,
    needs64BitMmio: true,
    sizeGb: overrideGb,
    overridden: true,
    rule: "override",
    ruleWhy: `set by the user, at least the ${required.sizeGb} GB computed (${required.ruleWhy})`,
  };
}

function describeInputs(required: MmioRequirement): string {
  return required.inputs.map((i) => `${i.gpu} ${i.model}`).join(", ");
}
