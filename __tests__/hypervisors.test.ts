/**
 * The suite every hypervisor passes (issue #11): the same VM entry moved between sites of different hypervisors
 * synthesizes equivalent VMs. It is parameterized over the registry, so a new plug-in is tested by joining it; each
 * fleet is built from the plug-in's own `fleet.example` (site block, host keys, VM block) plus common GPUs, and goes
 * through the real fleet path (`synthesizeFleet`: readFleetFile → buildFleetStacks → checks → synth to a temp outdir).
 *
 * GPUs: an RTX 4090 (small BAR, HDMI audio at .1, consumer driver: hypervisor hidden) and an RTX A6000 (64 GiB BAR1:
 * large-BAR, DisplayPort audio at .1) at 0000:0b:00.0 and 0000:0c:00.0, the two devices whose functions the libvirt
 * example's IOMMU groups list.
 */
import { TerraformVariable } from "cdktf";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import type { ResourceReading } from "../lib/backends/plan-reading";
import type { HypervisorPlugin } from "../lib/backends/plugin";
import { HYPERVISORS } from "../lib/backends/registry";
import { classifyChange } from "../lib/report/classify";
import { ManifestVm, PassthroughManifest } from "../lib/report/manifest";
import { PlanResourceChange } from "../lib/report/plan";
import { synthesizeFleet } from "../stacks/fleet-app";
import { newPluginHost, newPluginVm, pluginSite, problemsOf, synthesizedVmResource } from "./plugin-helpers";
import { tempDir } from "./temp";

const RTX_4090 = "nvidia-rtx-4090";
const RTX_A6000 = "nvidia-rtx-a6000";
/** A single-function GPU, to make odd function counts. */
const T4 = "nvidia-t4";
const AT_0B = "0000:0b:00.0";
const AT_0C = "0000:0c:00.0";
const WORKSTATION = [
  { address: AT_0B, model: RTX_4090 },
  { address: AT_0C, model: RTX_A6000 },
];
const SITE = "site-a";

interface HostEntry {
  readonly name: string;
  readonly gpus: readonly { readonly address: string; readonly model: string }[];
}

/** A fleet VM entry without its hypervisor block: the part that moves between sites unchanged. */
interface VmEntry {
  readonly name: string;
  readonly host?: string;
  readonly gpus: number | readonly string[];
  readonly cpus?: number;
  readonly memoryGib?: number;
  readonly firmware?: "efi" | "bios";
  readonly secureBoot?: boolean;
  readonly mmioSizeGb?: number;
  readonly hideHypervisor?: boolean;
}

interface Scenario {
  readonly hosts: readonly HostEntry[];
  readonly vms: readonly VmEntry[];
}

/** The fleet file of one site of `plugin`'s kind: its example site, host keys and VM block around the entries. */
function fleetFile(plugin: HypervisorPlugin, { hosts, vms }: Scenario): object {
  const { example } = plugin.fleet;
  return {
    sites: [{ name: SITE, [plugin.kind]: example.site }],
    hosts: hosts.map((h) => ({ name: h.name, site: SITE, ...example.host, gpus: h.gpus })),
    vms: vms.map((v) => ({ host: "gpu-01", cpus: 8, memoryGib: 16, ...v, [plugin.kind]: example.vm })),
  };
}

type Resources = Record<string, Record<string, Record<string, unknown>>>;

interface FleetRun {
  readonly problems: readonly string[];
  /** Whether synth wrote the stack (it writes nothing when there is a problem). */
  readonly written: boolean;
  readonly manifest: PassthroughManifest;
  readonly resources: Resources;
}

const runs = new Map<string, FleetRun>();

