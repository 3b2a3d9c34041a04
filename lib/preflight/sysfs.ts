/**
 * Reads what preflight needs from a Linux host's /proc and /sys, under a root directory: `/` for the live host, or a
 * copy of those files for tests and offline review. Only reads: nothing here opens a file for writing.
 *
 * A file that cannot be read or parsed costs one fact, not the report: it is recorded as a {@link ReadProblem} and its
 * field is left undefined. Only a root without /sys/bus/pci/devices is unusable as a whole ({@link HostReadError}).
 *
 * The root may be a copy from anywhere, so nothing it holds is trusted: every read is bounded (a 2 GB or endless
 * file costs one fact, not the machine), links count only when they resolve where the kernel puts them, and every
 * text that leaves this module (values, names, paths in problems) goes through {@link sanitizeText}, so that
 * control characters reach neither the terminal nor the JSON.
 */
import { parseCpuList } from "../cpu-topology";
import { SWTPM_LOCALCA, SWTPM_USER } from "../host-prep/distro";
import { escapeUnsafe } from "../text";
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from "fs";
import { basename, dirname, join } from "path";
import { parseClass } from "./pci-class";
import { FileTooLargeError, NotRegularFileError, readBounded } from "./read-bounded";

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
  /** Name of the bound driver (`nvidia`, `vfio-pci`), undefined when none is bound or it is unknown. */
  readonly driver?: string;
  /** A `driver` link exists but does not resolve to a PCI driver: whether one is bound is unknown (see problems). */
  readonly driverUnreadable?: boolean;
  /** Present only on VGA devices: whether the firmware used it as the boot display. */
  readonly bootVga?: boolean;
  /** Reset methods the kernel offers (`flr`, `bus`, `device_specific`); undefined when the file is absent. */
  readonly resetMethods?: readonly string[];
  /** Memory BARs; undefined when `resource` was unreadable or malformed. */
  readonly bars?: readonly Bar[];
  /** IOMMU group number from the device's `iommu_group` link. */
  readonly iommuGroup?: number;
  /** The NUMA node of the device's PCIe root (`numa_node`); undefined where it reads -1 (unknown) or is absent. */
  readonly numaNode?: number;
}

/** Huge pages reserved, by page size (`nr_hugepages`); a size the kernel does not offer is absent. */
export interface HugePageCounts {
  readonly "2M"?: number;
  readonly "1G"?: number;
}

/** A NUMA node from /sys/devices/system/node/node<N>: its cpus and the huge pages reserved on it. */
export interface RawNumaNode {
  readonly id: number;
  readonly cpus: readonly number[];
  readonly hugepages: HugePageCounts;
}

/** What says whether interrupts are remapped, each undefined when its file is absent or unreadable. */
export interface InterruptRemappingFacts {
  /**
   * From /proc/interrupts: `remapped` when an interrupt chip's name starts with `IR-` (IR-IO-APIC, IR-PCI-MSI,
   * IR-PCI-MSIX-<address> on newer kernels), `not-remapped` when chips are listed but none does.
   */
  readonly procInterrupts?: "remapped" | "not-remapped";
  /** Intel: per DMAR unit, bit 3 (IR) of its extended capability register (`intel-iommu/ecap`). */
  readonly intelIrSupport?: readonly { readonly unit: string; readonly supported: boolean }[];
  /** `vfio_iommu_type1`'s `allow_unsafe_interrupts` parameter; undefined when the module is not loaded. */
  readonly unsafeInterruptsAllowed?: boolean;
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
  /** NUMA nodes in id order; empty when /sys/devices/system/node is absent (a kernel without NUMA). */
  readonly numaNodes: readonly RawNumaNode[];
  /** Each cpu's hardware threads (itself included), from `topology/thread_siblings_list`. */
  readonly threadSiblings: ReadonlyMap<number, readonly number[]>;
  /** /sys/devices/system/cpu/online. */
  readonly onlineCpus?: readonly number[];
  /** Huge pages reserved host-wide (/sys/kernel/mm/hugepages). */
  readonly hugepages: HugePageCounts;
  /** hugetlbfs mounts from /proc/mounts with their page size. */
  readonly hugetlbfsMounts: readonly { readonly path: string; readonly pageSizeKib: number }[];
  readonly interruptRemapping: InterruptRemappingFacts;
  /**
   * Programs libvirt runs for guests, by name: whether each is in /usr/bin, /usr/sbin, /usr/local/bin or /bin.
   * Undefined when the root has no /usr/bin (a copy of /proc and /sys alone).
   */
  readonly programs?: Readonly<Record<(typeof PROGRAMS)[number], boolean>>;
  /** swtpm's local CA, where swtpm_setup signs each new TPM's certificates; undefined when the root has none. */
  readonly swtpmLocalCa?: SwtpmLocalCa;
  readonly problems: readonly ReadProblem[];
}

