/**
 * `npm run bench`: synth time and peak memory of GPU VM fleets (10, 100, 1000 VMs) built with this library, on
 * vSphere and on libvirt, against a baseline in the same run that writes the same Terraform with raw provider classes
 * (`vsphere_virtual_machine`; `libvirt_domain` with its volumes and cloud-init), plus the wall time of the example
 * app (`node dist/main.js`) next to a bare cdktf app.
 *
 * Every measurement runs in its own child Node process (this file, `--child <backend> <case> <vms>`), so the peak RSS is
 * that case's alone and no run warms the JIT or the module cache for the next. Library and baseline runs alternate
 * (A B A B ...) so that noise from other processes on a shared machine hits both alike; medians are reported.
 * Targets are informational: the script exits 0 when over them and non-zero only when a child fails.
 */
import { SpawnSyncReturns, spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import type { Fleet } from "../lib/fleet/schema";
import { PciAddress } from "../lib/pci/address";

type Case = "library" | "baseline";
type Backend = "vsphere" | "libvirt";
const BACKENDS: Backend[] = ["vsphere", "libvirt"];

/** What a child reports, as one JSON line on stdout. */
interface Sample {
  loadMs: number;
  synthMs: number;
  /** CPU time (user + system, all threads) of the synth: steadier than wall time when the machine is shared. */
  cpuMs: number;
  rssMb: number;
  heapMb: number;
  /** Resource counts and VM attribute names of the output, to check both cases write the same Terraform. */
  shape: string;
}

const ROOT = resolve(__dirname, "..", "..");
const SIZES = [10, 100, 1000];
const GPUS_PER_HOST = 4;
const ADDRESSES = ["0000:3b:00.0", "0000:5e:00.0", "0000:af:00.0", "0000:d8:00.0"];
const TEMPLATE = "ubuntu-2204-efi";
const DATACENTER = "DC-BENCH";
const BASE_IMAGE = "/var/lib/libvirt/images/noble.img";
const TARGET_RATIO = 1.3;
const TARGET_APP_MS = 800;

/** BENCH_RUNS=n sets every repeat count (e.g. BENCH_RUNS=1 for a quick check). */
function runsFor(vms: number | "app"): number {
  const env = Number(process.env.BENCH_RUNS);
  if (Number.isInteger(env) && env > 0) return env;
  return vms === "app" ? 7 : vms >= 1000 ? 3 : 5;
}

/** N VMs with one A100 80GB each, on N/4 hosts of four GPUs, in one site: what a GPU farm looks like. */
function benchFleet(backend: Backend, vms: number): Fleet {
  const libvirt = backend === "libvirt";
  const hosts = Array.from({ length: Math.ceil(vms / GPUS_PER_HOST) }, (_, i) => ({
    name: libvirt ? `kvm-gpu-${i}` : `esx-gpu-${i}.bench.example.com`,
    site: "bench",
    ...(libvirt
      ? {
          libvirt: {
            uri: `qemu+ssh://root@kvm-gpu-${i}.bench.example.com/system`,
            cpuVendor: "intel" as const,
            iommuGroups: ADDRESSES.map((address, g) => ({ id: 40 + g, devices: [address] })),
          },
        }
      : { datastore: "nvme-ds", network: "VM Network" }),
    gpus: ADDRESSES.map((address) => ({ address: PciAddress.parse(address), model: "nvidia-a100-80gb" })),
  }));
  return {
    sites: [
      libvirt
        ? { name: "bench", libvirt: {} }
        : { name: "bench", vsphere: { server: "vcenter.bench.example.com", datacenter: DATACENTER } },
    ],
    hosts,
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `gpu-vm-${i}`,
      host: hosts[Math.floor(i / GPUS_PER_HOST)].name,
      gpus: [PciAddress.parse(ADDRESSES[i % GPUS_PER_HOST])],
      cpus: 16,
      memoryGib: 128,
      ...(libvirt ? { libvirt: { baseImage: BASE_IMAGE } } : { vsphere: { template: TEMPLATE } }),
    })),
  };
}

// ---- child side: one case, one size, one JSON line on stdout ----

