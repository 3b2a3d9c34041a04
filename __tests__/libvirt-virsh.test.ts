/**
 * libvirtd itself judges the domain XML: every domain of the example fleet (and the variants the fleet lacks: secure
 * boot with a ROM file, BIOS) is defined with `virsh define`, read back with `virsh dumpxml`, and what libvirt stored
 * must equal what we wrote on everything passthrough depends on: loader, NVRAM, hostdevs, features, memory backing,
 * the CPU's address width and the QEMU command line; and on what each guest gets by its OS and NUMA placement (issue
 * 13): TPM, clock and timers, memory hard limit, balloon, serial console, USB start-up policy, numatune, vCPU and
 * emulator CPU sets, guest NUMA cells, SMT topology, Hyper-V enlightenments, disk bus and NIC model. Defining needs no
 * GPU: libvirt looks for PCI devices at start. A TPM 2.0 emulator needs swtpm installed (libvirt refuses to define it
 * otherwise), which scripts/libvirtd.sh installs.
 *
 * Needs `virsh` and a libvirtd that answers (qemu:///system, else qemu:///session; LIBVIRT_TEST_URI overrides):
 * `sh scripts/libvirtd.sh` installs and starts one. Without it the tests are skipped, and their name says why.
 * Test domains get names of their own and are undefined afterwards, keeping any NVRAM file (none is made at define).
 */
import { spawnSync } from "child_process";
import { readFileSync, readdirSync, writeFileSync } from "fs";
import { join } from "path";
import { TerraformStack, Testing } from "cdktf";
import { StackFile } from "../lib/stack-file";
import { synthesizeFleet } from "../stacks/fleet-app";
import { newKvmHost, newKvmStack, newKvmVm, twoNodeHost } from "./libvirt-helpers";
import { XmlElement, parseXml, select } from "./libvirt-xml-parse";
import { tempDir } from "./temp";

const virsh = (uri: string, ...args: string[]) =>
  spawnSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", timeout: 30_000 });

/** The first URI on which a libvirtd answers, or why none does. */
function findLibvirtd(): { uri?: string; why: string } {
  const uris = process.env.LIBVIRT_TEST_URI ? [process.env.LIBVIRT_TEST_URI] : ["qemu:///system", "qemu:///session"];
  const tried: string[] = [];
  for (const uri of uris) {
    const run = virsh(uri, "uri");
    if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") return { why: "virsh is not installed" };
    if (run.status === 0) return { uri, why: "" };
    tried.push(`${uri}: ${(run.stderr || String(run.error ?? "")).trim().split("\n").pop()}`);
  }
  return { why: `no libvirtd answers (${tried.join("; ")})` };
}

const { uri, why } = findLibvirtd();
const SKIP = `skipped: ${why}; run sh scripts/libvirtd.sh (as root it installs and starts libvirtd)`;
if (!uri) console.warn(`libvirt-virsh.test.ts ${SKIP}`);
// The e2e tier (npm run e2e) requires the real libvirtd: there a missing daemon fails instead of skipping.
if (!uri && process.env.GPU_PASSTHROUGH_E2E)
  test("a real libvirtd answers (required by npm run e2e)", () => {
    throw new Error(why);
  });
const run = uri ? describe : describe.skip;

/** A name no real domain has: the test never touches a domain it did not define. */
const testName = (vm: string) => `gpt-test-${process.pid}-${vm}`;
const renamed = (xml: string, vm: string) => xml.replace(/<name>[^<]*<\/name>/, `<name>${testName(vm)}</name>`);

/** The example fleet's domain XML files, synthesized in this process. */
function exampleDomains(): Map<string, string> {
  const out = tempDir("gpt-virsh-");
  const problems = synthesizeFleet(join(__dirname, "..", "fleet.yaml"), { outdir: out });
  if (problems.length) throw new Error(`the example fleet has problems:\n${problems.join("\n")}`);
  const domains = new Map<string, string>();
  for (const stack of readdirSync(join(out, "stacks"))) {
    const dir = join(out, "stacks", stack, "domains");
    if (!readdirSync(join(out, "stacks", stack)).includes("domains")) continue;
    for (const f of readdirSync(dir)) domains.set(f.replace(/\.xml$/, ""), readFileSync(join(dir, f), "utf8"));
  }
  return domains;
}

/**
 * Variants the example fleet lacks: secure boot (SMM) with a vBIOS file and hidden ROM BAR, BIOS firmware, a Windows
 * guest without virtio drivers (TPM and secure boot by default, SATA disk, e1000e NIC, no seed), and a VM whose GPUs
 * sit on two NUMA nodes (one guest cell per node, memnodes, vCPUs pinned per cell).
 */