/**
 * `/var/lib/swtpm-localca` and the user libvirt runs swtpm_setup as, who must be able to write its lock file and
 * serial number (swtpm_localca: "Need read/write rights on ... for user tss").
 */
export interface SwtpmLocalCa {
  /** `swtpm_user` of /etc/libvirt/qemu.conf; libvirt's default `tss` when unset or unreadable. */
  readonly user: string;
  /** That user's uid in /etc/passwd; undefined when it has none, and libvirt then runs swtpm as root. */
  readonly uid?: number;
  /** The directory (".") and its entries, with their owners. */
  readonly entries: readonly { readonly name: string; readonly uid: number }[];
}

/** swtpm runs a guest's software TPM; libvirt runs swtpm_setup to create its state on first start. */
export const PROGRAMS = ["swtpm", "swtpm_setup"] as const;
const PROGRAM_DIRS = ["usr/bin", "usr/sbin", "usr/local/bin", "bin"];

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

  const devices = r.list(pciDir).map((entry) => readDevice(r, entry));
  const groups = r
    .list("sys/kernel/iommu_groups")
    .filter((g) => /^\d+$/.test(g.name))
    .map((g) => ({ id: Number(g.name), devices: r.list(`${g.rel}/devices`).map((d) => d.name) }))
    .sort((a, b) => a.id - b.id);

  const drivers = r.list("sys/bus/pci/drivers");
  const driverModules: Record<string, string> = {};
  for (const d of drivers) {
    const module = r.linkInto(`${d.rel}/module`, "sys/module", "the driver's kernel module");
    if (typeof module === "string") driverModules[d.name] = module;
  }

  return {
    root,
    hostname: r.value("proc/sys/kernel/hostname", { optional: true }),
    kernelRelease: r.value("proc/sys/kernel/osrelease", { optional: true }),
    cpu: r.cpuinfo("proc/cpuinfo"),
    cmdline: r.value("proc/cmdline", { maxChars: MAX_CMDLINE_CHARS }),
    iommuUnits: r.list("sys/class/iommu").map((u) => u.name),
    iommuGroups: groups,
    devices,
    pciDrivers: drivers.map((d) => d.name),
    driverModules,
    modules: { vendorReset: existsSync(r.abs("sys/module/vendor_reset")) },
    ...readNumaFacts(r),
    hugepages: readHugePages(r, "sys/kernel/mm/hugepages"),
    hugetlbfsMounts: readHugetlbfsMounts(r),
    interruptRemapping: readInterruptRemapping(r),
    programs: existsSync(r.abs("usr/bin"))
      ? (Object.fromEntries(
          PROGRAMS.map((p) => [p, PROGRAM_DIRS.some((d) => existsSync(r.abs(`${d}/${p}`)))]),
        ) as Record<(typeof PROGRAMS)[number], boolean>)
      : undefined,
    swtpmLocalCa: readSwtpmLocalCa(r),
    problems: r.problems,
  };
}

