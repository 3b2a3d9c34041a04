/**
 * The firmware tier of the passthrough lab (issue 12): a domain XML the product rendered is booted in real QEMU + OVMF
 * through libvirtd, with each passed GPU stood in for by emulated devices that reproduce its BAR sizes, and the BAR
 * addresses the firmware assigned are read back from QEMU (`info pci`).
 *
 * What the lab cannot have is substituted, and only that (each substitution is listed in {@link LabDomain.substituted}):
 * - `type="kvm"` → `type="qemu"` (TCG): KVM does not boot guests on these machines (real-software.md).
 * - `host-passthrough` CPU → `qemu64` with the host's vendor, 1 GiB pages and phys-bits (`maxphysaddr emulate`): the
 *   lab models the host CPU, whose vendor and address width are what OVMF reads (CPUID 0x80000000/0x80000008).
 * - each GPU's PCI hostdev → one `pci-testdev` function per BAR in one slot behind a PCIe root port of its own (where
 *   libvirt puts a hostdev on q35), each with `membar` = the BAR's size: a 64-bit prefetchable BAR with no memory
 *   behind it, so 4 × 128 GiB costs nothing. The GPU's small BAR0 (32-bit non-prefetchable on the card) becomes 64-bit
 *   prefetchable too: more in the 64-bit window than the card puts there, never less. Other functions (HDMI audio)
 *   are left out: the catalog has no BAR sizes for them, and they map kilobytes below 4 GiB.
 * - USB hostdevs are dropped (no such devices here; they have no PCI BARs).
 * - the disks' pool volumes → an empty raw file (boot disk) and an empty tray (cloud-init CD-ROM), on the same buses;
 *   the network → user-mode networking, same virtio model: the devices and their BARs stay, their backends change.
 * - memory: 1 GiB huge pages and `<locked/>` → a shared memfd backend. There is no 1G hugetlbfs here, and locking
 *   would populate the guest RAM; the size is kept, because OVMF starts its 64-bit window above the RAM above 4 GiB.
 * - CPU sets (vCPU pins, `<vcpu cpuset>`, `emulatorpin`) naming CPUs this machine lacks → all of its CPUs; numatune
 *   nodesets naming nodes it lacks → its first node (a one-node machine: 0). libvirt and the kernel then apply them.
 * - a secure-boot (SMM) domain without guest NUMA cells → 2 vCPUs, threads per core kept: under TCG each SMM entry
 *   stops every vCPU (8 vCPUs: 81–90 s to the boot manager; 2: 13 s).
 * - the memtune hard limit → set on the running domain (`virsh memtune --live`) where this container may not raise
 *   RLIMIT_MEMLOCK, which libvirt sets to the hard limit at start (no CAP_SYS_RESOURCE; the tests show the refusal).
 * - Hyper-V `vpindex` → dropped: QEMU 7.2 under TCG refuses it; the rest of the set is kept (the tests show both).
 * - `ioapic driver="kvm"` → `qemu` (TCG).
 * - the NVRAM file gets the lab domain's name (never a real VM's path); the rendered serial console (a pty) gets a
 *   log file (a console is added where none is rendered) to see when the firmware has finished: OVMF's boot manager
 *   prints `BdsDxe:` once PCI is enumerated.
 * Everything else (loader, NVRAM template, machine, memory size, the `qemu:commandline` aperture, the TPM and its
 * swtpm, the clock and timers, the balloon, the guest topology and NUMA cells) is booted as rendered.
 */
import { spawnSync } from "child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parseCpuList } from "../../lib/cpu-topology";
import { parseXml, select } from "../libvirt-xml-parse";

export const virsh = (...args: string[]) =>
  spawnSync("virsh", ["-q", "-c", LAB_URI, ...args], { encoding: "utf8", timeout: 60_000 });
export const LAB_URI = process.env.LIBVIRT_TEST_URI ?? "qemu:///system";

/** The CPU of the KVM host the domain would run on, as OVMF sees it through host-passthrough. */
export interface LabHostCpu {
  readonly vendor: "intel" | "amd";
  /** CPUID 0x80000008 EAX[7:0]: 39 on many Intel desktop CPUs, 46 on Xeon Scalable, 48 on AMD EPYC/Ryzen. */
  readonly physBits: number;
}