async function child(backend: Backend, kind: Case, vms: number): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), "bench-synth-"));
  try {
    const fleet = benchFleet(backend, vms); // the input, built before the clock starts in both cases
    const loadStart = performance.now();
    const synth =
      kind === "library"
        ? await loadLibrary(fleet, outdir)
        : backend === "vsphere"
          ? await loadBaseline(fleet, outdir)
          : await loadLibvirtBaseline(fleet, outdir);
    const [synthStart, cpuStart] = [performance.now(), process.cpuUsage()];
    synth();
    const [end, cpu] = [performance.now(), process.cpuUsage(cpuStart)];
    const sample: Sample = {
      loadMs: synthStart - loadStart,
      synthMs: end - synthStart,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: process.resourceUsage().maxRSS / 1024, // kB
      heapMb: process.memoryUsage().heapUsed / 2 ** 20,
      shape: outputShape(join(outdir, "stacks", "bench", "cdk.tf.json")),
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    rmSync(outdir, { recursive: true, force: true }); // also when the synth throws (not when V8 aborts)
  }
}

/** Loads the modules a fleet app loads (timed as module load) and returns the synth (timed as synth). */
async function loadLibrary(fleet: Fleet, outdir: string): Promise<() => void> {
  const { PassthroughApp } = await import("../lib/validation/app");
  const { buildFleetStacks } = await import("../stacks/fleet-app");
  return () => {
    const app = new PassthroughApp({ outdir });
    buildFleetStacks(app, fleet);
    app.synth(); // validates every construct of the app first, as users get it
  };
}

/** The same libvirt Terraform written by hand: a provider per host, and per VM its volumes, seed and domain. */
async function loadLibvirtBaseline(fleet: Fleet, outdir: string): Promise<() => void> {
  const { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } = await import("cdktf");
  const { LibvirtProvider } = await import("../.gen/providers/libvirt/provider");
  const { Domain } = await import("../.gen/providers/libvirt/domain");
  const { Volume } = await import("../.gen/providers/libvirt/volume");
  const { CloudinitDisk } = await import("../.gen/providers/libvirt/cloudinit-disk");
  return () => {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "bench");
    new LocalBackend(stack, { path: "../../../terraform.bench.tfstate" });
    const providers = new Map(
      fleet.hosts.map((h) => {
        const alias = h.name.replace(/[^A-Za-z0-9]/g, "_");
        const uri = new TerraformVariable(stack, `libvirt_uri_${alias}`, {
          type: "string",
          sensitive: true,
          nullable: true,
        });
        uri.addOverride("default", (h.libvirt as { uri?: string } | undefined)?.uri);
        new TerraformOutput(stack, `host_steps_${alias}`, {
          value: [
            "bios: enable VT-d",
            "intel_iommu=on iommu=pt vfio-pci.ids=10de:20b5",
            "update-initramfs -u",
            "reboot",
          ],
        });
        return [h.name, new LibvirtProvider(stack, `libvirt-${alias}`, { alias, uri: uri.stringValue })];
      }),
    );
    for (const v of fleet.vms) {
      const provider = providers.get(v.host);
      const address = typeof v.gpus === "number" ? ADDRESSES[0] : v.gpus[0];
      const bus = parseInt(String(address).slice(5, 7), 16);
      const boot = new Volume(stack, `${v.name}-boot`, {
        provider,
        name: `${v.name}-boot.qcow2`,
        pool: "default",
        capacity: 40 * 1024 ** 3,
        target: { format: { type: "qcow2" } },
        backingStore: { path: BASE_IMAGE, format: { type: "qcow2" } },
      });
      const seed = new CloudinitDisk(stack, `${v.name}-seed`, {
        provider,
        name: `${v.name}-cloudinit`,
        userData: `#cloud-config\nhostname: ${v.name}\n`,
        metaData: `instance-id: ${v.name}\nlocal-hostname: ${v.name}\n`,
      });
      const iso = new Volume(stack, `${v.name}-iso`, {
        provider,
        name: `${v.name}-cloudinit.iso`,
        pool: "default",
        target: { format: { type: "raw" } },
        create: { content: { url: seed.path } },
      });
      new Domain(stack, v.name, {
        provider,
        dependsOn: [boot, iso],
        name: v.name,
        type: "kvm",
        description: `GPU passthrough VM: ${address} NVIDIA A100 80GB PCIe`,
        memory: v.memoryGib * 1024,
        memoryUnit: "MiB",
        vcpu: v.cpus,
        running: true,
        autostart: false,
        update: { shutdown: { timeout: 300 } },
        destroy: { graceful: true, shutdown: { timeout: 300 } },
        os: {
          type: "hvm",
          typeArch: "x86_64",
          typeMachine: "q35",
          loader: "/usr/share/OVMF/OVMF_CODE_4M.fd",
          loaderReadonly: "yes",
          loaderType: "pflash",
          loaderSecure: "no",
          nvRam: {
            nvRam: `/var/lib/libvirt/qemu/nvram/${v.name}_VARS.fd`,
            template: "/usr/share/OVMF/OVMF_VARS_4M.fd",
          },
          bootDevices: [{ dev: "hd" }],
        },
        cpu: {
          mode: "host-passthrough",
          check: "none",
          topology: { sockets: 1, dies: 1, cores: v.cpus, threads: 1 },
          maxPhysAddr: { mode: "passthrough" },
        },
        memoryBacking: { memoryLocked: true },
        features: { acpi: true, apic: {}, ioapic: { driver: "kvm" } },
        devices: {
          disks: [
            {
              device: "disk",
              driver: { name: "qemu", type: "qcow2" },
              source: { volume: { pool: "default", volume: `${v.name}-boot.qcow2` } },
              target: { dev: "vda", bus: "virtio" },
            },
            {
              device: "cdrom",
              source: { volume: { pool: "default", volume: `${v.name}-cloudinit.iso` } },
              target: { dev: "sda", bus: "sata" },
              readOnly: true,
            },
          ],
          interfaces: [{ source: { network: { network: "default" } }, model: { type: "virtio" } }],
          hostdevs: [
            {
              managed: true,
              subsysPci: { source: { address: { domain: 0, bus, slot: 0, function: 0 } }, driver: { name: "vfio" } },
            },
          ],
        },
        qemuCommandline: { args: [{ value: "-fw_cfg" }, { value: "name=opt/ovmf/X-PciMmio64Mb,string=262144" }] },
      });
    }
    app.synth();
  };
}

