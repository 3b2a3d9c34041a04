/**
 * What a running lab domain shows of the guest settings the product renders by guest OS and NUMA placement (issue 13),
 * read from libvirt, QEMU and the kernel while the firmware waits in its boot manager: the TPM device and its swtpm,
 * secure boot refusing the unsigned EFI shell, the serial console's pty, no balloon, the hard memory limit in the
 * memory cgroup, numatune and CPU sets, the Hyper-V properties of QEMU's CPU, the clock on QEMU's command line, the
 * guest's NUMA nodes and threads per core. `expectedGuest` says what each should be from the rendered XML, so one
 * comparison covers every booted domain, and a domain rendered without a setting is the control for it.
 */
import { existsSync, readFileSync, readdirSync } from "fs";
import { parseXml, select } from "../libvirt-xml-parse";
import { LabDomain, virsh } from "./firmware-lab";

export interface GuestFacts {
  /** What the firmware did with the EFI shell (Boot0001, unsigned): refused by secure boot, or started. */
  readonly shell: "refused: Security Violation" | "started" | "neither";
  /** HMP `info tpm`: the model and backend of each TPM. */
  readonly tpm: readonly string[];
  /** swtpm processes serving this domain, TPM 2.0 (`--tpm2`). */
  readonly swtpm: number;
  /** `virsh ttyconsole`: the pty of the serial console, or the error. */
  readonly ttyconsole: string;
  /** HMP `info balloon`. */
  readonly balloon: string;
  /** `virsh memtune`'s hard_limit (KiB or "unlimited") and the QEMU process's memory cgroup limit (bytes). */
  readonly hardLimit: string;
  readonly cgroupLimitBytes?: string;
  /** `virsh numatune`. */
  readonly numatune: { mode?: string; nodeset?: string };
  /** `virsh emulatorpin`'s affinity. */
  readonly emulatorpin?: string;
  /** The clock options on QEMU's command line (`-rtc`, `-no-hpet`, `-global kvm-pit...`). */
  readonly clock: readonly string[];
  /** Each `hv-*` property of QEMU's first vCPU that the rendered domain asks for, as QEMU holds it. */
  readonly hyperv: Record<string, unknown>;
  /** HMP `info numa`: guest nodes with their CPUs and MiB. */
  readonly numaNodes: readonly { cpus: string; mib: number }[];
  /** Threads per core of the guest (query-hotpluggable-cpus). */
  readonly threads: number;
  /** The drivers of QEMU's `-device` arguments (disk bus, NIC model). */
  readonly devices: readonly string[];
}

const hmp = (name: string, command: string) => virsh("qemu-monitor-command", name, "--hmp", command).stdout;
const qmp = (name: string, execute: string, args?: object) => {
  const run = virsh("qemu-monitor-command", name, JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }));
  if (run.status !== 0) throw new Error(`${execute} on ${name} failed: ${run.stderr}`);
  return JSON.parse(run.stdout).return;
};

/** libvirt's Hyper-V element names → QEMU's CPU properties (libvirt's qemu_command.c). */
const HV_PROPERTY: Record<string, string> = {
  relaxed: "hv-relaxed",
  vapic: "hv-vapic",
  spinlocks: "hv-spinlocks",
  vpindex: "hv-vpindex",
  runtime: "hv-runtime",
  synic: "hv-synic",
  stimer: "hv-stimer",
  direct: "hv-stimer-direct",
  reset: "hv-reset",
  vendor_id: "hv-vendor-id",
  frequencies: "hv-frequencies",
  tlbflush: "hv-tlbflush",
  ipi: "hv-ipi",
};

/** QEMU's on/off Hyper-V properties: off unless the domain asks for them. */
const HV_FLAGS = [...Object.values(HV_PROPERTY).filter((p) => p !== "hv-spinlocks" && p !== "hv-vendor-id"), "hv-time"];

