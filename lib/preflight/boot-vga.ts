/**
 * The boot VGA: the GPU the host firmware initialised as its display (`boot_vga` reads 1). Its ROM is shadowed
 * (copied and possibly modified by the firmware) and the host's console framebuffer sits in its BAR, so a guest that
 * gets it often sees a corrupt vBIOS and a card the host still draws on. Guides' fixes: make another GPU primary in
 * the firmware, or give the guest a clean dump of the card's vBIOS (libvirt `<rom file>`).
 */
import type { FleetHost } from "../fleet/schema";
import type { Finding } from "./finding";
import type { HostVm } from "./fleet-vms";
import type { DetectedGpu, HostInventory } from "./inventory";

const FIX =
  "make another GPU (or the iGPU) the primary display in the firmware setup, or give the VM a clean vBIOS dump of this " +
  'card: libvirt: { gpuRom: { file: "/var/lib/libvirt/vbios/<card>.rom" } } (dump it while the card is not the boot ' +
  "display, or take the vendor's file for this exact board), and keep the host console off it (video=efifb:off)";

/** A guest GPU that is the host's boot display; `holder` is the fleet VM that gets it, if any. */
export function guestBootVgaFindings(subject: string, name: string, gpu: DetectedGpu, holder?: HostVm): Finding[] {
  if (!gpu.bootVga) return [];
  const whose = holder ? `VM "${holder.name}" gets it` : "the fleet gives it to guests";
  if (holder?.gpuRomFile) {
    return [
      {
        severity: "info",
        code: "guest-gpu-boot-vga",
        subject,
        message: `${name} is the host's boot display (boot_vga 1); ${whose} with its vBIOS from ${holder.gpuRomFile}, so the shadowed ROM is not used`,
        fix: "keep the host console off the card (video=efifb:off), or make another GPU primary in the firmware setup",
      },
    ];
  }
  return [
    {
      severity: "warning",
      code: "guest-gpu-boot-vga",
      subject,
      message:
        `${name} is the host's boot display (boot_vga 1): the host firmware initialised it, shadowed its ROM and put the ` +
        `console on it, and ${whose}: the guest's driver may fail on the shadowed vBIOS or a card the host still uses`,
      fix: FIX,
    },
  ];
}

/** The declared `bootVga` against sysfs, where sysfs says (only VGA-class functions have the file). */
export function bootVgaDeclarationFindings(
  subject: string,
  declared: FleetHost["gpus"][number],
  gpu: DetectedGpu,
): Finding[] {
  const known = gpu.functions.find((f) => f.address === gpu.address)?.bootVga;
  if (declared.bootVga === undefined || known === undefined || declared.bootVga === known) return [];
  const file = `/sys/bus/pci/devices/${gpu.address}/boot_vga`;
  return [
    {
      severity: "warning",
      code: "gpu-boot-vga-mismatch",
      subject,
      message: `the fleet declares bootVga: ${declared.bootVga}, but ${file} reads ${known ? 1 : 0}`,
      fix: known
        ? "set bootVga: true on this GPU in the fleet file (the firmware boots on it now)"
        : "remove bootVga: true from this GPU in the fleet file (the firmware boots on another display now)",
    },
  ];
}

/** Without a fleet: a host whose only GPU is the boot display has no GPU to pass that the host does not use. */
export function onlyBootVgaFindings(inv: HostInventory): Finding[] {
  if (inv.gpus.length !== 1 || !inv.gpus[0].bootVga) return [];
  const gpu = inv.gpus[0];
  return [
    {
      severity: "warning",
      code: "guest-gpu-boot-vga",
      subject: `GPU ${gpu.address}`,
      message: `the host's only GPU is its boot display (boot_vga 1): passing it to a VM takes the host's console, and the guest gets a shadowed ROM`,
      fix: FIX,
    },
  ];
}