/** A passed GPU as the lab reproduces it: its function-0 BAR sizes from the catalog. */
export interface LabGpu {
  readonly label: string;
  readonly model: string;
  readonly barsMib: readonly number[];
}

export interface LabDomain {
  /** The libvirt name of the lab domain. */
  readonly name: string;
  readonly xml: string;
  /** Stand-in device ids, by GPU, with the BAR size each reproduces (bytes). */
  readonly standIns: readonly { readonly id: string; readonly gpu: string; readonly bytes: number }[];
  /** What was replaced, and why, in words for the test's output. */
  readonly substituted: readonly string[];
  /** The rendered memtune hard limit, set on the running domain where it cannot be set at start (KiB). */
  readonly liveHardLimitKib?: number;
}

const MIB = 1024 * 1024;
const VENDOR_ID = { intel: "GenuineIntel", amd: "AuthenticAMD" } as const;

/** `text` with `pattern` replaced; throws when the rendering no longer has it, so a lab never boots the wrong thing. */
function replaceOnce(text: string, pattern: RegExp, by: string | ((...m: string[]) => string), what: string): string {
  if (!pattern.test(text)) throw new Error(`lab: the rendered domain has no ${what} (${pattern}) to substitute`);
  return text.replace(pattern, by as string);
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** The rendered domain with what the lab cannot have substituted (see the file's comment), GPUs not yet stood in for. */
export function labBase(
  rendered: string,
  opts: { readonly name: string; readonly cpu: LabHostCpu; readonly dir: string },
): { xml: string; substituted: string[]; liveHardLimitKib?: number } {
  const { name, cpu, dir } = opts;
  const substituted: string[] = [];
  let xml = rendered;

  xml = replaceOnce(xml, /<domain type="kvm"/, '<domain type="qemu"', "KVM domain type");
  substituted.push("type kvm → qemu (TCG: KVM does not boot guests on these machines)");
  xml = replaceOnce(xml, /<name>[^<]*<\/name>/, `<name>${name}</name>`, "name");

  if (/<hugepages>|<locked\/>/.test(xml)) substituted.push("huge pages / locked memory → shared memfd (sparse)");
  xml = replaceOnce(
    xml,
    /<memoryBacking>[\s\S]*?<\/memoryBacking>/,
    '<memoryBacking>\n    <source type="memfd"/>\n    <access mode="shared"/>\n  </memoryBacking>',
    "memoryBacking",
  );
  xml = onLabCpusAndNodes(xml, substituted);
  xml = withFewerSmmVcpus(xml, substituted);
  const hardLimit = /\s*<memtune>\s*<hard_limit unit="(\w+)">(\d+)<\/hard_limit>\s*<\/memtune>/.exec(xml);
  let liveHardLimitKib: number | undefined;
  if (hardLimit && !MAY_RAISE_MEMLOCK) {
    liveHardLimitKib = Number(hardLimit[2]) * (hardLimit[1] === "MiB" ? 1024 : hardLimit[1] === "GiB" ? 1024 ** 2 : 1);
    xml = xml.replace(hardLimit[0], "");
    substituted.push(
      `memtune hard_limit ${hardLimit[2]} ${hardLimit[1]} → set on the running domain (virsh memtune --live): at start libvirt sets RLIMIT_MEMLOCK to the hard limit, which this container may not raise (no CAP_SYS_RESOURCE: "${MEMLOCK_REFUSED}")`,
    );
  }
  if (xml.includes('<vpindex state="on"/>')) {
    xml = xml.replace(/\s*<vpindex state="on"\/>/, "");
    substituted.push(
      `Hyper-V vpindex dropped: QEMU 7.2 under TCG refuses it ("${VPINDEX_REFUSED}"); the rest of the set is kept`,
    );
  }

  // The host's CPU as OVMF reads it: vendor, address width, 1 GiB pages (every such host has them; without them
  // OVMF 2022.11 caps its address space at 40 bits).
  const maxPhys = `<maxphysaddr mode="emulate" bits="${cpu.physBits}"/>`;
  xml = replaceOnce(
    xml,
    /<cpu mode="host-passthrough" check="none">([\s\S]*?)\s*<\/cpu>/,
    (_, inner: string) => {
      const body = inner.includes("<maxphysaddr")
        ? inner.replace(/<maxphysaddr[^>]*\/>/, maxPhys)
        : `${inner}\n    ${maxPhys}`;
      return (
        `<cpu mode="custom" match="exact" check="none">\n    <model fallback="forbid" vendor_id="${VENDOR_ID[cpu.vendor]}">qemu64</model>` +
        `\n    <feature policy="require" name="pdpe1gb"/>${body}\n  </cpu>`
      );
    },
    "host-passthrough CPU",
  );
  substituted.push(
    `host-passthrough CPU → qemu64, vendor ${VENDOR_ID[cpu.vendor]}, pdpe1gb, phys-bits ${cpu.physBits}`,
  );
  if (xml.includes('<ioapic driver="kvm"/>')) {
    xml = xml.replace('<ioapic driver="kvm"/>', '<ioapic driver="qemu"/>');
    substituted.push("ioapic driver kvm → qemu (TCG)");
  }

  // NVRAM named for the lab domain: never a real VM's file.
  xml = xml.replace(/(<nvram[^>]*>)[^<]*(<\/nvram>)/, `$1${join(dir, `${name}_VARS.fd`)}$2`);

  const disk = join(dir, `${name}-boot.raw`);
  writeFileSync(disk, Buffer.alloc(0));
  chmodSync(disk, 0o666);
  xml = xml.replace(
    /<disk type="volume" device="disk">([\s\S]*?)<source pool="[^"]*" volume="[^"]*"\/>/,
    `<disk type="file" device="disk">$1<source file="${disk}"/>`,
  );
  xml = xml.replace(
    /<disk type="volume" device="cdrom">([\s\S]*?)\s*<source pool="[^"]*" volume="[^"]*"\/>/,
    '<disk type="file" device="cdrom">$1',
  );
  xml = xml.replace(/<driver name="qemu" type="qcow2"\/>/, '<driver name="qemu" type="raw"/>');
  xml = xml.replace(/<interface type="network">\s*<source network="[^"]*"\/>/g, '<interface type="user">');
  substituted.push(
    "pool volumes → empty raw disk and empty CD-ROM tray; network → user-mode (same devices, same buses)",
  );

  const hostdevs = xml.match(/<hostdev [\s\S]*?<\/hostdev>/g) ?? [];
  const pci = hostdevs.filter((h) => h.includes('type="pci"')).length;
  xml = xml.replace(/\s*<hostdev [\s\S]*?<\/hostdev>/g, "");
  if (pci) substituted.push(`${pci} PCI hostdev(s) → pci-testdev stand-ins of function 0's BARs, one membar per BAR`);
  if (hostdevs.length > pci) substituted.push(`${hostdevs.length - pci} USB hostdev(s) dropped (no such device here)`);

  // The rendered serial console stays a pty (`virsh ttyconsole`); libvirt's virtlogd copies what it prints to a file.
  const log = `<log file="${join(dir, `${name}.serial`)}" append="off"/>`;
  if (/<serial type="pty">/.test(xml)) xml = xml.replace(/<serial type="pty">/, `<serial type="pty">\n      ${log}`);
  else {
    xml = replaceOnce(
      xml,
      /\s*<\/devices>/,
      `\n    <serial type="pty">\n      ${log}\n      <target port="0"/>\n    </serial>\n  </devices>`,
      "devices",
    );
    substituted.push("a serial console added (pty, logged to a file) to see when the firmware has finished");
  }
  if (!xml.includes("xmlns:qemu=")) {
    xml = xml.replace(
      /<domain type="qemu"/,
      '<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"',
    );
  }
  return { xml, substituted, liveHardLimitKib };
}

/** QEMU 7.2's refusal of Hyper-V's VP index under TCG (measured: the rest of the Windows set starts). */
export const VPINDEX_REFUSED = "kernel doesn't allow setting HyperV VP_INDEX";
/** libvirt's refusal to start a domain with a hard limit above the RLIMIT_MEMLOCK this process may set. */
export const MEMLOCK_REFUSED = "cannot limit locked memory of process";
/** CAP_SYS_RESOURCE (bit 24) in this process's effective set: without it no process here may raise RLIMIT_MEMLOCK. */
export const MAY_RAISE_MEMLOCK = (() => {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return eff !== undefined && (BigInt(`0x${eff}`) & (1n << 24n)) !== 0n;
})();

/** This machine's CPUs and NUMA nodes, which the lab domains' pins and memory nodes are moved to. */
export const LAB_CPUS = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
export const LAB_NODES = (() => {
  const nodes = parseCpuList(readFileSync("/sys/devices/system/node/online", "utf8"));
  return Array.isArray(nodes) ? nodes : [0];
})();

/**
 * vCPU pins, emulator and vCPU CPU sets on CPUs this machine lacks → all of its CPUs; memory nodes it lacks → its
 * first node. What libvirt and the kernel accept is then checked on the running domain (virsh numatune/emulatorpin).
 */
function onLabCpusAndNodes(rendered: string, substituted: string[]): string {
  const labCpus = parseCpuList(LAB_CPUS) as number[];
  const moved = new Set<string>();
  let xml = rendered.replace(/(<(?:vcpupin|emulatorpin|vcpu)\b[^>]*\bcpuset=")([^"]*)(")/g, (all, a, set, b) => {
    const cpus = parseCpuList(set);
    if (Array.isArray(cpus) && cpus.every((c) => labCpus.includes(c))) return all;
    moved.add(set);
    return `${a}${LAB_CPUS}${b}`;
  });
  if (moved.size) substituted.push(`CPU sets ${[...moved].join(", ")} → ${LAB_CPUS} (this machine's CPUs)`);
  const movedNodes = new Set<string>();
  xml = xml.replace(/(<(?:memory|memnode)\b[^>]*\bnodeset=")([^"]*)(")/g, (all, a, set, b) => {
    const nodes = parseCpuList(set);
    if (Array.isArray(nodes) && nodes.every((n) => LAB_NODES.includes(n))) return all;
    movedNodes.add(set);
    return `${a}${LAB_NODES[0]}${b}`;
  });
  if (movedNodes.size) {
    substituted.push(
      `numatune nodeset ${[...movedNodes].join(", ")} → ${LAB_NODES[0]} (this machine has NUMA node${LAB_NODES.length > 1 ? "s" : ""} ${LAB_NODES.join(", ")} only)`,
    );
  }
  return xml;
}