/** The same Terraform written by hand: every attribute the library derives is a literal or a lookup here. */
async function loadBaseline(fleet: Fleet, outdir: string): Promise<() => void> {
  const { App, Fn, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } = await import("cdktf");
  const { VsphereProvider } = await import("@cdktf/provider-vsphere/lib/provider");
  const { VirtualMachine } = await import("@cdktf/provider-vsphere/lib/virtual-machine");
  const { DataVsphereDatacenter } = await import("@cdktf/provider-vsphere/lib/data-vsphere-datacenter");
  const { DataVsphereDatastore } = await import("@cdktf/provider-vsphere/lib/data-vsphere-datastore");
  const { DataVsphereHost } = await import("@cdktf/provider-vsphere/lib/data-vsphere-host");
  const { DataVsphereNetwork } = await import("@cdktf/provider-vsphere/lib/data-vsphere-network");
  const { DataVsphereVirtualMachine } = await import("@cdktf/provider-vsphere/lib/data-vsphere-virtual-machine");
  return () => {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "bench");
    new LocalBackend(stack, { path: "../../../terraform.bench.tfstate" });
    const secret = (name: string) => {
      const v = new TerraformVariable(stack, name, { type: "string", sensitive: true, nullable: true });
      v.addOverride("default", null);
      return v.stringValue;
    };
    const site = (fleet.sites[0].vsphere as { server: string } | undefined) ?? { server: "" };
    const user = secret("vsphere_user");
    new VsphereProvider(stack, "vsphere", { vsphereServer: site.server, user, password: secret("vsphere_password") });
    const datacenterId = new DataVsphereDatacenter(stack, "datacenter", { name: DATACENTER }).id;
    const datastore = new DataVsphereDatastore(stack, "datastore", { name: "nvme-ds", datacenterId });
    const network = new DataVsphereNetwork(stack, "network", { name: "VM Network", datacenterId });
    const template = new DataVsphereVirtualMachine(stack, "template", { name: TEMPLATE, datacenterId });
    const hosts = new Map(
      fleet.hosts.map((h) => [h.name, new DataVsphereHost(stack, h.name, { name: h.name, datacenterId })]),
    );
    // The library's host_steps outputs: the same commands, the prose shortened.
    for (const h of fleet.hosts) {
      const cmd = (a: string) =>
        `govc host.esxcli -dc=${DATACENTER} -host=${h.name} hardware pci pcipassthru set -d ${a} -e true -a`;
      new TerraformOutput(stack, `host_steps_${h.name.replace(/[^A-Za-z0-9]/g, "_")}`, {
        description: `Steps outside Terraform that ${h.name} needs before its GPUs can be passed through`,
        value: ["bios: Enable VT-d", 'bios: Enable "Above 4G decoding"', ...ADDRESSES.map(cmd), "reboot: ESXi 6.x"],
      });
    }
    for (const v of fleet.vms) {
      const host = hosts.get(v.host)!;
      new VirtualMachine(stack, v.name, {
        name: v.name,
        resourcePoolId: host.resourcePoolId,
        hostSystemId: host.id,
        datastoreId: datastore.id,
        numCpus: v.cpus,
        numCoresPerSocket: v.cpus,
        memory: v.memoryGib * 1024,
        memoryReservation: v.memoryGib * 1024,
        memoryReservationLockedToMax: true,
        cpuHotAddEnabled: false,
        cpuHotRemoveEnabled: false,
        memoryHotAddEnabled: false,
        nestedHvEnabled: false,
        firmware: "efi",
        efiSecureBootEnabled: false,
        guestId: template.guestId,
        scsiType: template.scsiType,
        networkInterface: [{ networkId: network.id, adapterType: Fn.element(template.networkInterfaceTypes, 0) }],
        disk: [
          { label: "disk0", size: template.disks.get(0).size, thinProvisioned: template.disks.get(0).thinProvisioned },
        ],
        clone: { templateUuid: template.id },
        pciDeviceId: typeof v.gpus === "number" ? [] : v.gpus.map(String),
        extraConfig: { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "256" }, // one A100 80GB
      });
    }
    app.synth();
  };
}

