/**
 * Reads the BAR sizes of passthrough devices from a VM's vmware.log (seed 001: "the sum of the three 'size'
 * entries", in bytes, of lines like this, one per BAR of the device):
 *
 *   2022-04-22T03:04:15.771Z| vmx| | I005: PCIPassthru: Device 0000:42:00.0 barIndex 1 type 3 realaddr 0x3b800000000 size 34359738368 flags 12
 *
 * The line prefix differs between ESXi releases, so only the part from "PCIPassthru:" on is read:
 *
 *   ESXi 7: 2022-04-22T03:04:15.771Z| vmx| | I005: PCIPassthru: total number of pages needed (4206594) exceeds limit (917504), failing
 *   ESXi 8: 2023-07-21T09:40:52.413Z In(05) vmx - PCIPassthru: total number of pages needed (33566722) exceeds limit (917504), failing
 *
 * (the first from Dell KB 000199172, the second from a public troubleshooting note of an ESXi 8 host). That failure
 * line gives what the VM's devices need in 4 KiB pages, so it gives the window even from a log without BAR lines.
 */
import { nextPowerOfTwo } from "../mmio";
import { PciAddress } from "../pci/address";
import { compareText } from "../text";

export interface VmwareLogDevice {
  /** Host PCI address, canonical (`0000:42:00.0`). */
  readonly address: string;
  readonly bars: readonly { readonly index: number; readonly sizeBytes: number }[];
  readonly totalBytes: number;
}

const BAR_LINE =
  /PCIPassthru: Device ([0-9a-fA-F:.]+) barIndex (\d+) type \d+ realaddr 0x[0-9a-fA-F]+ size (0x[0-9a-fA-F]+|\d+) flags/;

/**
 * The largest BAR size taken: 2^52 bytes (4 PiB), the most physical memory an x86-64 CPU can address (52 address
 * bits). Real GPUs stop at 128 GiB; anything above cannot be mapped, and would lose precision as a number.
 */
export const MAX_BAR_BYTES = 2 ** 52;

const PAGES_LINE = /PCIPassthru: total number of pages needed \((\d{1,16})\) exceeds limit \((\d{1,16})\)/;

/** ESXi counts the passthrough address space in pages of 4 KiB. */
export const ESXI_PAGE_BYTES = 4096;

/** ESXi's refusal to power on: the pages the VM's devices need, the limit, and the window that fits them. */
export interface PagesNeeded {
  /** Line number in the log (1-based). */
  readonly line: number;
  readonly neededPages: number;
  readonly limitPages: number;
  /** What the pages come to, in MiB (rounded up). */
  readonly neededMib: number;
  /** The 64-bit MMIO window in GB that holds them: GiB rounded up, then up to a power of two. */
  readonly windowGb: number;
}

/** The last "total number of pages needed (N) exceeds limit (M)" line of the log, if any. */
export function parsePagesNeeded(text: string): PagesNeeded | undefined {
  let found: PagesNeeded | undefined;
  text.split("\n").forEach((line, i) => {
    const m = PAGES_LINE.exec(line);
    if (!m) return;
    const neededPages = Number(m[1]);
    const bytes = neededPages * ESXI_PAGE_BYTES;
    if (neededPages === 0 || bytes > MAX_BAR_BYTES) {
      throw new VmwareLogError(
        `line ${i + 1}: ${neededPages} pages needed is not what a VM's devices map (${neededPages === 0 ? "none" : "above 2^52 bytes"}): give the VM's own vmware.log`,
      );
    }
    found = {
      line: i + 1,
      neededPages,
      limitPages: Number(m[2]),
      neededMib: Math.ceil(bytes / 2 ** 20),
      windowGb: nextPowerOfTwo(Math.ceil(bytes / 2 ** 30)),
    };
  });
  return found;
}

/** A line of the log that cannot be a real BAR; the message names the line and says why. */
export class VmwareLogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmwareLogError";
  }
}

/**
 * The passthrough devices of the log with their BARs. A BAR logged twice (the VM was reset or powered on again in
 * the same log) counts once: the last line wins.
 * @throws VmwareLogError for a BAR size no device has (0, not a power of two, above {@link MAX_BAR_BYTES}).
 */
export function parseVmwareLog(text: string): VmwareLogDevice[] {
  const devices = new Map<string, Map<number, number>>();
  text.split("\n").forEach((line, i) => {
    const m = BAR_LINE.exec(line);
    if (!m) return;
    const parsed = PciAddress.tryParse(m[1]);
    const address = typeof parsed === "string" ? m[1] : parsed.toString();
    const index = Number(m[2]);
    const size = barSize(m[3], `line ${i + 1}: BAR${m[2]} size ${m[3]} of ${address}`);
    const bars = devices.get(address) ?? new Map<number, number>();
    bars.set(index, size);
    devices.set(address, bars);
  });
  return [...devices.entries()]
    .sort(([a], [b]) => compareText(a, b))
    .map(([address, bars]) => {
      const list = [...bars.entries()].sort(([a], [b]) => a - b).map(([index, sizeBytes]) => ({ index, sizeBytes }));
      return { address, bars: list, totalBytes: list.reduce((sum, b) => sum + b.sizeBytes, 0) };
    });
}

/** The logged size in bytes, checked as BigInt first: a 30-digit size would round silently as a number. */
function barSize(text: string, where: string): number {
  const size = BigInt(text);
  const why =
    size === 0n
      ? "is 0"
      : size > BigInt(MAX_BAR_BYTES)
        ? "is above 2^52 bytes (4 PiB, the most an x86-64 CPU addresses)"
        : (size & (size - 1n)) !== 0n
          ? "is not a power of two (a PCI BAR's size always is)"
          : undefined;
  if (why) throw new VmwareLogError(`${where} ${why}: not a BAR size ESXi logs; give the VM's own vmware.log`);
  return Number(size);
}
