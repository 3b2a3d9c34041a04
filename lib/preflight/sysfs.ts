/**
 * Reads what preflight needs from a Linux host's /proc and /sys, under a root directory: `/` for the live host, or a
 * copy of those files for tests and offline review. Only reads: nothing here opens a file for writing.
 *
 * A file that cannot be read or parsed costs one fact, not the report: it is recorded as a {@link ReadProblem} and its
 * field is left undefined. Only a root without /sys/bus/pci/devices is unusable as a whole ({@link HostReadError}).
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "fs";
import { basename, join } from "path";
import { parseClass } from "./pci-class";

/** The root cannot be read as a Linux host at all. */
export class HostReadError extends Error {}

/** One file preflight could not use, and why. */
export interface ReadProblem {
  readonly path: string;
  readonly message: string;
}

/** One memory BAR from sysfs `resource`. */
export interface Bar {
  /** BAR number 0-5. */
  readonly index: number;
  readonly sizeBytes: number;
  readonly prefetchable: boolean;
  readonly is64: boolean;
  /**
   * False when the firmware found no address window for the BAR: the kernel then shows start 0 and end size-1.
   * A large BAR left unassigned is the sign of "Above 4G decoding" being off in the BIOS.
   */
  readonly assigned: boolean;
}

/** A PCI function as sysfs describes it; undefined fields were absent or unreadable. */
export interface RawPciDevice {
  /** The directory name under /sys/bus/pci/devices, e.g. `0000:01:00.0`. */
  readonly address: string;
  /** Six hex digits, e.g. `030000`. */
  readonly classCode?: string;
  /** Four hex digits, e.g. `10de`. */
  readonly vendorId?: string;
  readonly deviceId?: string;
  /** Name of the bound driver (`nvidia`, `vfio-pci`), undefined when none is bound. */
  readonly driver?: string;
  /** Present only on VGA devices: whether the firmware used it as the boot display. */
  readonly bootVga?: boolean;
  /** Reset methods the kernel offers (`flr`, `bus`, `device_specific`); undefined when the file is absent. */
  readonly resetMethods?: readonly string[];
  /** Memory BARs; undefined when `resource` was unreadable or malformed. */
  readonly bars?: readonly Bar[];
  /** IOMMU group number from the device's `iommu_group` link. */
  readonly iommuGroup?: number;
}

export interface HostSnapshot {
  readonly root: string;
  readonly hostname?: string;
  /** `uname -r`, e.g. `6.8.0-45-generic`. */
  readonly kernelRelease?: string;
  readonly cpu: { readonly vendorId?: string; readonly modelName?: string; readonly flags: readonly string[] };
  readonly cmdline?: string;
  /** Entries of /sys/class/iommu (`dmar0` on Intel, `ivhd0` on AMD): one per active IOMMU unit. */
  readonly iommuUnits: readonly string[];
  /** /sys/kernel/iommu_groups: group number → member addresses. */
  readonly iommuGroups: readonly { readonly id: number; readonly devices: readonly string[] }[];
  readonly devices: readonly RawPciDevice[];
  /** Drivers registered on the PCI bus (/sys/bus/pci/drivers), e.g. `vfio-pci` once the module is loaded. */
  readonly pciDrivers: readonly string[];
  /** Driver name → the kernel module that provides it (`xhci_hcd` → `xhci_pci`); built-in drivers have none. */
  readonly driverModules: Readonly<Record<string, string>>;
  /** Kernel modules preflight looks for in /sys/module. */
  readonly modules: { readonly vendorReset: boolean };
  readonly problems: readonly ReadProblem[];
}

const IORESOURCE_IO = 0x100n;
const IORESOURCE_MEM = 0x200n;
const IORESOURCE_PREFETCH = 0x2000n;
const IORESOURCE_MEM_64 = 0x100000n;
/** Lines 0-5 are the BARs; line 6 is the expansion ROM; further lines are SR-IOV and bridge windows. */
const BAR_LINES = 6;

/**
 * Parses sysfs `resource`: one `start end flags` line (hex) per resource. Returns the assigned or unassigned memory
 * BARs; I/O BARs, the ROM and SR-IOV windows are left out because they do not count toward the MMIO window.
 * @throws Error naming the malformed line.
 */