/** The lab domain's Hyper-V settings as QEMU properties and the values QEMU should hold (every flag, off or on). */
function hypervWanted(xml: string): Record<string, unknown> {
  const d = parseXml(xml);
  const out: Record<string, unknown> = Object.fromEntries(HV_FLAGS.map((p) => [p, false]));
  for (const f of select(d, "features/hyperv").flatMap((h) => h.children)) {
    if (f.attrs.state !== "on") continue;
    out[HV_PROPERTY[f.name] ?? `unknown ${f.name}`] =
      f.name === "spinlocks" ? Number(f.attrs.retries) : f.name === "vendor_id" ? f.attrs.value : true;
    for (const sub of f.children.filter((c) => c.attrs.state === "on")) out[HV_PROPERTY[sub.name]] = true;
  }
  if (select(d, "clock/timer").some((t) => t.attrs.name === "hypervclock" && t.attrs.present === "yes")) {
    out["hv-time"] = true;
  }
  return out;
}

const pidOf = (name: string) => Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());

/** The memory cgroup limit of a process (cgroup v1 memory.limit_in_bytes, v2 memory.max). */
function cgroupLimit(pid: number): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => /^\d+:memory:/.test(l))?.split(":")[2];
  if (v1 !== undefined && existsSync(`/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes`)) {
    return readFileSync(`/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes`, "utf8").trim();
  }
  const v2 = lines.find((l) => l.startsWith("0::"))?.slice(3);
  if (v2 !== undefined && existsSync(`/sys/fs/cgroup${v2}/memory.max`)) {
    return readFileSync(`/sys/fs/cgroup${v2}/memory.max`, "utf8").trim();
  }
  return undefined;
}

/** swtpm processes whose control socket is this domain's. */
function swtpmFor(name: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (args[0]?.endsWith("swtpm") && args.some((a) => a.includes(`-${name}-swtpm.sock`))) out.push(args.join(" "));
  }
  return out;
}