/**
 * A secure-boot domain (SMM) without guest NUMA cells gets 2 vCPUs, its threads per core kept: under TCG every SMM
 * entry (secure boot's variable writes) stops all vCPUs, and ws-gaming's 8 take 81–90 s to the boot manager, 2 take
 * 13 s (measured on 2 cores). The firmware's PCI placement does not depend on the vCPU count.
 */
function withFewerSmmVcpus(rendered: string, substituted: string[]): string {
  const vcpu = /(<vcpu\b[^>]*>)(\d+)(<\/vcpu>)/.exec(rendered);
  if (!rendered.includes('<smm state="on"/>') || rendered.includes("<numa>") || !vcpu || Number(vcpu[2]) <= 2) {
    return rendered;
  }
  const threads = Number(/<topology [^>]*threads="(\d+)"/.exec(rendered)?.[1] ?? 1) === 2 ? 2 : 1;
  substituted.push(
    `vCPUs ${vcpu[2]} → 2 (${threads} thread${threads > 1 ? "s" : ""} per core kept; pins of vCPUs 2 and up dropped): under TCG each SMM entry stops every vCPU, 8 vCPUs take 81–90 s to the boot manager, 2 take 13 s`,
  );
  return rendered
    .replace(vcpu[0], `${vcpu[1]}2${vcpu[3]}`)
    .replace(/<topology [^>]*\/>/, `<topology sockets="1" dies="1" cores="${2 / threads}" threads="${threads}"/>`)
    .replace(/\s*<vcpupin vcpu="([2-9]|\d\d+)"[^>]*\/>/g, "");
}