function readSwtpmLocalCa(r: RootReader): SwtpmLocalCa | undefined {
  const owner = (rel: string) => {
    try {
      return lstatSync(r.abs(rel)).uid;
    } catch {
      return undefined;
    }
  };
  const dir = SWTPM_LOCALCA.slice(1);
  const dirUid = owner(dir);
  if (dirUid === undefined) return undefined;
  const entries = [{ name: ".", uid: dirUid }];
  for (const e of r.list(dir)) {
    const uid = owner(e.rel);
    if (uid !== undefined) entries.push({ name: e.name, uid });
  }
  // qemu.conf is root's alone (0600): preflight as another user gets libvirt's default, without a problem to report.
  const conf = r.quietText("etc/libvirt/qemu.conf") ?? "";
  const user = /^[ \t]*swtpm_user[ \t]*=[ \t]*"([^"\n]*)"/m.exec(conf)?.[1] ?? SWTPM_USER;
  const passwd = r.quietText("etc/passwd") ?? "";
  const line = passwd.split("\n").find((l) => l.split(":")[0] === user);
  const uid = line ? Number(line.split(":")[2]) : undefined;
  return {
    user: sanitizeText(user),
    uid: uid !== undefined && Number.isInteger(uid) && uid >= 0 ? uid : undefined,
    entries,
  };
}

/** Page sizes as sysfs names their directories. */
const HUGEPAGE_DIRS = { "2M": "hugepages-2048kB", "1G": "hugepages-1048576kB" } as const;

function readHugePages(r: RootReader, dir: string): HugePageCounts {
  const counts: { "2M"?: number; "1G"?: number } = {};
  for (const [size, name] of Object.entries(HUGEPAGE_DIRS) as [keyof HugePageCounts, string][]) {
    const rel = `${dir}/${name}/nr_hugepages`;
    const n = r.parsed(rel, r.value(rel, { optional: true }), parseCount, "a number of pages");
    if (n !== undefined) counts[size] = n;
  }
  return counts;
}

function readNumaFacts(r: RootReader): Pick<HostSnapshot, "numaNodes" | "threadSiblings" | "onlineCpus"> {
  const cpuList = (rel: string, optional = true) =>
    r.parsed(rel, r.value(rel, { optional }), (t) => cpuListOrUndefined(t), 'a cpu list like "0-3,8"');
  const numaNodes = r
    .list("sys/devices/system/node")
    .flatMap((e) => {
      const m = /^node(\d+)$/.exec(e.name);
      if (!m) return [];
      // A memory-only node (CXL, HBM) has an empty cpulist: it holds memory but runs no vCPU.
      const text = r.value(`${e.rel}/cpulist`);
      const cpus = text === "" ? [] : r.parsed(`${e.rel}/cpulist`, text, cpuListOrUndefined, 'a cpu list like "0-3,8"');
      return [{ id: Number(m[1]), cpus: cpus ?? [], hugepages: readHugePages(r, `${e.rel}/hugepages`) }];
    })
    .sort((a, b) => a.id - b.id);
  const threadSiblings = new Map<number, readonly number[]>();
  for (const e of r.list("sys/devices/system/cpu")) {
    const m = /^cpu(\d+)$/.exec(e.name);
    if (!m) continue;
    const siblings = cpuList(`${e.rel}/topology/thread_siblings_list`);
    if (siblings) threadSiblings.set(Number(m[1]), siblings);
  }
  return { numaNodes, threadSiblings, onlineCpus: cpuList("sys/devices/system/cpu/online") };
}

/**
 * hugetlbfs mounts: `/proc/mounts` lines `hugetlbfs <path> hugetlbfs <options> 0 0`. The kernel prints the page size
 * in K or M only (`pagesize=1024M` for 1 GiB pages: fs/hugetlbfs/inode.c, hugetlbfs_show_options).
 */