/** e.g. `data.vsphere_host=25 output=25 resource.vsphere_virtual_machine=100 ... vm:clone,cpu_hot_add_enabled,...`. */
function outputShape(file: string): string {
  type Blocks = Record<string, Record<string, Record<string, unknown>>>;
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, Blocks | Record<string, unknown>>;
  const counts: string[] = [];
  for (const kind of ["data", "resource"]) {
    const blocks = Object.entries((json[kind] ?? {}) as Blocks);
    counts.push(...blocks.map(([type, items]) => `${kind}.${type}=${Object.keys(items).length}`));
  }
  for (const kind of ["output", "variable"]) counts.push(`${kind}=${Object.keys(json[kind] ?? {}).length}`);
  const resources = (json.resource as Blocks | undefined) ?? {};
  const vm = Object.values(resources.vsphere_virtual_machine ?? resources.libvirt_domain ?? {})[0] ?? {};
  const attributes = Object.keys(vm).filter((k) => k !== "//");
  return `${counts.sort().join(" ")} vm:${attributes.sort().join(",")}`;
}

// ---- parent side: spawn, collect, print ----

/** Runs a child and returns its sample; a failed child ends the benchmark with its output. */
function runChild(backend: Backend, kind: Case, vms: number): Sample {
  const args = [__filename, "--child", backend, kind, String(vms)];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 2 ** 26 });
  const line = r.stdout?.trim().split("\n").pop();
  if (r.status !== 0 || !line) fail(`child ${backend} ${kind} ${vms}`, r);
  return JSON.parse(line) as Sample;
}

/** Wall time of a whole `node` process, as a user (or the cdktf CLI, minus its own start) waits for it. */
function timeProcess(args: string[], env: NodeJS.ProcessEnv): number {
  const cwd = mkdtempSync(join(tmpdir(), "bench-app-"));
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const wrote = existsSync(join(cwd, "cdktf.out", "manifest.json"));
  rmSync(cwd, { recursive: true, force: true });
  if (r.status !== 0 || !wrote) fail(`node ${args.join(" ")}`, r);
  return ms;
}

