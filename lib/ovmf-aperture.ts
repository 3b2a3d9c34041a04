/**
 * OVMF's 64-bit PCI aperture: the firmware config item `opt/ovmf/X-PciMmio64Mb`, passed to QEMU as
 * `-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=<MiB>`. KVM guests (libvirt, Proxmox VE) get it when a GPU maps more
 * than 16 GB, sized from the same MMIO rule as vSphere's window (lib/mmio.ts). libvirt refuses the item as a
 * `<sysinfo type='fwcfg'>` entry ("That firmware name is reserved"), so it goes on QEMU's command line.
 */
import type { MmioRequirement } from "./mmio";

const ITEM = "opt/ovmf/X-PciMmio64Mb";
const VALUE = new RegExp(`^name=${ITEM.replace(/\//g, "\\/")},string=(\\d+)$`);

/** The QEMU arguments that size the aperture, none when the GPUs fit OVMF's default window. */
export function ovmfApertureArgs(mmio: Pick<MmioRequirement, "needs64BitMmio" | "sizeGb">): string[] {
  return mmio.needs64BitMmio ? ovmfApertureArgsOf(mmio.sizeGb) : [];
}

/** The QEMU arguments for an aperture of `sizeGb` GB. */
export function ovmfApertureArgsOf(sizeGb: number): string[] {
  return ["-fw_cfg", `name=${ITEM},string=${sizeGb * 1024}`];
}

/** The aperture in MiB that QEMU arguments set (one argument per item), or undefined when they set none. */
export function ovmfApertureMib(args: readonly string[]): number | undefined {
  for (const arg of args) {
    const m = VALUE.exec(arg);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Guest RAM below 4 GiB on q35 (QEMU's pc_q35_init): all of it up to 2.75 GiB, otherwise 2 GiB; the rest is above. */
function q35RamTopMib(memoryMib: number): number {
  const below = memoryMib >= 2816 ? 2048 : memoryMib;
  return 4096 + memoryMib - below;
}

/**
 * The physical address bits the guest CPU needs to reach OVMF's aperture of `sizeGb`. OVMF (edk2-stable202211, Debian
 * 12) starts it after the RAM above 4 GiB, aligned to its own size, and never checks its end against the CPU's width:
 * where it ends beyond 2^bits the firmware faults as soon as it touches a BAR there (the lab measured it: 512 GiB of
 * RAM and a 512 GB aperture on a 40-bit Intel CPU). OVMF uses the aperture where it distrusts the CPU's width (Intel,
 * 40 bits or fewer); elsewhere it sizes its window itself, unless the aperture is the larger. With host-passthrough the
 * guest has the host's width: `grep 'address sizes' /proc/cpuinfo` on the host.
 */
export function ovmfApertureMinPhysBits(memoryMib: number, sizeGb: number): number {
  const apertureMib = sizeGb * 1024;
  const endMib = Math.ceil(q35RamTopMib(memoryMib) / apertureMib) * apertureMib + apertureMib;
  return 20 + Math.ceil(Math.log2(endMib));
}