function readHugetlbfsMounts(r: RootReader): HostSnapshot["hugetlbfsMounts"] {
  const text = r.text("proc/mounts", { optional: true });
  if (text === undefined) return [];
  return text.split("\n").flatMap((line) => {
    const [, path, type, options] = line.split(" ");
    if (type !== "hugetlbfs" || !path || !options) return [];
    const m = /(?:^|,)pagesize=(\d+)([KMG])(?:,|$)/.exec(options);
    if (!m) return [];
    const pageSizeKib = Number(m[1]) * { K: 1, M: 1024, G: 1024 * 1024 }[m[2] as "K" | "M" | "G"];
    // /proc/mounts writes a space in a path as \040.
    return [{ path: sanitizeText(path.replace(/\\040/g, " ")), pageSizeKib }];
  });
}

/** Interrupt chips whose name starts with IR- sit behind the IOMMU's interrupt remapping (kernel/irq/msi.c). */
const REMAPPED_CHIP = /\sIR-[A-Z]/;
const PLAIN_CHIP = /\s(IO-APIC|PCI-MSI)/;
/** /proc/interrupts grows with cpus × interrupts: read until a remapped chip is seen, at most 8 MiB. */
const MAX_INTERRUPTS_BYTES = 8 * 1024 * 1024;

function readInterruptRemapping(r: RootReader): InterruptRemappingFacts {
  const intel = r.list("sys/class/iommu").flatMap((u) => {
    const rel = `${u.rel}/intel-iommu/ecap`;
    const ecap = r.parsed(rel, r.value(rel, { optional: true }), parseHex, "a hex register value");
    // ecap_ir_support(e) is ((e >> 3) & 0x1) (drivers/iommu/intel/iommu.h).
    return ecap === undefined ? [] : [{ unit: u.name, supported: (ecap >> 3n) % 2n === 1n }];
  });
  const param = "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts";
  const unsafe = r.parsed(param, r.value(param, { optional: true }), parseBool, "Y or N");
  const chips = r.scanLines("proc/interrupts", MAX_INTERRUPTS_BYTES, REMAPPED_CHIP, PLAIN_CHIP);
  return {
    procInterrupts: chips && (chips === "found" ? "remapped" : "not-remapped"),
    intelIrSupport: intel.length ? intel : undefined,
    unsafeInterruptsAllowed: unsafe,
  };
}

function parseCount(text: string): number | undefined {
  return /^\d{1,12}$/.test(text) ? Number(text) : undefined;
}

function parseHex(text: string): bigint | undefined {
  return /^(0x)?[0-9a-fA-F]{1,16}$/.test(text) ? BigInt(text.startsWith("0x") ? text : `0x${text}`) : undefined;
}

/** A bool module parameter reads Y or N (older kernels: 1 or 0). */
function parseBool(text: string): boolean | undefined {
  return /^[Y1]$/.test(text) ? true : /^[N0]$/.test(text) ? false : undefined;
}

function cpuListOrUndefined(text: string): number[] | undefined {
  const parsed = parseCpuList(text);
  return Array.isArray(parsed) ? parsed : undefined;
}