function variantDomains(): Map<string, string> {
  const stack = newKvmStack();
  const ws = newKvmHost(stack);
  const server = newKvmHost(
    stack,
    [{ address: "0000:65:00.0", model: "nvidia-t4" }],
    { cpuVendor: "intel", iommuGroups: [{ id: 60, devices: ["0000:65:00.0"] }] },
    "kvm-01",
  );
  const vms = [
    newKvmVm(stack, "secure", ws, {
      gpus: ["0000:0b:00.0"],
      secureBoot: true,
      libvirt: {
        guestOs: "windows",
        baseImage: "/img/win11.qcow2",
        gpuRom: { file: "/usr/share/vgabios/3080.rom", bar: false },
      },
    }),
    newKvmVm(stack, "legacy", server, { gpus: ["0000:65:00.0"], firmware: "bios" }),
    newKvmVm(stack, "windows", ws, {
      gpus: ["0000:0b:00.0"],
      libvirt: {
        guestOs: "windows",
        virtioDrivers: false,
        baseImage: "/img/win11-novirtio.qcow2",
        usbDevices: [{ vendorId: "046d", productId: "c52b" }],
      },
    }),
    newKvmVm(stack, "numa2", twoNodeHost(stack), {
      gpus: ["0000:17:00.0", "0000:b1:00.0"],
      cpus: 16,
      coresPerSocket: 8,
      memoryGib: 64,
    }),
  ];
  const synthesized = JSON.parse(Testing.synth(stack));
  const files = StackFile.of(TerraformStack.of(stack));
  return new Map(
    vms.map((vm) => [
      `variant-${vm.vmName}`,
      files.find((f) => f.path === `domains/${vm.vmName}.xml`)!.content(synthesized),
    ]),
  );
}

/** `0x0b`, `11` and `0x000b` are one number. */
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

/** An element as plain data: its name, attributes, text and children, recursively. */
function tree(e: XmlElement): unknown {
  return { name: e.name, attrs: e.attrs, text: e.text, children: e.children.map(tree) };
}

/** Everything passthrough depends on, in a form both spellings (ours, libvirt's) reduce to. */
function passthroughView(xml: string) {
  const d = parseXml(xml);
  const one = (path: string) => select(d, path).map(tree);
  const hostdev = (h: XmlElement) => {
    const address = select(h, "source/address")[0]?.attrs ?? {};
    return {
      mode: h.attrs.mode,
      type: h.attrs.type,
      managed: h.attrs.managed,
      driver: select(h, "driver").map(tree),
      address: ["domain", "bus", "slot", "function"].map((k) => num(address[k])),
      vendor: select(h, "source/vendor").map(tree),
      product: select(h, "source/product").map(tree),
      rom: select(h, "rom").map(tree),
      boot: select(h, "boot").map(tree),
    };
  };
  return {
    loader: one("os/loader"),
    nvram: one("os/nvram"),
    features: one("features"),
    memoryBacking: one("memoryBacking"),
    cpu: select(d, "cpu").map((c) => ({ mode: c.attrs.mode, maxphysaddr: select(c, "maxphysaddr").map(tree) })),
    hostdevs: select(d, "devices/hostdev").map(hostdev),
    qemuCommandline: one("qemu:commandline"),
  };
}

const KIB: Record<string, number> = { KiB: 1, k: 1, MiB: 1024, M: 1024, GiB: 1024 ** 2, G: 1024 ** 2 };
/** A libvirt memory size in KiB, the unit libvirt stores (`unit` defaults to KiB). */
function kib(value: string | undefined, unit = "KiB"): number {
  if (!(unit in KIB)) throw new Error(`unexpected memory unit ${unit}`);
  return Number(value) * KIB[unit];
}

/**
 * What each guest gets by its OS and placement (issue 13), in a form both spellings reduce to: memory sizes in KiB
 * (libvirt converts `MiB` to `KiB`), everything else as written.
 */
