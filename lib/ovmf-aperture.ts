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