function readDevice(r: RootReader, entry: DirEntry): RawPciDevice {
  const dir = entry.rel;
  const classText = r.value(`${dir}/class`);
  const group = r.linkInto(`${dir}/iommu_group`, "sys/kernel/iommu_groups", "the IOMMU group");
  const driver = r.linkInto(`${dir}/driver`, "sys/bus/pci/drivers", "the bound driver");
  const bootVga = r.value(`${dir}/boot_vga`, { optional: true });
  const resetMethod = r.value(`${dir}/reset_method`, { optional: true });
  const resource = r.text(`${dir}/resource`);
  const numaNode = r.parsed(
    `${dir}/numa_node`,
    r.value(`${dir}/numa_node`, { optional: true }),
    parseNumaNode,
    "a node number or -1",
  );
  return {
    address: entry.name,
    classCode: r.parsed(`${dir}/class`, classText, parseClass, "a class code like 0x030000"),
    vendorId: r.parsed(`${dir}/vendor`, r.value(`${dir}/vendor`), parseId, "a 16-bit id like 0x10de"),
    deviceId: r.parsed(`${dir}/device`, r.value(`${dir}/device`), parseId, "a 16-bit id like 0x2204"),
    driver: typeof driver === "string" ? driver : undefined,
    ...(driver === UNRESOLVED ? { driverUnreadable: true } : {}),
    bootVga: r.parsed(`${dir}/boot_vga`, bootVga, (t) => (t === "1" ? true : t === "0" ? false : undefined), "0 or 1"),
    resetMethods: resetMethod?.split(/\s+/).filter(Boolean),
    bars: resource === undefined ? undefined : r.tryParse(`${dir}/resource`, () => parseResource(resource)),
    iommuGroup:
      typeof group === "string" ? r.parsed(`${dir}/iommu_group`, group, parseGroup, "a group number") : undefined,
    numaNode: numaNode === undefined || numaNode < 0 ? undefined : numaNode,
  };
}

/** `numa_node`: a node number, or -1 when the firmware does not say (single-node machines, many desktops). */
function parseNumaNode(text: string): number | undefined {
  return /^-?\d{1,4}$/.test(text) && Number(text) >= -1 ? Number(text) : undefined;
}

function parseGroup(name: string): number | undefined {
  return /^\d+$/.test(name) ? Number(name) : undefined;
}

function parseId(text: string): string | undefined {
  return /^0x([0-9a-fA-F]{4})$/.exec(text.trim())?.[1].toLowerCase();
}

/** sysfs and procfs values are a page (4 KiB) at most; anything larger is not one. */
export const MAX_FILE_BYTES = 64 * 1024;
/** cpuinfo grows with the CPUs (about 1.5 KiB each); its first processor's fields come in its first lines. */
export const MAX_CPUINFO_BYTES = 4 * 1024 * 1024;
/** Longest value shown, after escaping. */
export const MAX_VALUE_CHARS = 256;
/** The kernel's COMMAND_LINE_SIZE is 2048 on x86, 4096 on some architectures: keep all of a real one. */
const MAX_CMDLINE_CHARS = 4096;
const MAX_PROBLEM_CHARS = 1024;

/** Text made safe to print (see lib/text.ts), cut at `maxChars`. */
export function sanitizeText(text: string, maxChars = MAX_VALUE_CHARS): string {
  return escapeUnsafe(text, maxChars);
}

/** A directory entry: its name as shown, and its path under the root as it really is (for reading). */
interface DirEntry {
  readonly name: string;
  readonly rel: string;
}

/** A link that exists but does not lead where it should: its target is unknown, which is not "no link". */
const UNRESOLVED = Symbol("unresolved link");

const CPUINFO_FIELDS = ["vendor_id", "model name", "flags"] as const;

/** File access under the root that records problems instead of throwing. */
class RootReader {
  public readonly problems: ReadProblem[] = [];
  private readonly realDirs = new Map<string, string | undefined>();

  constructor(private readonly root: string) {}

  public abs(rel: string): string {
    return join(this.root, rel);
  }

  /**
   * Raw file text for parsers, bounded; undefined if absent (a problem unless optional) or unreadable (always a
   * problem). Not for showing: parsers quote what they reject through problems, which are sanitized.
   */
  public text(rel: string, opts: { optional?: boolean } = {}): string | undefined {
    try {
      // A copy made with tar is padded with NULs to the 4096 bytes sysfs reports as the size: drop them.
      return readBounded(this.abs(rel), MAX_FILE_BYTES, { regularOnly: true }).toString("utf8").replace(/\0+$/, "");
    } catch (e) {
      if (!(opts.optional && code(e) === "ENOENT")) this.fail(rel, e);
      return undefined;
    }
  }

  /** Raw text of a file that may be absent or root's alone: undefined then, and no problem recorded. */
  public quietText(rel: string): string | undefined {
    try {
      return readBounded(this.abs(rel), MAX_FILE_BYTES, { regularOnly: true }).toString("utf8");
    } catch {
      return undefined;
    }
  }