/**
 * Defines the lab domain and adds the GPUs' stand-ins to what libvirtd stored: libvirt first gives its own devices
 * their addresses (and root ports), so the stand-ins' root ports, added after them, are theirs alone.
 */
export function defineWithStandIns(
  base: { xml: string; substituted: string[]; liveHardLimitKib?: number },
  opts: { readonly name: string; readonly gpus: readonly LabGpu[]; readonly dir: string },
): LabDomain {
  const { name, gpus, dir } = opts;
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, base.xml);
  const defined = virsh("define", file);
  if (defined.status !== 0) throw new Error(`libvirtd refuses the lab domain ${name}: ${defined.stderr}\n${base.xml}`);
  const dumped = virsh("dumpxml", "--inactive", name);
  if (dumped.status !== 0) throw new Error(`virsh dumpxml ${name} failed: ${dumped.stderr}`);
  let xml = dumped.stdout;
  const firstPort =
    Math.max(
      0,
      ...select(parseXml(xml), "devices/controller")
        .filter((c) => c.attrs.type === "pci")
        .map((c) => Number(c.attrs.index)),
    ) + 1;

  // One root port per GPU (as libvirt gives a hostdev on q35), one pci-testdev function per BAR, largest first.
  const standIns: { id: string; gpu: string; bytes: number }[] = [];
  const ports: string[] = [];
  const args: string[] = [];
  gpus.forEach((gpu, g) => {
    const index = firstPort + g;
    ports.push(`    <controller type='pci' index='${index}' model='pcie-root-port'/>`);
    [...gpu.barsMib]
      .sort((a, b) => b - a)
      .forEach((mib, fn) => {
        const bytes = mib * MIB;
        if (!isPowerOfTwo(bytes)) throw new Error(`lab: ${gpu.model} BAR of ${mib} MiB is not a power of two`);
        if (fn > 7) throw new Error(`lab: ${gpu.model} has more than 8 BARs`);
        const id = `standin-g${g}-f${fn}`;
        standIns.push({ id, gpu: `${gpu.label} ${gpu.model}`, bytes });
        const device = {
          driver: "pci-testdev",
          id,
          bus: `pci.${index}`,
          addr: `0x0.0x${fn}`,
          ...(fn === 0 ? { multifunction: true } : {}),
          membar: bytes,
        };
        // JSON syntax: QEMU 7.2 creates key=value -devices before libvirt's JSON ones, whose root ports would not exist yet.
        args.push("-device", JSON.stringify(device));
      });
  });
  if (gpus.length) {
    xml = replaceOnce(xml, /(\s*)<\/devices>/, `\n${ports.join("\n")}$1</devices>`, "devices");
    // libvirt writes the namespace only while the domain has QEMU arguments: a domain without them gets it here.
    if (!xml.includes("xmlns:qemu=")) {
      xml = replaceOnce(
        xml,
        /<domain type=(['"])qemu\1/,
        `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'`,
        "domain element",
      );
    }
    const qemuArgs = args.map((a) => `    <qemu:arg value='${a}'/>`).join("\n");
    xml = /<qemu:commandline>/.test(xml)
      ? xml.replace(/\s*<\/qemu:commandline>/, `\n${qemuArgs}\n  </qemu:commandline>`)
      : xml.replace(/<\/domain>/, `  <qemu:commandline>\n${qemuArgs}\n  </qemu:commandline>\n</domain>`);
    writeFileSync(file, xml);
    const again = virsh("define", file);
    if (again.status !== 0) throw new Error(`libvirtd refuses ${name} with its stand-ins: ${again.stderr}\n${xml}`);
    const stored = virsh("dumpxml", "--inactive", name).stdout;
    const kept = stored.split("pci-testdev").length - 1;
    if (kept !== standIns.length) {
      throw new Error(`libvirtd kept ${kept} of ${name}'s ${standIns.length} stand-ins:\n${stored}`);
    }
  }
  return { name, xml, standIns, substituted: base.substituted, liveHardLimitKib: base.liveHardLimitKib };
}

/** One BAR of one device, as QEMU's `info pci` shows it; `address` undefined when the BAR is not mapped. */
export interface Bar {
  readonly bar: number;
  readonly kind: string;
  readonly address?: bigint;
  readonly end?: bigint;
  readonly size: bigint;
}

export interface PciFunction {
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
  readonly id?: string;
  readonly bars: readonly Bar[];
  readonly prefetchWindow?: readonly [bigint, bigint];
}

const UNMAPPED = 0xffffffffffffffffn;

/** QEMU's HMP `info pci` (hw/pci/pci.c): each function, its BARs, its id, and a bridge's prefetchable window. */
export function parseInfoPci(text: string): PciFunction[] {
  const parts = text.split(/^\s*Bus\s+(\d+), device\s+(\d+), function (\d+):\s*$/m);
  const out: PciFunction[] = [];
  for (let i = 1; i + 3 <= parts.length; i += 4) {
    const body = parts[i + 3] ?? "";
    const bars = [...body.matchAll(/BAR(\d+): (.*?) at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]/g)]
      .filter((m) => !m[2].startsWith("I/O"))
      .map((m) => {
        const start = BigInt(`0x${m[3]}`);
        const last = BigInt(`0x${m[4]}`);
        const mapped = start !== UNMAPPED;
        // Unmapped, QEMU prints the address 2^64 - 1 and its "end" (address + size - 1) wraps to size - 2.
        return {
          bar: Number(m[1]),
          kind: m[2],
          ...(mapped ? { address: start, end: last } : {}),
          size: mapped ? last - start + 1n : last + 2n,
        };
      });
    const pref = /prefetchable memory range \[0x([0-9a-f]+), 0x([0-9a-f]+)\]/.exec(body);
    out.push({
      bus: Number(parts[i]),
      device: Number(parts[i + 1]),
      fn: Number(parts[i + 2]),
      id: /id "([^"]*)"/.exec(body)?.[1],
      bars,
      ...(pref ? { prefetchWindow: [BigInt(`0x${pref[1]}`), BigInt(`0x${pref[2]}`)] as const } : {}),
    });
  }
  return out;
}