/** The fleet app's result for the scenario on a site of `plugin`'s kind; each scenario is synthesized once. */
function run(plugin: HypervisorPlugin, name: string, scenario: Scenario): FleetRun {
  const key = `${plugin.kind}/${name}`;
  const known = runs.get(key);
  if (known) return known;
  const dir = tempDir("gpt-hypervisors-");
  const file = join(dir, "fleet.yaml");
  // JSON is YAML: the loader reads it like any fleet file.
  writeFileSync(file, JSON.stringify(fleetFile(plugin, scenario), null, 2));
  const outdir = join(dir, "cdktf.out");
  const problems = synthesizeFleet(file, { outdir });
  const stackDir = join(outdir, "stacks", SITE);
  const written = existsSync(join(stackDir, "cdk.tf.json"));
  const read = (f: string) => (written ? JSON.parse(readFileSync(join(stackDir, f), "utf8")) : undefined);
  const result: FleetRun = {
    problems,
    written,
    manifest: read("passthrough.json") ?? { version: 0, stack: SITE, hosts: [], vms: [] },
    resources: read("cdk.tf.json")?.resource ?? {},
  };
  runs.set(key, result);
  return result;
}

/** A run that must succeed: fails with the problems otherwise. */
function synthesized(plugin: HypervisorPlugin, name: string, scenario: Scenario): FleetRun {
  const result = run(plugin, name, scenario);
  expect(result.problems).toEqual([]);
  expect(result.written).toBe(true);
  return result;
}

function manifestVm(result: FleetRun, name: string): ManifestVm {
  const vm = result.manifest.vms.find((v) => v.name === name);
  if (!vm) throw new Error(`the manifest has no VM "${name}"; it has ${result.manifest.vms.map((v) => v.name)}`);
  return vm;
}

/** The synthesized values of the manifest VM's resource, without Terraform's meta-arguments (a plan has none). */
function vmValues(result: FleetRun, vm: ManifestVm): Record<string, unknown> {
  const dot = vm.address.indexOf(".");
  const values = result.resources[vm.address.slice(0, dot)]?.[vm.address.slice(dot + 1)];
  if (!values) throw new Error(`cdk.tf.json has no ${vm.address}`);
  const meta = ["//", "provider", "depends_on", "lifecycle", "dynamic", "count", "for_each", "provisioner"];
  return Object.fromEntries(Object.entries(values).filter(([k]) => !meta.includes(k)));
}

/** The plug-in's reading of the resource type it renders VMs as. */
type VmReading = ResourceReading & Required<Pick<ResourceReading, "pciFunctions">>;

function vmReading(plugin: HypervisorPlugin, type: string): VmReading {
  const reading = plugin.plan.resources.find((r) => r.type === type);
  if (!reading?.pciFunctions) {
    throw new Error(`${plugin.kind}'s plan reading has no pciFunctions for ${type}, the type its VMs are rendered as`);
  }
  return reading as VmReading;
}

/** The manifest's derived settings of a VM: what must not depend on the hypervisor. */
const DERIVED_SETTINGS = [
  "cpus",
  "coresPerSocket",
  "memoryMib",
  "memoryReservationMib",
  "firmware",
  "secureBoot",
  "mmio",
  "hideHypervisor",
  "hideHypervisorReason",
  "gpus",
  "pciFunctions",
] as const satisfies readonly (keyof ManifestVm)[];

function derivedSettings(vm: ManifestVm): Partial<ManifestVm> {
  return Object.fromEntries(DERIVED_SETTINGS.map((key) => [key, vm[key]]));
}

/** GPUs for a VM with exactly `functions` PCI functions: two-function RTX 4090s, and a T4 for an odd count. */
function gpusWithFunctions(functions: number): HostEntry["gpus"] {
  const pairs = Math.floor(functions / 2);
  const address = (i: number) => `0000:${(0x10 + i).toString(16)}:00.0`;
  return [
    ...Array.from({ length: pairs }, (_, i) => ({ address: address(i), model: RTX_4090 })),
    ...(functions % 2 ? [{ address: address(pairs), model: T4 }] : []),
  ];
}