  /** A one-line value (hostname, class, reset_method), trimmed and sanitized: a newline inside shows as `\n`. */
  public value(rel: string, opts: { optional?: boolean; maxChars?: number } = {}): string | undefined {
    const text = this.text(rel, opts);
    return text === undefined ? undefined : sanitizeText(text.trim(), opts.maxChars);
  }

  /**
   * The first processor's vendor, model and flags (all processors of a host report the same). Read in chunks
   * until the three are found, up to {@link MAX_CPUINFO_BYTES}: the file grows with the CPUs, and a copy may be
   * anything.
   */
  public cpuinfo(rel: string): HostSnapshot["cpu"] {
    const found: Partial<Record<(typeof CPUINFO_FIELDS)[number], string>> = {};
    const complete = () => CPUINFO_FIELDS.every((f) => found[f] !== undefined);
    const scan = (lines: string[]) => {
      for (const line of lines) {
        const m = /^([^:]*?)[ \t]*:[ \t]*(.*?)[ \t\r]*$/.exec(line);
        const key = m?.[1] as (typeof CPUINFO_FIELDS)[number];
        if (m && CPUINFO_FIELDS.includes(key) && found[key] === undefined) found[key] = m[2];
      }
    };
    let pending = "";
    let bytes = 0;
    try {
      // latin1 maps each byte to one character, so a chunk boundary cannot split a UTF-8 character; a line cut
      // between two chunks waits in `pending`.
      readBounded(this.abs(rel), MAX_CPUINFO_BYTES, {
        regularOnly: true,
        stopAtLimit: true,
        onChunk: (chunk) => {
          bytes += chunk.length;
          const lines = (pending + chunk.toString("latin1")).split("\n");
          pending = lines.pop() ?? "";
          scan(lines);
          return complete();
        },
      });
      if (!complete()) scan([pending]);
      const missing = CPUINFO_FIELDS.filter((f) => found[f] === undefined);
      if (missing.length && bytes > MAX_CPUINFO_BYTES) {
        const names = missing.join(", ").replace(/, (?=[^,]*$)/, " or ");
        this.problem(
          rel,
          `no ${names} line in its first ${MAX_CPUINFO_BYTES / 2 ** 20} MiB: read no further ` +
            "(a real one has them in its first lines)",
        );
      }
    } catch (e) {
      this.fail(rel, e);
    }
    const clean = (v: string | undefined) =>
      v === undefined ? undefined : sanitizeText(Buffer.from(v, "latin1").toString("utf8"));
    return {
      vendorId: clean(found.vendor_id),
      modelName: clean(found["model name"]),
      flags: (found.flags ?? "")
        .split(/[ \t]+/)
        .filter(Boolean)
        .map((f) => clean(f) as string),
    };
  }

  /**
   * The name of the entry of `dirRel` that a link resolves to (`driver` → `vfio-pci`); undefined if there is no
   * link. A link that loops, dangles, is not a link, or resolves anywhere but directly under `dirRel` is recorded
   * as a problem and gives {@link UNRESOLVED}: its basename would be a made-up name (a looping `driver` link would
   * name the driver "driver").
   */
  public linkInto(rel: string, dirRel: string, what: string): string | typeof UNRESOLVED | undefined {
    const path = this.abs(rel);
    const unknown = (why: string): typeof UNRESOLVED => {
      this.problem(rel, `unreadable: ${why}; ${what} is unknown`);
      return UNRESOLVED;
    };
    let target: string;
    try {
      target = readlinkSync(path);
    } catch (e) {
      if (code(e) === "ENOENT") return undefined;
      if (code(e) === "EINVAL")
        return unknown("not a symbolic link (copy the tree keeping links, e.g. with tar or cp -a)");
      this.fail(rel, e);
      return UNRESOLVED;
    }
    const shown = `${basename(rel)} -> ${target}`;
    let resolved: string;
    try {
      resolved = realpathSync(path);
    } catch (e) {
      if (code(e) === "ELOOP") return unknown(`the link loops (${shown})`);
      if (code(e) === "ENOENT" || code(e) === "ENOTDIR") return unknown(`the link dangles (${shown})`);
      this.fail(rel, e);
      return UNRESOLVED;
    }
    const dir = this.realDir(dirRel);
    if (dir === undefined || dirname(resolved) !== dir) {
      return unknown(`the link points to ${resolved}, not into ${this.abs(dirRel)}/`);
    }
    return sanitizeText(basename(resolved));
  }