/** Reads the guest settings from the running domain; waits (up to `waitS`) for the firmware's verdict on the EFI shell. */
export async function probeGuest(domain: LabDomain, serial: string, waitS = 90): Promise<GuestFacts> {
  const { name } = domain;
  const deadline = Date.now() + waitS * 1000;
  let console = "";
  while (Date.now() < deadline) {
    console = existsSync(serial) ? readFileSync(serial, "utf8") : "";
    if (/Security Violation|UEFI Interactive Shell|No bootable option/.test(console)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const pid = pidOf(name);
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const cpuPath = qmp(name, "query-cpus-fast")[0]["qom-path"] as string;
  const hyperv: Record<string, unknown> = {};
  for (const prop of Object.keys(hypervWanted(domain.xml))) {
    hyperv[prop] = qmp(name, "qom-get", { path: cpuPath, property: prop });
  }
  const field = (text: string, key: string) => new RegExp(`^${key}\\s*:\\s*(.*)$`, "m").exec(text)?.[1]?.trim();
  const numatune = virsh("numatune", name).stdout;
  const tty = virsh("ttyconsole", name);
  const cpus = qmp(name, "query-hotpluggable-cpus") as { props: { "thread-id"?: number } }[];
  return {
    shell: /Security Violation/.test(console)
      ? "refused: Security Violation"
      : /UEFI Interactive Shell/.test(console)
        ? "started"
        : "neither",
    tpm: [...hmp(name, "info tpm").matchAll(/^\s*(\w+): model=(\S+)\s*\n\s*\\ [^:]*: type=(\w+)/gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    ),
    swtpm: swtpmFor(name).filter((c) => c.includes("--tpm2")).length,
    ttyconsole: tty.status === 0 ? tty.stdout.trim() : tty.stderr.trim(),
    balloon: hmp(name, "info balloon").trim(),
    hardLimit: field(virsh("memtune", name).stdout, "hard_limit") ?? "",
    cgroupLimitBytes: cgroupLimit(pid),
    numatune: { mode: field(numatune, "numa_mode"), nodeset: field(numatune, "numa_nodeset") },
    // `virsh -q emulatorpin` prints the affinity alone ("*: 0-1" without -q).
    emulatorpin: virsh("emulatorpin", name)
      .stdout.trim()
      .split("\n")
      .pop()
      ?.replace(/^\*:\s*/, ""),
    clock: args.flatMap((a, i) =>
      a === "-rtc" || (a === "-global" && args[i + 1]?.includes("pit"))
        ? [`${a} ${args[i + 1]}`]
        : a === "-no-hpet"
          ? [a]
          : [],
    ),
    hyperv,
    numaNodes: [...hmp(name, "info numa").matchAll(/node (\d+) cpus: ([^\n]*)\n\s*node \1 size: (\d+) MB/g)].map(
      (m) => ({
        cpus: m[2].trim(),
        mib: Number(m[3]),
      }),
    ),
    threads: Math.max(...cpus.map((c) => c.props["thread-id"] ?? 0)) + 1,
    devices: args.flatMap((a, i) => {
      if (args[i - 1] !== "-device") return [];
      return [a.startsWith("{") ? (JSON.parse(a) as { driver: string }).driver : a.split(",")[0]];
    }),
  };
}

/** What the running domain should show, from the lab domain's XML (the rendered one with the printed substitutions). */
export function expectedGuest(domain: LabDomain): Partial<GuestFacts> {
  const d = parseXml(domain.xml);
  const attr = (path: string, key: string) => select(d, path)[0]?.attrs[key];
  const secure = attr("os/loader", "secure") === "yes";
  const tpm = select(d, "devices/tpm");
  const hard = domain.liveHardLimitKib ?? kibOf(select(d, "memtune/hard_limit")[0]);
  const timers = new Map(select(d, "clock/timer").map((t) => [t.attrs.name, t.attrs]));
  const cells = select(d, "cpu/numa/cell");
  return {
    shell: secure ? "refused: Security Violation" : "started",
    tpm: tpm.map((t, i) => `tpm${i} ${t.attrs.model} ${select(t, "backend")[0]?.attrs.type}`),
    swtpm: tpm.filter((t) => select(t, "backend")[0]?.attrs.version === "2.0").length,
    ttyconsole: expect.stringMatching(/^\/dev\/pts\/\d+$/) as unknown as string,
    balloon:
      attr("devices/memballoon", "model") === "none"
        ? "Error: No balloon device has been activated"
        : expect.anything(),
    hardLimit: hard === undefined ? "unlimited" : String(hard),
    ...(hard !== undefined ? { cgroupLimitBytes: String(hard * 1024) } : {}),
    numatune: select(d, "numatune/memory").length
      ? { mode: attr("numatune/memory", "mode"), nodeset: attr("numatune/memory", "nodeset") }
      : expect.anything(),
    ...(select(d, "cputune/emulatorpin").length ? { emulatorpin: attr("cputune/emulatorpin", "cpuset") } : {}),
    clock: [
      `-rtc base=${select(d, "clock")[0]?.attrs.offset}${timers.get("rtc")?.tickpolicy === "catchup" ? ",driftfix=slew" : ""}`,
      ...(timers.get("pit")?.tickpolicy === "delay" ? ["-global kvm-pit.lost_tick_policy=delay"] : []),
      ...(timers.get("hpet")?.present === "no" ? ["-no-hpet"] : []),
    ],
    hyperv: hypervWanted(domain.xml),
    numaNodes: cells.map((c) => ({ cpus: cpuListWords(c.attrs.cpus), mib: kibOf(c, c.attrs.memory)! / 1024 })),
    threads: Number(attr("cpu/topology", "threads") ?? 1),
  };
}

/** The boot disk's QEMU driver and the NIC's, from the lab domain's XML (libvirt's mapping of bus and model). */
export function expectedDevices(domain: LabDomain): string[] {
  const d = parseXml(domain.xml);
  const disk = select(d, "devices/disk").find((k) => k.attrs.device === "disk");
  const bus = disk && select(disk, "target")[0]?.attrs.bus;
  const nic = select(d, "devices/interface/model")[0]?.attrs.type;
  return [
    bus === "virtio" ? "virtio-blk-pci" : bus === "sata" ? "ide-hd" : `disk bus ${bus}`,
    nic === "virtio" ? "virtio-net-pci" : `${nic}`,
  ];
}

function kibOf(e: { attrs: Record<string, string>; text?: string } | undefined, value = e?.text): number | undefined {
  if (!e || value === undefined) return undefined;
  const unit = e.attrs.unit ?? "KiB";
  return Number(value) * ({ KiB: 1, MiB: 1024, GiB: 1024 ** 2 } as Record<string, number>)[unit];
}

/** "0-3" → "0 1 2 3", as HMP's `info numa` lists a node's CPUs. */
function cpuListWords(list: string): string {
  return list
    .split(",")
    .flatMap((part) => {
      const [a, b] = part.split("-").map(Number);
      return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
    })
    .join(" ");
}