/** The scenario of derived settings: a large-BAR VM, a small-BAR consumer one, and one with both and overrides. */
const DERIVED: Scenario = {
  hosts: [
    { name: "gpu-01", gpus: WORKSTATION },
    { name: "gpu-02", gpus: WORKSTATION },
  ],
  vms: [
    { name: "train", gpus: [AT_0C], cpus: 16, memoryGib: 64, secureBoot: true },
    { name: "play", gpus: 1, cpus: 6, memoryGib: 24 },
    { name: "wide", host: "gpu-02", gpus: 2, memoryGib: 48, mmioSizeGb: 256, hideHypervisor: false },
  ],
};

/**
 * Escape-hatch overrides on `vm.resource` that break passthrough, and the problem each hypervisor reports: its rules
 * read the rendered resource, so these are caught however they got there. A new hypervisor adds its entry here,
 * keyed by its kind, with at least one override; the suite fails for a registered hypervisor without one. Each is
 * applied to a VM holding the RTX A6000 (large-BAR) with 16 GiB of memory.
 */
const OVERRIDES: Readonly<
  Record<string, readonly { readonly path: string; readonly value: unknown; readonly problem: RegExp }[]>
> = {
  vsphere: [
    // A partial reservation: ESXi does not power on a VM with a passthrough device without a full one.
    { path: "memory_reservation", value: 1024, problem: /memory_reservation 1024 MB does not lock all 16384 MB/ },
    // BIOS cannot map the A6000's 64 GiB BAR above 4 GB.
    { path: "firmware", value: "bios", problem: /firmware is "bios" but the 64-bit MMIO window needs EFI/ },
    // The A6000's 64-bit MMIO window gone: the VM does not power on.
    { path: "extra_config", value: null, problem: /extra_config lacks the 64-bit MMIO window of 128 GB/ },
    // The GPU's functions gone (null removes the list; an array override is appended by cdktf): no GPU in the VM.
    { path: "pci_device_id", value: null, problem: /its pci_device_id lacks 0000:0c:00\.0, 0000:0c:00\.1/ },
    // Another device appended: the VM would take a function it does not hold.
    {
      path: "pci_device_id",
      value: ["0000:5e:00.0"],
      problem: /its pci_device_id passes 0000:5e:00\.0, which it does not hold/,
    },
  ],
  libvirt: [
    // BIOS cannot map the A6000's 64 GiB BAR; the XML cannot show the attribute, so review would not see it either.
    {
      path: "os.firmware",
      value: "bios",
      problem: /libvirt_domain attribute os\.firmware = "bios" is not shown in domains\/vm\.xml/,
    },
    // OVMF's 64-bit aperture gone: the guest sees the A6000's BAR1 as 0M.
    { path: "qemu_commandline", value: null, problem: /qemu_commandline lacks OVMF's 64-bit aperture of 131072 MiB/ },
    // The GPU's hostdevs gone: the domain starts without its GPU.
    { path: "devices.hostdevs", value: null, problem: /its devices\.hostdevs lacks 0000:0c:00\.0, 0000:0c:00\.1/ },
  ],
  proxmox: [
    // OVMF's 64-bit aperture gone: the guest sees the A6000's BAR1 as 0M.
    { path: "kvm_arguments", value: null, problem: /kvm_arguments lacks OVMF's 64-bit MMIO aperture/ },
    // The GPU's hostpci gone: the VM starts without its GPU.
    { path: "hostpci", value: null, problem: /its hostpci lacks 0000:0c:00\.0, 0000:0c:00\.1/ },
    // A balloon: VFIO has pinned all guest memory, so it cannot give any back.
    { path: "memory.floating", value: 1024, problem: /memory\.floating 1024 turns the balloon on/ },
    // The provider's default 2m OVMF: no room for secure boot keys, and changing it later replaces the VM.
    { path: "efi_disk.type", value: "2m", problem: /efi_disk\.type is "2m"/ },
  ],
};

const FIRST = HYPERVISORS[0];

describe.each(HYPERVISORS.map((h) => [h.title, h] as const))("%s", (_title, plugin) => {
  const { kind, limits } = plugin;

  test("derived settings equal the first hypervisor's for the same VM entries", () => {
    const here = synthesized(plugin, "derived", DERIVED);
    const first = synthesized(FIRST, "derived", DERIVED);
    expect(here.manifest.vms.map((v) => v.name).sort()).toEqual(["play", "train", "wide"]);
    for (const vm of here.manifest.vms) {
      expect(vm.backend).toBe(kind);
      expect({ vm: vm.name, ...derivedSettings(vm) }).toEqual({
        vm: vm.name,
        ...derivedSettings(manifestVm(first, vm.name)),
      });
    }
    // Not vacuous: the three VMs cover a large-BAR window, hidden hypervisor, audio functions and overrides.
    const train = manifestVm(here, "train");
    expect(train).toMatchObject({ firmware: "efi", secureBoot: true, memoryMib: 65536, memoryReservationMib: 65536 });
    expect(train.mmio).toMatchObject({ needs64BitMmio: true, sizeGb: 128, overridden: false });
    expect(train.pciFunctions).toEqual([AT_0C, "0000:0c:00.1"]);
    const play = manifestVm(here, "play");
    expect(play).toMatchObject({ hideHypervisor: true, memoryMib: 24576, pciFunctions: [AT_0B, "0000:0b:00.1"] });
    expect(play.mmio.needs64BitMmio).toBe(false);
    const wide = manifestVm(here, "wide");
    expect(wide).toMatchObject({ hideHypervisor: false, hideHypervisorReason: "set by the user (false)" });
    expect(wide.mmio).toMatchObject({ sizeGb: 256, overridden: true });
    expect(wide.gpus.map((g) => g.model)).toEqual(["NVIDIA GeForce RTX 4090", "NVIDIA RTX A6000"]);
  });

  test("the plan reading finds the manifest's PCI functions in the synthesized VM resource", () => {
    const here = synthesized(plugin, "derived", DERIVED);
    for (const vm of here.manifest.vms) {
      const reading = vmReading(plugin, vm.address.split(".")[0]);
      expect({ vm: vm.name, functions: reading.pciFunctions(vmValues(here, vm)) }).toEqual({
        vm: vm.name,
        functions: [...vm.pciFunctions].sort(),
      });
    }
  });

  describe("limits", () => {
    test("cpus, memory and PCI functions above the limits are problems that name the limit", () => {
      // Above a limit that is also the fleet schema's bound (the largest hypervisor's), the loader refuses the value
      // with the bound in its message; below it, the hypervisor's rules do. Either way the problem names the limit.
      const functions = gpusWithFunctions(limits.maxPciDevices + 1);
      const over: Scenario = {
        hosts: [
          { name: "gpu-01", gpus: WORKSTATION },
          { name: "gpu-wide", gpus: functions },
        ],
        vms: [
          { name: "many-cpus", gpus: [AT_0B], cpus: limits.maxCpus + 1 },
          { name: "much-memory", gpus: [AT_0C], memoryGib: Math.floor(limits.maxMemoryMib / 1024) + 1 },
          { name: "many-functions", host: "gpu-wide", gpus: functions.length },
        ],
      };
      const { problems, written } = run(plugin, "limits-over", over);
      expect(written).toBe(false);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`cpus.*\\b${limits.maxCpus}\\b`)),
          expect.stringMatching(new RegExp(`memoryGib.*\\b${Math.floor(limits.maxMemoryMib / 1024)}\\b`)),
          expect.stringMatching(new RegExp(`PCI functions.*\\b${limits.maxPciDevices}\\b`)),
        ]),
      );
    });

    test("at the limits, none", () => {
      synthesized(plugin, "limits-at", {
        hosts: [{ name: "gpu-01", gpus: WORKSTATION }],
        vms: [
          { name: "many-cpus", gpus: [AT_0B], cpus: limits.maxCpus },
          { name: "much-memory", gpus: [AT_0C], memoryGib: Math.floor(limits.maxMemoryMib / 1024) },
        ],
      });
      // Only the example host's GPUs are in its inventory (libvirt: IOMMU groups): a host with more GPUs has the
      // plug-in's inventory problems, so the PCI limit is checked by its own message.
      const { problems } = run(plugin, "limits-at-pci", {
        hosts: [{ name: "gpu-wide", gpus: gpusWithFunctions(limits.maxPciDevices) }],
        vms: [
          {
            name: "many-functions",
            host: "gpu-wide",
            gpus: gpusWithFunctions(limits.maxPciDevices).length,
          },
        ],
      });
      expect(problems.filter((p) => /PCI functions/.test(p))).toEqual([]);
    });
  });

  describe("rules, with the same message on every hypervisor", () => {
    /** The one problem matching `pattern`, which must be the first hypervisor's too. */
    const sameProblem = (name: string, scenario: Scenario, pattern: RegExp) => {
      const here = run(plugin, name, scenario);
      const first = run(FIRST, name, scenario);
      expect(here.written).toBe(false);
      const matching = here.problems.filter((p) => pattern.test(p));
      expect(matching).toHaveLength(1);
      expect(matching).toEqual(first.problems.filter((p) => pattern.test(p)));
    };

    test("a BIOS VM with a GPU mapping more than 16 GiB is refused", () => {
      sameProblem(
        "bios-large-bar",
        { hosts: [{ name: "gpu-01", gpus: WORKSTATION }], vms: [{ name: "legacy", gpus: [AT_0C], firmware: "bios" }] },
        /^VM "legacy": firmware "bios" cannot map GPUs above 4 GB \(0000:0c:00\.0 NVIDIA RTX A6000 maps 64\.05 GiB\)/,
      );
    });

    test("two VMs naming the same GPU are refused", () => {
      sameProblem(
        "same-gpu",
        {
          hosts: [{ name: "gpu-01", gpus: WORKSTATION }],
          vms: [
            { name: "first", gpus: [AT_0B] },
            { name: "second", gpus: [AT_0B] },
          ],
        },
        /^VM "second": GPU 0000:0b:00\.0 on host "gpu-01" is already given to VM "first"/,
      );
    });

    test("a VM asking for more GPUs than are free is refused", () => {
      sameProblem(
        "too-many",
        {
          hosts: [{ name: "gpu-01", gpus: WORKSTATION }],
          vms: [
            { name: "pinned", gpus: [AT_0B] },
            { name: "greedy", gpus: 2 },
          ],
        },
        /^VM "greedy": asks for 2 GPU\(s\) but host "gpu-01" has 1 free of 2 guest GPU\(s\) \(taken: 0000:0b:00\.0 → pinned\)/,
      );
    });
  });

  test("allocation does not depend on the order of the file", () => {
    // By address first, then by count in construct-path order (lib/allocation.ts): a count VM listed before the VM
    // that names its GPU must not take that GPU.
    const hosts = [
      { name: "gpu-01", gpus: WORKSTATION },
      { name: "gpu-02", gpus: WORKSTATION },
    ];
    const vms: VmEntry[] = [
      { name: "zz-pinned", gpus: [AT_0B] },
      { name: "aa-count", gpus: 1 },
      { name: "mm-count", host: "gpu-02", gpus: 1 },
      { name: "cc-count", host: "gpu-02", gpus: 1 },
    ];
    const gpusOf = (result: FleetRun) =>
      Object.fromEntries(result.manifest.vms.map((v) => [v.name, v.gpus.map((g) => g.gpu)]));
    const forward = gpusOf(synthesized(plugin, "order-forward", { hosts, vms }));
    const backward = gpusOf(synthesized(plugin, "order-backward", { hosts, vms: [...vms].reverse() }));
    expect(forward).toEqual({
      "zz-pinned": [AT_0B],
      "aa-count": [AT_0C],
      "cc-count": [AT_0B],
      "mm-count": [AT_0C],
    });
    expect(backward).toEqual(forward);
  });

  test("cpus and memory as Tokens: no problems, and the resource references the variables", () => {
    const site = pluginSite(plugin);
    const host = newPluginHost(site, WORKSTATION);
    const cpus = new TerraformVariable(site.stack, "cpus", { type: "number" });
    const memory = new TerraformVariable(site.stack, "memory_gib", { type: "number" });
    const vm = newPluginVm(site, host, "vm", { gpus: [AT_0B], cpus: cpus.numberValue, memoryGib: memory.numberValue });
    expect(problemsOf(site)).toEqual([]);
    const values = synthesizedVmResource(vm);
    const text = JSON.stringify(values);
    expect(text).toContain("var.cpus");
    expect(text).toContain("var.memory_gib");
    // A Token's placeholder number used in arithmetic would be written as a huge number: none may be.
    const numbers: number[] = [];
    JSON.stringify(values, (_k, v: unknown) => (typeof v === "number" && numbers.push(v), v));
    expect(numbers.filter((n) => !Number.isFinite(n) || Math.abs(n) > 2 ** 53)).toEqual([]);
  });

  describe("escape-hatch overrides that break passthrough", () => {
    const vmWithOverride = (path?: string, value?: unknown) => {
      const site = pluginSite(plugin);
      const vm = newPluginVm(site, newPluginHost(site, WORKSTATION), "vm", { gpus: [AT_0C] });
      if (path !== undefined) vm.resource.addOverride(path, value);
      return problemsOf(site);
    };

    test("without one, the VM has no problem", () => {
      expect(vmWithOverride()).toEqual([]);
    });

    test("every registered hypervisor lists its overrides in OVERRIDES", () => {
      if (!OVERRIDES[kind]?.length) {
        throw new Error(
          `no escape-hatch override for ${kind}: add OVERRIDES.${kind} in __tests__/hypervisors.test.ts, an override of ` +
            "vm.resource that breaks passthrough and the problem its rules report",
        );
      }
    });

    // test.each refuses an empty table, which would fail every hypervisor's tests rather than the one above.
    const caught = OVERRIDES[kind] ?? [];
    if (caught.length) {
      test.each(caught.map((o) => [o.path, o] as const))("%s is caught", (_path, o) => {
        expect(vmWithOverride(o.path, o.value)).toEqual([expect.stringMatching(o.problem)]);
      });
    }
  });

  test("a plan that swaps the VM's GPU is never an update in place", () => {
    // Two GPUs of one model: only the PCI functions change.
    const hosts = [
      {
        name: "gpu-01",
        gpus: [
          { address: AT_0B, model: RTX_4090 },
          { address: AT_0C, model: RTX_4090 },
        ],
      },
    ];
    const before = synthesized(plugin, "swap-before", { hosts, vms: [{ name: "vm", gpus: [AT_0B] }] });
    const after = synthesized(plugin, "swap-after", { hosts, vms: [{ name: "vm", gpus: [AT_0C] }] });
    const [vmBefore, vmAfter] = [manifestVm(before, "vm"), manifestVm(after, "vm")];
    expect(vmAfter.address).toBe(vmBefore.address);
    const [type, name] = vmBefore.address.split(".");
    const reading = vmReading(plugin, type);
    const change: PlanResourceChange = {
      address: vmBefore.address,
      type,
      name,
      change: { actions: ["update"], before: vmValues(before, vmBefore), after: vmValues(after, vmAfter) },
    };
    expect(reading.pciFunctions(change.change.before)).toEqual([AT_0B, "0000:0b:00.1"]);
    expect(reading.pciFunctions(change.change.after)).toEqual([AT_0C, "0000:0c:00.1"]);
    const classification = classifyChange(change);
    expect({ kind: classification.kind, why: classification.why }).not.toMatchObject({ kind: "update-in-place" });
  });
});
