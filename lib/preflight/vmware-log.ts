/**
 * Reads the BAR sizes of passthrough devices from a VM's vmware.log (seed 001: "the sum of the three 'size'
 * entries", in bytes, of lines like this, one per BAR of the device):
 *
 *   2022-04-22T03:04:15.771Z| vmx| | I005: PCIPassthru: Device 0000:42:00.0 barIndex 1 type 3 realaddr 0x3b800000000 size 34359738368 flags 12
 *
 * The line prefix differs between ESXi releases (`| vmx| I125:`, `In(05) vmx -`), so only the part from
 * "PCIPassthru: Device" on is read.
 */
import { PciAddress } from "../pci/address";

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
    .sort(([a], [b]) => a.localeCompare(b))
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
