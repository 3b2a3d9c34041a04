/**
 * PCI class codes, as sysfs `class` gives them (`0x030000`: base class 03, subclass 00, programming interface 00).
 * Preflight needs to know which devices are GPUs, which functions travel with them, and which devices may share an
 * IOMMU group with a passed GPU without harm (bridges).
 */

const NAMES: Record<string, string> = {
  "0000": "unclassified device",
  "0100": "SCSI controller",
  "0101": "IDE controller",
  "0104": "RAID controller",
  "0106": "SATA controller",
  "0107": "SAS controller",
  "0108": "NVMe controller",
  "0180": "storage controller",
  "0200": "Ethernet controller",
  "0207": "InfiniBand controller",
  "0280": "network controller",
  "0300": "VGA controller",
  "0302": "3D controller",
  "0380": "display controller",
  "0401": "audio device",
  "0403": "audio device",
  "0500": "RAM memory",
  "0580": "memory controller",
  "0600": "host bridge",
  "0601": "ISA bridge",
  "0604": "PCI bridge",
  "0609": "PCI bridge",
  "0700": "serial controller",
  "0780": "communication controller",
  "0806": "IOMMU",
  "0880": "system peripheral",
  "0c03": "USB controller",
  "0c05": "SMBus",
  "0c80": "serial bus controller",
  "1101": "signal processing controller",
  "1180": "signal processing controller",
  "1200": "processing accelerator",
};

/** Six hex digits, lower case, from sysfs `0x030000`; undefined if the text is not a class code. */
export function parseClass(text: string): string | undefined {
  const m = /^0x([0-9a-fA-F]{6})$/.exec(text.trim());
  return m ? m[1].toLowerCase() : undefined;
}

/** A name for people: `VGA controller`, `SATA controller`, or `class 0xffff00` when unknown. */
export function className(classCode: string | undefined): string {
  if (classCode === undefined) return "unknown class";
  return NAMES[classCode.slice(0, 4)] ?? `class 0x${classCode}`;
}

/** A display controller: VGA (0300), 3D (0302, data-center GPUs without outputs) or other (0380). */
export function isDisplay(classCode: string | undefined): boolean {
  return classCode?.startsWith("03") ?? false;
}

/**
 * Bridges do not stop a GPU from being passed alone: VFIO leaves them to the host (pcieport), so a root port in the
 * GPU's group is harmless. Host bridges (0600) and PCI bridges (0604, 0609 subtractive) count; ISA bridges do not,
 * since they carry the host's own devices.
 */
export function isBridge(classCode: string | undefined): boolean {
  const sub = classCode?.slice(0, 4);
  return sub === "0600" || sub === "0604" || sub === "0609";
}

/** The fleet file's function kinds (lib/gpu/model.ts `GpuFunction.kind`) by class. */
export function functionKind(classCode: string | undefined): "audio" | "usb" | "serial-bus" | "other" {
  const sub = classCode?.slice(0, 4);
  if (sub === "0403" || sub === "0401") return "audio";
  if (sub === "0c03") return "usb";
  if (sub === "0c80") return "serial-bus";
  return "other";
}
