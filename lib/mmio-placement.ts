/**
 * How much of the 64-bit window a VM's GPUs take once the guest firmware has placed them, not only what their BARs
 * add up to. Each passed GPU sits behind a PCIe root port of its own (libvirt on q35; Proxmox VE's pcie=1), whose
 * prefetchable window holds all of that GPU's BARs in one piece and is aligned to its largest BAR (a BAR is aligned to
 * its size). The firmware lays the windows out largest alignment first (edk2's PciBus: each at the next multiple of
 * its alignment), so the gaps count: three A100 80GB (128 GiB BAR1 + 48 MiB each) end at 640 GiB, beyond the 512 GB
 * their BAR sum rounds up to, and OVMF then leaves a GPU unassigned (measured: __tests__/lab/firmware.test.ts).
 * For one GPU, and for two or four equal ones, this is the BAR sum.
 */
import type { GpuModel } from "./gpu/model";

/** Where the last GPU's window ends, in MiB from the start of the window, with the firmware's alignment gaps. */
export function placedMib(models: readonly Pick<GpuModel, "barsMib">[]): number {
  const windows = models
    .map((m) => ({
      size: m.barsMib.reduce((sum, bar) => sum + bar, 0),
      align: Math.max(1, ...m.barsMib.map((bar) => nextPowerOfTwoMib(bar))),
    }))
    .sort((a, b) => b.align - a.align);
  let end = 0;
  for (const w of windows) end = Math.ceil(end / w.align) * w.align + w.size;
  return end;
}

function nextPowerOfTwoMib(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