function guestView(xml: string) {
  const d = parseXml(xml);
  const one = (path: string) => select(d, path).map(tree);
  const devices = (kind: string) => select(d, `devices/${kind}`);
  return {
    tpm: one("devices/tpm"),
    clock: one("clock"),
    memtune: select(d, "memtune").flatMap((m) => m.children.map((c) => ({ [c.name]: kib(c.text, c.attrs.unit) }))),
    memballoon: one("devices/memballoon"),
    serial: one("devices/serial"),
    console: one("devices/console"),
    usb: devices("hostdev")
      .filter((h) => h.attrs.type === "usb")
      .map((h) => ({ source: select(h, "source").map((s) => s.attrs), ids: select(h, "source").map(tree) })),
    numatune: one("numatune"),
    vcpu: select(d, "vcpu").map((v) => ({ attrs: v.attrs, text: v.text })),
    cputune: one("cputune"),
    topology: one("cpu/topology"),
    cells: select(d, "cpu/numa/cell").map((c) => ({
      ...c.attrs,
      id: c.attrs.id,
      memory: kib(c.attrs.memory, c.attrs.unit),
      unit: "KiB",
    })),
    hyperv: one("features/hyperv"),
    disks: devices("disk").map((k) => ({ device: k.attrs.device, target: select(k, "target")[0]?.attrs })),
    nics: devices("interface").map((i) => select(i, "model").map((m) => m.attrs.type)),
  };
}

