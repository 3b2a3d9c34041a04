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
 * The passthrough devices of the log with their BARs. A BAR logged twice (the VM was reset or powered on again in
 * the same log) counts once: the last line wins.
 */
export function parseVmwareLog(text: string): VmwareLogDevice[] {
  const devices = new Map<string, Map<number, number>>();
  for (const line of text.split("\n")) {
    const m = BAR_LINE.exec(line);
    if (!m) continue;
    const parsed = PciAddress.tryParse(m[1]);
    const address = typeof parsed === "string" ? m[1] : parsed.toString();
    const bars = devices.get(address) ?? new Map<number, number>();
    bars.set(Number(m[2]), Number(m[3]));
    devices.set(address, bars);
  }
  return [...devices.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([address, bars]) => {
      const list = [...bars.entries()].sort(([a], [b]) => a - b).map(([index, sizeBytes]) => ({ index, sizeBytes }));
      return { address, bars: list, totalBytes: list.reduce((sum, b) => sum + b.sizeBytes, 0) };
    });
}
