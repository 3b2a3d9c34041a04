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
 * - vCPU pinning is dropped (the host CPUs it names do not exist here); `ioapic driver="kvm"` → `qemu` (TCG).
 * - the NVRAM file gets the lab domain's name (never a real VM's path); a serial console is added (an ISA device, no
 *   PCI resources) to see when the firmware has finished: OVMF's boot manager prints `BdsDxe:` once PCI is enumerated.
 * Everything else (loader, NVRAM template, machine, memory size, the `qemu:commandline` aperture) is booted as rendered.
 */
import { spawnSync } from "child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
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
): { xml: string; substituted: string[] } {
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
  if (/<cputune>/.test(xml)) {
    xml = xml.replace(/\s*<cputune>[\s\S]*?<\/cputune>/, "");
    substituted.push("vCPU pinning dropped (the host CPUs it names do not exist here)");
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

  const serial = join(dir, `${name}.serial`);
  writeFileSync(serial, "");
  chmodSync(serial, 0o666);
  xml = replaceOnce(
    xml,
    /\s*<\/devices>/,
    `\n    <serial type="file">\n      <source path="${serial}"/>\n      <target port="0"/>\n    </serial>\n  </devices>`,
    "devices",
  );
  if (!xml.includes("xmlns:qemu=")) {
    xml = xml.replace(
      /<domain type="qemu"/,
      '<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"',
    );
  }
  return { xml, substituted };
}

/**
 * Defines the lab domain and adds the GPUs' stand-ins to what libvirtd stored: libvirt first gives its own devices
 * their addresses (and root ports), so the stand-ins' root ports, added after them, are theirs alone.
 */
export function defineWithStandIns(
  base: { xml: string; substituted: string[] },
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
  return { name, xml, standIns, substituted: base.substituted };
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

export interface BootResult {
  /** The firmware's exception line, when it stopped with one before its boot manager. */
  readonly crashed?: string;
  readonly functions: readonly PciFunction[];
  readonly infoPci: string;
  readonly seconds: number;
  /** The firmware's console, escape sequences removed. */
  readonly console: string;
}

/** Starts the defined lab domain, waits for its firmware to finish PCI enumeration, reads `info pci`, removes it. */
export async function bootAndReadPci(domain: LabDomain, dir: string, timeoutS = 300): Promise<BootResult> {
  const started = Date.now();
  try {
    const start = virsh("start", domain.name);
    if (start.status !== 0) throw new Error(`virsh start ${domain.name} failed: ${start.stderr}\n${domain.xml}`);
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
    const info = virsh("qemu-monitor-command", domain.name, "--hmp", "info pci");
    if (info.status !== 0) throw new Error(`info pci on ${domain.name} failed: ${info.stderr}`);
    // eslint-disable-next-line no-control-regex -- the firmware console is a terminal: its escape sequences go
    const console = readFileSync(serial, "utf8").replace(/\x1b\[[0-9;=?]*[A-Za-z]/g, "");
    return { crashed, functions: parseInfoPci(info.stdout), infoPci: info.stdout, seconds, console };
  } finally {
    virsh("destroy", domain.name);
    virsh("undefine", "--nvram", domain.name);
  }
}