run(`libvirtd defines every rendered domain and stores what we wrote (${uri ?? SKIP})`, () => {
  const domains = uri ? new Map([...exampleDomains(), ...variantDomains()]) : new Map<string, string>();
  const dir = uri ? tempDir("gpt-virsh-xml-") : "";
  const defined: string[] = [];

  /** Defines the XML under a test name; the error text when libvirtd refuses it. */
  function define(vm: string, xml: string): { ok: boolean; output: string } {
    const file = join(dir, `${vm}.xml`);
    writeFileSync(file, renamed(xml, vm));
    const result = virsh(uri!, "define", file);
    if (result.status === 0) defined.push(testName(vm));
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
  }

  function dumpxml(vm: string): string {
    const result = virsh(uri!, "dumpxml", "--inactive", testName(vm));
    if (result.status !== 0) throw new Error(`virsh dumpxml ${testName(vm)} failed: ${result.stderr}`);
    return result.stdout;
  }

  afterAll(() => {
    // --keep-nvram: the path is the real VM's, and defining made no file there.
    for (const name of defined) virsh(uri!, "undefine", "--keep-nvram", name);
  });

  test("the example fleet has the three KVM domains", () => {
    expect([...domains.keys()].filter((k) => !k.startsWith("variant-")).sort()).toEqual([
      "kvm-train-01",
      "kvm-train-02",
      "ws-gaming",
    ]);
  });

  test.each([...domains.keys()])(
    "%s: virsh define accepts it and dumpxml agrees on everything passthrough needs",
    (vm) => {
      const xml = domains.get(vm)!;
      const result = define(vm, xml);
      if (!result.ok) throw new Error(`libvirtd refuses ${vm}: ${result.output}\n${xml}`);
      const ours = passthroughView(xml);
      expect(ours.hostdevs.length).toBeGreaterThan(0);
      expect(passthroughView(dumpxml(vm))).toEqual(ours);
    },
  );

  test.each([...domains.keys()])(
    "%s: libvirtd stores the guest's TPM, clock, memory limit, balloon, console, USB policy, NUMA and Hyper-V settings as written",
    (vm) => {
      const xml = domains.get(vm)!;
      const result = define(`${vm}-guest`, xml);
      if (!result.ok) throw new Error(`libvirtd refuses ${vm}: ${result.output}\n${xml}`);
      const ours = guestView(xml);
      const stored = guestView(dumpxml(`${vm}-guest`));
      // The comparison is not vacuous: every guest has these, Windows and NUMA guests theirs.
      expect(ours.memtune).toEqual([{ hard_limit: expect.any(Number) }]);
      expect(ours.memballoon).toEqual([expect.objectContaining({ attrs: { model: "none" } })]);
      expect(ours.serial.length).toBe(1);
      expect(ours.console.length).toBe(1);
      expect(ours.clock.length).toBe(1);
      // libvirt makes a serial port a pty: `virsh console` reaches it.
      expect(stored.serial.map((s) => (s as { attrs: Record<string, string> }).attrs.type)).toEqual(["pty"]);
      expect(stored.console.map((s) => (s as { attrs: Record<string, string> }).attrs.type)).toEqual(["pty"]);
      if (["ws-gaming", "variant-secure", "variant-windows"].includes(vm)) {
        expect(ours.tpm.length).toBe(1);
        expect(ours.hyperv.length).toBe(1);
      }
      if (["ws-gaming", "kvm-train-01", "kvm-train-02", "variant-numa2"].includes(vm)) {
        expect(ours.numatune.length).toBe(1);
      }
      expect(stored).toEqual(ours);
    },
  );

  test("the variants cover what the example fleet lacks: a Windows guest without virtio, a VM on two NUMA nodes", () => {
    const windows = guestView(domains.get("variant-windows")!);
    expect(windows.disks).toContainEqual({ device: "disk", target: { dev: "sda", bus: "sata" } });
    expect(windows.nics).toEqual([["e1000e"]]);
    expect(windows.tpm.length).toBe(1);
    expect(passthroughView(domains.get("variant-windows")!).loader).toEqual([
      expect.objectContaining({ attrs: expect.objectContaining({ secure: "yes" }) }),
    ]);
    const numa = guestView(domains.get("variant-numa2")!);
    expect(numa.cells.map((c) => c.id)).toEqual(["0", "1"]);
    expect(JSON.stringify(numa.numatune)).toContain("memnode");
    const ws = guestView(domains.get("ws-gaming")!);
    expect(ws.topology).toEqual([expect.objectContaining({ attrs: expect.objectContaining({ threads: "2" }) })]);
    expect(guestView(domains.get("kvm-train-02")!).vcpu[0].attrs.cpuset).toBeDefined();
  });

  test("negative control: libvirtd refuses a hostdev at an impossible PCI address", () => {
    const xml = domains.get("ws-gaming")!.replace('bus="0x0b"', 'bus="0x100"');
    expect(xml).toContain('bus="0x100"');
    const result = define("broken", xml);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/Invalid PCI address bus='0x100'/);
  });

  // libvirtd judges the new elements, not only accepts anything: each of these is refused at define, with its reason.
  test.each([
    [
      "a TPM with backend version 3.0",
      "ws-gaming",
      'version="2.0"',
      'version="3.0"',
      /Invalid value for attribute 'version' in element 'backend': '3\.0'/,
    ],
    [
      "a clock timer libvirt does not know",
      "ws-gaming",
      'name="hypervclock"',
      'name="hyperclock"',
      /Invalid value for attribute 'name' in element 'timer': 'hyperclock'/,
    ],
    [
      "a Hyper-V enlightenment libvirt does not know",
      "ws-gaming",
      '<ipi state="on"/>',
      '<ipi state="on"/>\n      <ipis state="on"/>',
      /unsupported HyperV Enlightenment feature: ipis/,
    ],
    [
      "a numatune memnode for a guest NUMA cell that does not exist",
      "variant-numa2",
      '<memnode cellid="1"',
      '<memnode cellid="2"',
      /Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell/,
    ],
    [
      "a memnode in a domain without guest NUMA cells",
      "kvm-train-02",
      "</numatune>",
      '  <memnode cellid="0" mode="strict" nodeset="1"/>\n  </numatune>',
      /Element 'memnode' is invalid without any guest NUMA cells/,
    ],
    [
      "a USB start-up policy libvirt does not know",
      "ws-gaming",
      'startupPolicy="optional"',
      'startupPolicy="sometimes"',
      /Invalid value for attribute 'startupPolicy' in element 'source': 'sometimes'/,
    ],
    [
      "a memory balloon model libvirt does not know",
      "ws-gaming",
      '<memballoon model="none"/>',
      '<memballoon model="off"/>',
      /Invalid value for attribute 'model' in element 'memballoon': 'off'/,
    ],
    [
      "an emulator CPU set that is not a CPU list",
      "ws-gaming",
      /<emulatorpin cpuset="[^"]*"\/>/,
      '<emulatorpin cpuset="8-"/>',
      /Failed to parse bitmap '8-'/,
    ],
  ] as const)("negative control: libvirtd refuses %s", (_, vm, from, to, error) => {
    const xml = domains.get(vm)!.replace(from, to);
    expect(xml).not.toBe(domains.get(vm));
    const result = define(`refused-${vm}`, xml);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(error);
  });

  test("negative control: the guest comparison tells a hard limit 1 MiB off, and another guest, apart", () => {
    const ws = domains.get("ws-gaming")!;
    expect(define("ws-limit", ws).ok).toBe(true);
    const stored = guestView(dumpxml("ws-limit"));
    const off = ws.replace(
      /<hard_limit unit="MiB">(\d+)</,
      (_, n: string) => `<hard_limit unit="MiB">${Number(n) + 1}<`,
    );
    expect(off).not.toBe(ws);
    expect(stored).not.toEqual(guestView(off));
    expect(stored).not.toEqual(guestView(domains.get("variant-windows")!));
  });

  test("negative control: the comparison tells two domains' passthrough settings apart", () => {
    expect(define("other", domains.get("kvm-train-01")!).ok).toBe(true);
    expect(passthroughView(dumpxml("other"))).not.toEqual(passthroughView(domains.get("ws-gaming")!));
  });
});