export function parseResource(text: string): Bar[] {
  const bars: Bar[] = [];
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  lines.forEach((line, i) => {
    const m = /^\s*(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s*$/.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not "start end flags" in hex: "${line.trim().slice(0, 60)}"`);
    if (i >= BAR_LINES) return;
    const [start, end, flags] = [BigInt(m[1]), BigInt(m[2]), BigInt(m[3])];
    if ((flags & IORESOURCE_MEM) === 0n || (flags & IORESOURCE_IO) !== 0n || end === 0n) return;
    if (end < start) throw new Error(`line ${i + 1}: end ${m[2]} is below start ${m[1]}`);
    bars.push({
      index: i,
      sizeBytes: Number(end - start + 1n),
      prefetchable: (flags & IORESOURCE_PREFETCH) !== 0n,
      is64: (flags & IORESOURCE_MEM_64) !== 0n,
      assigned: start !== 0n,
    });
  });
  return bars;
}

/** Reads the host under `root`. @throws HostReadError when root is not a Linux root with sysfs. */
export function readHostSnapshot(root: string): HostSnapshot {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new HostReadError(`${root} is not a directory: give --root the directory that holds proc/ and sys/`);
  }
  const r = new RootReader(root);
  const pciDir = "sys/bus/pci/devices";
  if (!existsSync(r.abs(pciDir))) {
    throw new HostReadError(
      `${r.abs(pciDir)} does not exist: ${root} is not a Linux host with sysfs (preflight reads /proc and /sys of a KVM host)`,
    );
  }

  const cpuinfo = r.text("proc/cpuinfo");
  const devices = r.list(pciDir).map((address) => readDevice(r, address));
  const groups = r
    .list("sys/kernel/iommu_groups")
    .filter((id) => /^\d+$/.test(id))
    .map((id) => ({ id: Number(id), devices: r.list(`sys/kernel/iommu_groups/${id}/devices`) }))
    .sort((a, b) => a.id - b.id);

  const pciDrivers = r.list("sys/bus/pci/drivers");
  const driverModules: Record<string, string> = {};
  for (const d of pciDrivers) {
    const module = r.link(`sys/bus/pci/drivers/${d}/module`);
    if (module) driverModules[d] = module;
  }

  return {
    root,
    hostname: r.text("proc/sys/kernel/hostname", { optional: true })?.trim(),
    kernelRelease: r.text("proc/sys/kernel/osrelease", { optional: true })?.trim(),
    cpu: parseCpuinfo(cpuinfo ?? ""),
    cmdline: r.text("proc/cmdline")?.trim(),
    iommuUnits: r.list("sys/class/iommu"),
    iommuGroups: groups,
    devices,
    pciDrivers,
    driverModules,
    modules: { vendorReset: existsSync(r.abs("sys/module/vendor_reset")) },
    problems: r.problems,
  };
}

/** The first processor's vendor, model and flags (all processors of a host report the same). */
function parseCpuinfo(text: string): HostSnapshot["cpu"] {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(text)?.[1].trim();
  return { vendorId: field("vendor_id"), modelName: field("model name"), flags: (field("flags") ?? "").split(/\s+/) };
}

function readDevice(r: RootReader, address: string): RawPciDevice {
  const dir = `sys/bus/pci/devices/${address}`;
  const classText = r.text(`${dir}/class`);
  const group = r.link(`${dir}/iommu_group`);
  const bootVga = r.text(`${dir}/boot_vga`, { optional: true })?.trim();
  const resetMethod = r.text(`${dir}/reset_method`, { optional: true });
  const resource = r.text(`${dir}/resource`);
  return {
    address,
    classCode: r.parsed(`${dir}/class`, classText, parseClass, "a class code like 0x030000"),
    vendorId: r.parsed(`${dir}/vendor`, r.text(`${dir}/vendor`), parseId, "a 16-bit id like 0x10de"),
    deviceId: r.parsed(`${dir}/device`, r.text(`${dir}/device`), parseId, "a 16-bit id like 0x2204"),
    driver: r.link(`${dir}/driver`),
    bootVga: r.parsed(`${dir}/boot_vga`, bootVga, (t) => (t === "1" ? true : t === "0" ? false : undefined), "0 or 1"),
    resetMethods: resetMethod?.split(/\s+/).filter(Boolean),
    bars: resource === undefined ? undefined : r.tryParse(`${dir}/resource`, () => parseResource(resource)),
    iommuGroup: group !== undefined && /^\d+$/.test(group) ? Number(group) : undefined,
  };
}

function parseId(text: string): string | undefined {
  return /^0x([0-9a-fA-F]{4})$/.exec(text.trim())?.[1].toLowerCase();
}

/** File access under the root that records problems instead of throwing. */
class RootReader {
  public readonly problems: ReadProblem[] = [];

  constructor(private readonly root: string) {}

  public abs(rel: string): string {
    return join(this.root, rel);
  }

  /** File text; undefined if absent (a problem unless optional) or unreadable (always a problem). */
  public text(rel: string, opts: { optional?: boolean } = {}): string | undefined {
    try {
      // A copy made with tar is padded with NULs to the 4096 bytes sysfs reports as the size: drop them.
      return readFileSync(this.abs(rel), "utf8").replace(/\0+$/, "");
    } catch (e) {
      if (!(opts.optional && code(e) === "ENOENT")) this.fail(rel, e);
      return undefined;
    }
  }

  /** Basename of a symlink's target (`driver` → `vfio-pci`); undefined if there is no link. */
  public link(rel: string): string | undefined {
    try {
      return basename(readlinkSync(this.abs(rel)));
    } catch (e) {
      if (code(e) !== "ENOENT") this.fail(rel, e);
      return undefined;
    }
  }

  /** Sorted directory entries; empty if the directory is absent (no IOMMU groups is a finding, not an error). */
  public list(rel: string): string[] {
    try {
      return readdirSync(this.abs(rel)).sort();
    } catch (e) {
      if (code(e) !== "ENOENT") this.fail(rel, e);
      return [];
    }
  }

  /** Applies a parser to text that was read; a rejected value is recorded as malformed. */
  public parsed<T>(rel: string, text: string | undefined, parse: (t: string) => T | undefined, expected: string) {
    if (text === undefined) return undefined;
    const value = parse(text);
    if (value === undefined) {
      this.problems.push({
        path: this.abs(rel),
        message: `malformed: expected ${expected}, found "${text.trim().slice(0, 40)}"`,
      });
    }
    return value;
  }

  public tryParse<T>(rel: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (e) {
      this.problems.push({ path: this.abs(rel), message: `malformed: ${(e as Error).message}` });
      return undefined;
    }
  }

  private fail(rel: string, e: unknown): void {
    this.problems.push({ path: this.abs(rel), message: describeError(e) });
  }
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function describeError(e: unknown): string {
  switch (code(e)) {
    case "ENOENT":
      return "missing";
    case "EACCES":
    case "EPERM":
      return "permission denied: run preflight as root, or make the copy readable";
    case "EISDIR":
      return "unreadable: it is a directory, not a file";
    default:
      return `unreadable: ${(e as Error).message}`;
  }
}
