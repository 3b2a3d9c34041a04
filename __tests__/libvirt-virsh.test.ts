/**
 * libvirtd itself judges the domain XML: every domain of the example fleet (and the variants the fleet lacks: secure
 * boot with a ROM file, BIOS) is defined with `virsh define`, read back with `virsh dumpxml`, and what libvirt stored
 * must equal what we wrote on everything passthrough depends on: loader, NVRAM, hostdevs, features, memory backing,
 * the CPU's address width and the QEMU command line. Defining needs no GPU: libvirt looks for PCI devices at start.
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
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";
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

/** Variants the example fleet lacks: secure boot (SMM) with a vBIOS file and hidden ROM BAR, and BIOS firmware. */
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

  test("negative control: libvirtd refuses a hostdev at an impossible PCI address", () => {
    const xml = domains.get("ws-gaming")!.replace('bus="0x0b"', 'bus="0x100"');
    expect(xml).toContain('bus="0x100"');
    const result = define("broken", xml);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/Invalid PCI address bus='0x100'/);
  });

  test("negative control: the comparison tells two domains' passthrough settings apart", () => {
    expect(define("other", domains.get("kvm-train-01")!).ok).toBe(true);
    expect(passthroughView(dumpxml("other"))).not.toEqual(passthroughView(domains.get("ws-gaming")!));
  });
});
