/**
 * Sizing of the VM's 64-bit MMIO window, the address space above 4 GiB where the guest firmware places the
 * GPUs' large BARs. Too small and the VM does not power on ("PCIPassthru: total number of pages needed ...
 * exceeds limit"); on KVM the guest sees "BAR0 is 0M".
 *
 * The rule (VMware "Using GPUs with Virtual Machines on vSphere – Part 2" and Broadcom KB 323402): add up every
 * BAR of every GPU passed to the VM, in GB, and round up to the next power of two. Because BAR1 is itself a
 * power of two and BAR0/BAR3 push the sum just past it, this gives 64 for one 32 GB-BAR V100, 256 for one
 * H100 80 GB (128 GiB BAR1), and 64 for two 16 GB-BAR GPUs — the figures both documents quote.
 */
import { GpuModel, mappedMib } from "./gpu/model";

/** A device mapping more than this needs the 64-bit MMIO settings and EFI firmware (VMware: "more than 16GB"). */
export const LARGE_BAR_THRESHOLD_MIB = 16 * 1024;

/** Whether a device mapping this many MiB is "large-BAR": it needs EFI and the 64-bit MMIO settings. */
export function isLargeBar(mappedMib: number): boolean {
  return mappedMib > LARGE_BAR_THRESHOLD_MIB;
}

export interface MmioInput {
  /** Which GPU (its address), for the report. */
  readonly gpu: string;
  readonly model: Pick<GpuModel, "name" | "barsMib">;
}

export interface MmioRequirement {
  /** Whether any GPU maps more than 16 GB, which needs `pciPassthru.use64bitMMIO` and EFI. */
  readonly needs64BitMmio: boolean;
  /** Sum of all BARs of all GPUs, in MiB. */
  readonly totalMib: number;
  /** The window to configure, in GB (GiB): the sum rounded up to a power of two. 0 when not needed. */
  readonly sizeGb: number;
  /** Whether {@link sizeGb} is the user's override rather than the computed figure. */
  readonly overridden: boolean;
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

/** The MMIO window the computed rule gives for these GPUs (no override). */
export function requiredMmio(gpus: readonly MmioInput[]): MmioRequirement {
  const inputs = gpus.map((g) => ({ gpu: g.gpu, model: g.model.name, mappedMib: mappedMib(g.model) }));
  const totalMib = inputs.reduce((sum, i) => sum + i.mappedMib, 0);
  const needs64BitMmio = inputs.some((i) => isLargeBar(i.mappedMib));
  const sizeGb = needs64BitMmio ? nextPowerOfTwo(Math.ceil(totalMib / 1024)) : 0;
  return { needs64BitMmio, totalMib, sizeGb, overridden: false, inputs };
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
  return { ...required, needs64BitMmio: true, sizeGb: overrideGb, overridden: true };
}

function describeInputs(required: MmioRequirement): string {
  return required.inputs.map((i) => `${i.gpu} ${i.model}`).join(", ");
}