/** Where the firmware's boot manager announces itself: PCI enumeration is over by then. */
const FIRMWARE_DONE = /BdsDxe:|Booting from|No bootable device/;
/** OVMF's exception handler: the firmware has stopped (e.g. it touched an address beyond the CPU's width). */
const FIRMWARE_CRASHED = /!!!! X64 Exception Type - [^\n]*/;

export interface BootResult<G = undefined> {
  /** What `probe` found while the domain ran. */
  readonly guest: G;
  /** The firmware's exception line, when it stopped with one before its boot manager. */
  readonly crashed?: string;
  readonly functions: readonly PciFunction[];
  readonly infoPci: string;
  readonly seconds: number;
  /** The firmware's console, escape sequences removed. */
  readonly console: string;
}

/**
 * Starts the defined lab domain (its hard memory limit set once it runs, where it cannot be at start), waits for its
 * firmware to finish PCI enumeration, runs `probe` on the running domain, reads `info pci`, removes the domain.
 */
export async function bootAndReadPci<G = undefined>(
  domain: LabDomain,
  dir: string,
  probe?: (domain: LabDomain, serial: string) => Promise<G>,
  timeoutS = 300,
): Promise<BootResult<G>> {
  const started = Date.now();
  try {
    const start = virsh("start", domain.name);
    if (start.status !== 0) throw new Error(`virsh start ${domain.name} failed: ${start.stderr}\n${domain.xml}`);
    if (domain.liveHardLimitKib !== undefined) {
      const set = virsh("memtune", domain.name, "--hard-limit", String(domain.liveHardLimitKib), "--live");
      if (set.status !== 0) throw new Error(`virsh memtune --live on ${domain.name} failed: ${set.stderr}`);
    }
    const serial = join(dir, `${domain.name}.serial`);
    let crashed: string | undefined;
    for (;;) {
      const console = existsSync(serial) ? readFileSync(serial, "utf8") : "";
      if (FIRMWARE_DONE.test(console)) break;
      crashed = FIRMWARE_CRASHED.exec(console)?.[0];
      if (crashed) break;
      if (Date.now() - started > timeoutS * 1000) {
        throw new Error(`lab: ${domain.name}'s firmware did not reach its boot manager in ${timeoutS} s`);
      }
      const state = virsh("domstate", domain.name).stdout.trim();
      if (state !== "running") throw new Error(`lab: ${domain.name} is ${state} before its firmware finished`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (Date.now() - started) / 1000;
    const guest = (probe && !crashed ? await probe(domain, serial) : undefined) as G;
    const info = virsh("qemu-monitor-command", domain.name, "--hmp", "info pci");
    if (info.status !== 0) throw new Error(`info pci on ${domain.name} failed: ${info.stderr}`);
    // eslint-disable-next-line no-control-regex -- the firmware console is a terminal: its escape sequences go
    const console = readFileSync(serial, "utf8").replace(/\x1b\[[0-9;=?]*[A-Za-z]/g, "");
    return { crashed, functions: parseInfoPci(info.stdout), infoPci: info.stdout, seconds, console, guest };
  } finally {
    virsh("destroy", domain.name);
    // --tpm: the swtpm state libvirt made under /var/lib/libvirt/swtpm goes with the domain.
    virsh("undefine", "--nvram", "--tpm", domain.name);
  }
}