  /**
   * Reads a file that may be large line by line, up to `maxBytes`, until a line matches `found`: then "found"; else
   * "seen" when some line matches `seen`, else undefined. Absent: undefined, not a problem.
   */
  public scanLines(rel: string, maxBytes: number, found: RegExp, seen: RegExp): "found" | "seen" | undefined {
    let pending = "";
    let hit = false;
    let listed = false;
    const scan = (lines: string[]) => {
      for (const line of lines) {
        if (found.test(line)) hit = true;
        else if (seen.test(line)) listed = true;
        if (hit) return true;
      }
      return false;
    };
    try {
      readBounded(this.abs(rel), maxBytes, {
        regularOnly: true,
        stopAtLimit: true,
        onChunk: (chunk) => {
          const lines = (pending + chunk.toString("latin1")).split("\n");
          pending = lines.pop() ?? "";
          return scan(lines);
        },
      });
      if (!hit) scan([pending]);
    } catch (e) {
      if (code(e) !== "ENOENT") this.fail(rel, e);
      return undefined;
    }
    return hit ? "found" : listed ? "seen" : undefined;
  }

  /** Sorted directory entries; empty if the directory is absent (no IOMMU groups is a finding, not an error). */
  public list(rel: string): DirEntry[] {
    try {
      return readdirSync(this.abs(rel))
        .sort()
        .map((name) => ({ name: sanitizeText(name), rel: `${rel}/${name}` }));
    } catch (e) {
      if (code(e) !== "ENOENT") this.fail(rel, e);
      return [];
    }
  }

  /** Applies a parser to text that was read; a rejected value is recorded as malformed. */
  public parsed<T>(rel: string, text: string | undefined, parse: (t: string) => T | undefined, expected: string) {
    if (text === undefined) return undefined;
    const value = parse(text);
    if (value === undefined) this.problem(rel, `malformed: expected ${expected}, found "${text.trim().slice(0, 40)}"`);
    return value;
  }

  public tryParse<T>(rel: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (e) {
      this.problem(rel, `malformed: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Every problem passes here: its path holds names from the tree and its message quotes the file. */
  private problem(rel: string, message: string): void {
    this.problems.push({
      path: sanitizeText(this.abs(rel), MAX_PROBLEM_CHARS),
      message: sanitizeText(message, MAX_PROBLEM_CHARS),
    });
  }

  private fail(rel: string, e: unknown): void {
    this.problem(rel, describeError(e));
  }

  /** The real path of a directory of the root, or undefined if it does not exist (cached: asked once per device). */
  private realDir(rel: string): string | undefined {
    if (!this.realDirs.has(rel)) {
      let real: string | undefined;
      try {
        real = realpathSync(this.abs(rel));
      } catch {
        real = undefined;
      }
      this.realDirs.set(rel, real);
    }
    return this.realDirs.get(rel);
  }
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function describeError(e: unknown): string {
  if (e instanceof NotRegularFileError) {
    return "unreadable: not a regular file (a device, pipe or socket): a copy of /proc and /sys holds regular files";
  }
  if (e instanceof FileTooLargeError) {
    return `unreadable: larger than ${e.maxBytes / 1024} KiB: a sysfs or procfs value is a few bytes to a few KiB`;
  }
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