function fail(what: string, r: SpawnSyncReturns<string>): never {
  process.stderr.write(`${what} failed (status ${r.status}, signal ${r.signal})\n${r.stderr}${r.stdout}\n`);
  process.exit(1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const COLUMNS = ["case", "VMs", "runs", "load lib ms", "load base ms", "library ms", "baseline ms", "ratio"];
COLUMNS.push("cpu ratio", "library MB", "baseline MB", "mem ratio", "heap lib MB", "heap base MB");

/** A table row: the first cell left-aligned, the others right-aligned under their column names. */
function row(cells: (string | number)[]): string {
  const text = (v: string | number) =>
    typeof v === "string" || Number.isInteger(v) ? String(v) : v.toFixed(v < 100 ? 1 : 0);
  return cells.map((c, i) => (i ? text(c).padStart(Math.max(5, COLUMNS[i].length)) : text(c).padEnd(14))).join("  ");
}

const times = (x: number) => `${x.toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? "ok" : "OVER");

function parent(): void {
  // One discarded pair first: the first process to read node_modules from a cold page cache would pay for it.
  runChild("vsphere", "library", 10);
  runChild("vsphere", "baseline", 10);

  console.log(row(COLUMNS));
  const at1000: Record<string, number> = {};
  for (const backend of BACKENDS)
    for (const vms of SIZES) {
      const samples: Record<Case, Sample[]> = { library: [], baseline: [] };
      for (let i = 0; i < runsFor(vms); i++) {
        samples.library.push(runChild(backend, "library", vms)); // A B A B: noise hits both alike
        samples.baseline.push(runChild(backend, "baseline", vms));
      }
      type Key = Exclude<keyof Sample, "shape">;
      const [lib, base] = (["library", "baseline"] as const).map(
        (kind) => (key: Key) => median(samples[kind].map((s) => s[key])),
      );
      const ratio = (key: Key) => times(lib(key) / base(key));
      if (vms === 1000) {
        at1000[`${backend} time`] = lib("synthMs") / base("synthMs");
        at1000[`${backend} memory`] = lib("rssMb") / base("rssMb");
      }
      const cells = [
        `${backend} fleet`,
        vms,
        runsFor(vms),
        lib("loadMs"),
        base("loadMs"),
        lib("synthMs"),
        base("synthMs"),
      ];
      cells.push(ratio("synthMs"), ratio("cpuMs"), lib("rssMb"), base("rssMb"), ratio("rssMb"));
      console.log(row([...cells, lib("heapMb"), base("heapMb")]));
      const shapes = [samples.library[0].shape, samples.baseline[0].shape];
      if (shapes[0] !== shapes[1]) {
        console.log(`  note: the baseline no longer writes what the library writes:\n    ${shapes.join("\n    ")}`);
      }
    }
  console.log("ms: median synth time in the child, from constructing the app to cdk.tf.json written (load: requiring");
  console.log("the modules before that); cpu: user + system time of the synth; MB: peak RSS of the child process;");
  console.log("heap: V8 heap used after synth.\n");

  // The example app as `cdktf synth` runs it, next to the fixed cost of starting Node and cdktf at all.
  const appEnv = { ...process.env, FLEET_FILE: join(ROOT, "fleet.yaml") };
  const cdktf = JSON.stringify(require.resolve("cdktf"));
  const bare = `const c = require(${cdktf}); const a = new c.App(); new c.TerraformStack(a, "s"); a.synth();`;
  const [appTimes, bareTimes]: number[][] = [[], []];
  for (let i = 0; i < runsFor("app"); i++) {
    appTimes.push(timeProcess([join(ROOT, "dist", "main.js")], appEnv));
    bareTimes.push(timeProcess(["-e", bare], process.env));
  }
  const appMs = median(appTimes);
  console.log(`example app, node dist/main.js with fleet.yaml: ${appMs.toFixed(0)} ms (median of ${appTimes.length})`);
  const bareMs = median(bareTimes).toFixed(0);
  console.log(`bare cdktf app, one empty stack:                ${bareMs} ms (starting Node and cdktf)\n`);
  for (const [what, ratio] of Object.entries(at1000)) {
    const ok = ratio <= TARGET_RATIO;
    console.log(`target: synth ${what} at 1000 VMs <= ${TARGET_RATIO}x baseline: ${times(ratio)} ${verdict(ok)}`);
  }
  console.log(`target: example app <= ${TARGET_APP_MS} ms: ${appMs.toFixed(0)} ms ${verdict(appMs <= TARGET_APP_MS)}`);
}

if (process.argv[2] === "--child") {
  const [backend, kind, vms] = [process.argv[3], process.argv[4], Number(process.argv[5])];
  if ((backend !== "vsphere" && backend !== "libvirt") || (kind !== "library" && kind !== "baseline") || !(vms > 0)) {
    throw new Error("usage: --child vsphere|libvirt library|baseline N");
  }
  child(backend, kind, vms).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parent();
}
