/**
 * Property-based tests (fast-check): hostile strings in every string field of a fleet file. A base fleet holds every
 * string field of the schema (checked against the zod schema itself, so a new field cannot be missed); each run
 * replaces one or a few of them with shell and Terraform metacharacters, control and bidi characters, path traversal,
 * very long text, YAML specials, reserved JS names and credential URLs, and checks what the app makes of it: a clean
 * refusal that writes nothing, or output in which the text stays text (escaped for Terraform, commented or quoted in
 * shell scripts, inside cdktf.out).
 *
 * The app runs as users run it (`node dist/main.js`: build dist/ first with `npx tsc -p tsconfig.json`, as `npm test`
 * does) and in process, as main.ts does, for more runs in the same time. Runs are seeded: FC_SEED=<n> explores other
 * inputs, FC_FULL_SHRINK=1 lets a failure shrink to its minimal counterexample however long it takes.
 */
import { spawnSync } from "child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, relative, sep } from "path";
import { isDeepStrictEqual } from "util";
import * as fc from "fast-check";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { fleetSchema } from "../lib/fleet/schema";
import { PassthroughValidationError } from "../lib/problems";
import { synthesizeFleet } from "../stacks/fleet-app";
import { tempDir } from "./temp";

const mainJs = join(__dirname, "..", "dist", "main.js");

// A fixed default seed keeps CI deterministic; a failure message repeats the seed and path to replay it.
const SEED = Number(process.env.FC_SEED ?? 20260611);
fc.configureGlobal({ seed: SEED });

/**
 * Shrinking a failure runs the app once per candidate: a bounded number of candidates keeps a failing file within
 * CI's time, and unlike a time limit it gives the same result on every machine. FC_FULL_SHRINK=1 shrinks to the end.
 */
const shrinkable = <T>(arb: fc.Arbitrary<T>, max: number) =>
  process.env.FC_FULL_SHRINK ? arb : fc.limitShrink(arb, max);

const xmllint = spawnSync("xmllint", ["--version"]).status === 0;

// ---------------------------------------------------------------------------------------------------------------
// The base fleet: small and valid, with every string field of the schema somewhere.

const GITLAB_STATE = "https://gitlab.example.com/api/v4/projects/42/terraform/state/{stack}";

const BASE_FLEET = {
  sites: [
    {
      name: "lab",
      vsphere: { server: "vc.lab.example.com", datacenter: "DC-LAB" },
      state: {
        backend: "s3",
        bucket: "tf-state",
        key: "fleet/{stack}.tfstate",
        region: "eu-central-1",
        endpoint: "https://minio.lab.example.com:9000",
      },
    },
    {
      name: "kvm",
      libvirt: {},
      stackPer: "host",
      state: {
        backend: "http",
        address: GITLAB_STATE,
        lockAddress: `${GITLAB_STATE}/lock`,
        unlockAddress: `${GITLAB_STATE}/lock`,
        lockMethod: "POST",
        unlockMethod: "DELETE",
      },
    },
    {
      name: "archive",
      vsphere: { server: "vc2.lab.example.com", datacenter: "DC-ARCHIVE" },
      state: { backend: "local", path: "state/{stack}.tfstate" },
    },
    { name: "pve", proxmox: { endpoint: "https://pve-01.lab.example.com:8006/", insecure: false, auth: "password" } },
  ],
  hosts: [
    {
      name: "esx-01.lab.example.com",
      site: "lab",
      datastore: "nvme-ds-01",
      network: "VM Network",
      enableDirectPath: "govc",
      gpus: [
        { address: "0000:3b:00.0", model: "nvidia-a100-80gb", role: "guest" },
        { address: "0000:5e:00.0", model: "nvidia-a100-80gb" },
        { address: "0000:86:00.0", model: "nvidia-rtx-a6000", displayMode: "display-enabled" },
      ],
    },
    {
      name: "kvm-01.lab.example.com",
      site: "kvm",
      libvirt: {
        uri: "qemu+ssh://root@kvm-01.lab.example.com/system",
        cpuVendor: "amd",
        distro: "debian",
        ovmf: {
          code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
          vars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
          secureCode: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
          secureVars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
        },
        pool: "nvme",
        network: "br0",
        iommuGroups: [
          { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"], bridges: ["0000:00:03.1"] },
          { id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] },
          { id: 16, devices: ["0000:0d:00.0", "0000:0d:00.1"] },
        ],
        numaNodes: [{ id: 0, cores: ["0,8", "1,9", "2,10", "3,11", "4,12", "5,13", "6,14", "7,15"] }],
      },
      gpus: [
        {
          address: "0000:0b:00.0",
          model: {
            name: "Lab prototype GPU",
            barsMib: [16, 16384, 32],
            vendor: "nvidia",
            segment: "consumer",
            vendorId: "10de",
            deviceId: "2206",
            functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
            quirks: { hideHypervisor: true },
          },
        },
        { address: "0000:0c:00.0", model: "nvidia-rtx-3060", role: "host" },
        { address: "0000:0d:00.0", model: "nvidia-rtx-3080" },
      ],
    },
    {
      name: "pve-01.lab.example.com",
      site: "pve",
      proxmox: {
        node: "pve-01",
        cpuVendor: "intel",
        iommuGroups: [{ id: 20, devices: ["0000:41:00.0", "0000:41:00.1"], bridges: ["0000:40:01.1"] }],
        devices: "mapping",
        subsystemIds: [{ gpu: "0000:41:00.0", id: "1458:4105" }],
        datastore: "local-zfs",
        bridge: "vmbr1",
      },
      gpus: [{ address: "0000:41:00.0", model: "nvidia-rtx-4090" }],
    },
  ],
  vms: [
    {
      name: "ws-win-01",
      host: "esx-01.lab.example.com",
      gpus: ["0000:3b:00.0"],
      cpus: 8,
      memoryGib: 64,
      firmware: "efi",
      vsphere: {
        template: "win11-efi",
        datastore: "nvme-ds-02",
        network: "Desktops",
        folder: "Lab/Desktops",
        customize: {
          windows: {
            computerName: "WS-WIN-01",
            adminPasswordVariable: "windows_admin_password",
            timeZone: 85,
            runOnceCommands: ["powershell -Command Get-Service"],
          },
          ipv4: { address: "10.0.0.21", netmask: 24, gateway: "10.0.0.1", dnsServers: ["10.0.0.2"] },
        },
        diskController: "scsi",
        horizon: {
          toolsIso: "[nvme-ds-01] iso/VMware-tools-windows.iso",
          toolsInstaller: "d:\\setup64.exe",
          horizonAgent: true,
        },
        annotation: "Lab desktop",
      },
    },
    {
      name: "ml-01",
      host: "esx-01.lab.example.com",
      gpus: 1,
      cpus: 8,
      memoryGib: 64,
      vsphere: {
        template: "ubuntu-2204-efi",
        customize: { linux: { hostName: "ml-01", domain: "lab.example.com" } },
      },
    },
    {
      name: "kvm-vm-01",
      host: "kvm-01.lab.example.com",
      gpus: ["0000:0b:00.0"],
      cpus: 4,
      memoryGib: 16,
      secureBoot: true,
      libvirt: {
        guestOs: "linux",
        baseImage: "/var/lib/libvirt/images/base.qcow2",
        network: "br1",
        cloudInit: {
          hostName: "kvm-vm-01",
          sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops"],
          userData: "#cloud-config\npackages: [htop]\n",
        },
        vcpuPins: ["4", "5", "6", "7"],
        hugepages: "1G",
        gpuRom: { file: "/usr/share/vbios/gpu.rom", bar: true },
        usbDevices: [{ vendorId: "046d", productId: "c52b", description: "Logitech receiver" }],
        hypervisorVendorId: "0123456789ab",
      },
    },
    // Without userData: the cloud-config is built from hostName and the keys, so they reach a generated YAML document.
    {
      name: "kvm-vm-02",
      host: "kvm-01.lab.example.com",
      gpus: 1,
      cpus: 4,
      memoryGib: 8,
      libvirt: {
        baseImage: "/var/lib/libvirt/images/noble.img",
        cloudInit: { hostName: "kvm-guest-02", sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther dev"] },
      },
    },
    {
      name: "pve-vm-01",
      host: "pve-01.lab.example.com",
      gpus: 1,
      cpus: 8,
      memoryGib: 32,
      proxmox: {
        vmId: 301,
        datastore: "local-lvm",
        diskGib: 128,
        diskInterface: "virtio0",
        bridge: "vmbr2",
        osType: "win11",
        iso: "local:iso/Win11.iso",
        vga: "none",
        gpuRom: { file: "rtx4090.rom", bar: true },
        hugepages: "1G",
        tags: ["lab"],
      },
    },
  ],
};

type Path = readonly (string | number)[];

const formatPath = (path: Path) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");

/** Every string in the base fleet, as its path: the fields a run can replace. */
function stringPaths(value: unknown, path: Path = []): Path[] {
  if (typeof value === "string") return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...path, i]));
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...path, k]));
  return [];
}

const FIELDS: readonly Path[] = stringPaths(BASE_FLEET);
const fieldName = (path: Path) => formatPath(path);
/** `vms[].vsphere.annotation`: the schema field a path is an instance of. */
const fieldPattern = (path: Path) =>
  formatPath(path.map((p) => (typeof p === "number" ? "[]" : p))).replace(/\.\[\]/g, "[]");

/** Every string-valued field of the zod schema (strings, enums, literals), as `vms[].vsphere.annotation`. */
function schemaStringFields(schema: z.ZodType, path = "", out = new Set<string>()): Set<string> {
  const def = (schema as unknown as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case "object":
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>))
        schemaStringFields(child, path ? `${path}.${key}` : key, out);
      break;
    case "array":
      schemaStringFields(def.element, `${path}[]`, out);
      break;
    case "optional":
    case "nullable":
    case "default":
      schemaStringFields(def.innerType, path, out);
      break;
    case "union":
      for (const option of def.options) schemaStringFields(option, path, out);
      break;
    case "pipe":
      schemaStringFields(def.in, path, out);
      break;
    case "string":
    case "enum":
    case "literal":
      out.add(path);
      break;
    case "number":
    case "boolean":
      break;
    default:
      // A kind of schema this walker does not know: fail loudly rather than skip its strings.
      out.add(`${path} (unknown schema type ${String(def.type)})`);
  }
  return out;
}

/** Where a site's and a host's names are referenced: list and key. */
const REFERENCES: Readonly<Record<string, readonly [string, string]>> = {
  "sites[].name": ["hosts", "site"],
  "hosts[].name": ["vms", "host"],
};

/**
 * The base fleet with the injected values. A site or host name is renamed where it is referenced too, so that a
 * hostile name can be accepted and reach the output rather than always fail as an unknown reference.
 */
function withValues(injections: readonly Injection[]): unknown {
  const fleet = JSON.parse(JSON.stringify(BASE_FLEET));
  for (const inj of injections) {
    let node = fleet;
    for (const key of inj.field.slice(0, -1)) node = node[key];
    const old = node[inj.field[inj.field.length - 1]];
    node[inj.field[inj.field.length - 1]] = arriving(inj);
    const references = REFERENCES[fieldPattern(inj.field)];
    if (references) {
      const [list, key] = references;
      for (const entry of fleet[list]) if (entry[key] === old) entry[key] = arriving(inj);
    }
  }
  return fleet;
}

function baseValue(path: Path): string {
  let node: any = BASE_FLEET;
  for (const key of path) node = node[key];
  return node as string;
}

/** The fleet as YAML; the yaml package quotes, so every value must arrive exactly as generated (checked). */
function fleetYaml(injections: readonly Injection[]): string {
  const fleet = withValues(injections);
  const text = stringify(fleet, { lineWidth: 0 });
  const back = parse(Buffer.from(text, "utf8").toString("utf8"));
  // JSON, not isDeepStrictEqual: jest's sandbox and yaml's objects have different Object prototypes.
  if (JSON.stringify(back) !== JSON.stringify(fleet))
    throw new Error(`test bug: the YAML does not round-trip:\n${text}`);
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile strings.

const LONG_LENGTHS = [12, 13, 16, 63, 64, 65, 80, 81, 253, 254, 255, 256, 300, 2048, 2049, 4096, 4097, 5000, 8192];

/** The hostile-token dictionary, by kind: a run picks a kind first, so that rare kinds come up as often as common ones. */
const TOKENS: Readonly<Record<string, readonly string[]>> = {
  shell: [
    "$(touch /tmp/hostile-pwned)",
    "`id`",
    "; reboot",
    "| sh",
    "&& rm -rf /",
    "'",
    '"',
    "'\\''",
    "\\",
    "$HOME",
    "*",
    "#",
    " ",
  ],
  terraform: [
    '${file("/etc/passwd")}',
    "${var.vsphere_password}",
    "%{ if true }x%{ endif }",
    "$${x}",
    "%%{x}",
    "$$${x}",
    "${",
    "%{",
    "}",
  ],
  control: ["\n", "\r", "\r\n", "\u0000", "\u0007", "\u001b[2J", "\t", "\u007f", "\u0085"],
  path: ["..", "/", "../../escaped", "../../../../../../../../../tmp/hostile-escape", "./", "~root"],
  unicode: [
    "\u202e",
    "\u2066",
    "\u2028",
    "\u2029",
    "\u200b",
    "\ufeff",
    "😀",
    "e\u0301",
    "\u{1f468}\u200d\u{1f4bb}",
    "İ",
  ],
  yaml: [
    "- x",
    "? x",
    ": x",
    "&a",
    "*a",
    "!!str",
    "{a: 1}",
    "[1, 2]",
    "null",
    "~",
    "yes",
    "on",
    "no",
    "12:30",
    "0777",
    "0x1f",
    "1e3",
    "---",
    "<<",
  ],
  // constructor and prototype are valid site names too.
  reserved: ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "prototype", "isPrototypeOf"],
  credential: [
    "https://user:pw@host/x",
    "https://gitlab.example.com/x?private_token=abc",
    "qemu+ssh://root:pw@kvm/system",
  ],
  xml: ["<x/>", "&amp;", "]]>"],
  // Names the fleet or the library already uses (construct ids, Terraform names, stacks): a clash, not a syntax.
  clash: [
    "vsphere",
    "backend",
    "gpu-passthrough-manifest",
    "gpu-passthrough-snapshot-rule",
    "GpuPassthroughLedger",
    "vsphere_password",
    "libvirt_uri_kvm_01_lab_example_com",
    "host_steps_esx_01_lab_example_com",
    "vsphere-DC-LAB",
    "libvirt-kvm_01_lab_example_com",
    "lab",
    "kvm-kvm-01-lab-example-com",
    "ml-01",
    "kvm-vm-01",
    "esx-01.lab.example.com",
    "ESX-01.LAB.EXAMPLE.COM",
    "kvm-01.lab.example.com",
  ],
};

const token = fc.oneof(...Object.values(TOKENS).map((kind) => fc.constantFrom(...kind)));
const fragment = fc.oneof(
  { weight: 4, arbitrary: token },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);
/** Lengths at and around every limit the schema has, bare or ending in a token. */
const long = fc
  .tuple(fc.constantFrom(...LONG_LENGTHS), fc.option(token, { nil: "" }))
  .map(([n, t]) => "a".repeat(n) + t);
const hostile = fc
  .oneof(
    { weight: 3, arbitrary: token },
    { weight: 4, arbitrary: fc.array(fragment, { minLength: 2, maxLength: 5 }).map((parts) => parts.join("")) },
    { weight: 1, arbitrary: long },
  )
  // A file holds UTF-8: a lone surrogate would not arrive as generated.
  .filter((s) => Buffer.from(s, "utf8").toString("utf8") === s);

type Mode = "replace" | "append" | "prepend";

interface Injection {
  readonly field: Path;
  readonly mode: Mode;
  readonly value: string;
}

/** The text the field gets: the hostile value alone, or around the base value (a path, a URL, #cloud-config). */
function arriving(inj: Injection): string {
  const base = baseValue(inj.field);
  return inj.mode === "replace" ? inj.value : inj.mode === "append" ? base + inj.value : inj.value + base;
}

const injection = (fields: readonly Path[], value: fc.Arbitrary<string> = hostile, modes?: Mode[]) =>
  fc.record({
    field: fc.constantFrom(...fields),
    mode: fc.constantFrom<Mode>(...(modes ?? ["replace", "append", "prepend"])),
    value,
  });

/**
 * One to `max` injections. The extra ones are a separate array so that shrinking can drop all of them (fast-check
 * shrinks an array by dropping its first items, so a failing first injection would otherwise keep the others).
 */
const injections = (one: fc.Arbitrary<Injection>, max: number) =>
  fc.tuple(one, fc.array(one, { maxLength: max - 1 })).map(([first, rest]) => [first, ...rest]);

const describeInjections = (injections: readonly Injection[]) =>
  injections.map((i) => `${fieldName(i.field)} = ${JSON.stringify(arriving(i))}`).join("; ");

// ---------------------------------------------------------------------------------------------------------------
// Running the app.

interface Run {
  readonly kind: "child" | "inProcess";
  /** 0: synthesized; 1: refused with problems. */
  readonly status: number | null;
  readonly stderr: string;
  /** The scratch directory that holds everything the run may touch. */
  readonly root: string;
  readonly out: string;
  /** What `root` may hold afterwards besides the outdir and what is under it. */
  readonly expectedEntries: readonly string[];
}

/** `node dist/main.js` in root/work, the fleet file beside it, output in root/work/cdktf.out. */
function runChild(yamlText: string): Run {
  if (!existsSync(mainJs)) throw new Error("dist/main.js is missing: run `npx tsc -p tsconfig.json` (npm test does)");
  const root = tempDir("gpt-hf-");
  const work = join(root, "work");
  mkdirSync(work);
  const fleetFile = join(work, "fleet.yaml");
  writeFileSync(fleetFile, yamlText);
  const out = join(work, "cdktf.out");
  const result = spawnSync(process.execPath, [mainJs], {
    cwd: work,
    env: { PATH: process.env.PATH ?? "", FLEET_FILE: fleetFile, CDKTF_OUTDIR: out },
    encoding: "utf8",
    timeout: 60_000,
  });
  return {
    kind: "child",
    status: result.status,
    stderr: `${result.stderr}${result.error ? `\nspawn: ${result.error.message}` : ""}`,
    root,
    out,
    expectedEntries: ["work", join("work", "fleet.yaml")],
  };
}

/** What main.ts does, in this process (synthesizeFleet, and main's messages): more runs in the same time. */
function runInProcess(yamlText: string): Run {
  const root = tempDir("gpt-hf-");
  const fleetFile = join(root, "fleet.yaml");
  writeFileSync(fleetFile, yamlText);
  const out = join(root, "cdktf.out");
  const run = (status: number, stderr: string): Run => ({
    kind: "inProcess",
    status,
    stderr,
    root,
    out,
    expectedEntries: ["fleet.yaml"],
  });
  try {
    const problems = synthesizeFleet(fleetFile, { outdir: out });
    if (!problems.length) return run(0, "");
    return run(1, `${new PassthroughValidationError(problems, "fleet.yaml has problems").message}\n`);
  } catch (e) {
    if (e instanceof PassthroughValidationError) return run(1, `${e.message}\n`);
    return run(1, `gpu-passthrough: internal error: ${(e as Error).message}\n${(e as Error).stack}\n`);
  }
}

/** Every entry under `dir` (relative, sorted), without following links. */
function entriesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      found.push(relative(dir, p));
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

/** Regular files under `dir`, by relative path. */
function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const rel of entriesUnder(dir)) {
    const p = join(dir, rel);
    if (lstatSync(p).isFile()) files.set(rel, readFileSync(p));
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------------------
// Terraform templates in cdk.tf.json.

/**
 * cdktf's references: `${var.x}`, `${data.t.n.id}`, `${vsphere_virtual_machine.n.id}`, some wrapped in a function
 * (`${element(data.t.n.list, 0)}`). Anything else that Terraform would interpolate came from the user.
 */
const REFERENCE = /^\$\{(?:[a-z][a-z0-9_]*\()*(var|data|local|module|path|terraform|[a-z0-9_]+\.[A-Za-z0-9_-]+)[.[]/;

interface TemplateScan {
  /** The text of each interpolation Terraform would evaluate (`${...}`, to the first `}`). */
  readonly interpolations: string[];
  /** Directives (`%{`), which cdktf never writes. */
  readonly directives: number;
  /** What Terraform makes of the string when it holds no interpolation: the literal text. */
  readonly literal: string;
}

/** Reads a string as Terraform's template scanner does: `$${` and `%%{` are literal `${` and `%{`. */
function scanTemplate(text: string): TemplateScan {
  const interpolations: string[] = [];
  let directives = 0;
  let literal = "";
  for (let i = 0; i < text.length;) {
    if (text.startsWith("$${", i) || text.startsWith("%%{", i)) {
      literal += `${text[i]}{`;
      i += 3;
    } else if (text.startsWith("${", i)) {
      const end = text.indexOf("}", i);
      interpolations.push(end < 0 ? text.slice(i) : text.slice(i, end + 1));
      literal += "${";
      i += 2;
    } else if (text.startsWith("%{", i)) {
      directives++;
      literal += "%{";
      i += 2;
    } else {
      literal += text[i];
      i += 1;
    }
  }
  return { interpolations, directives, literal };
}

/** Every string Terraform reads as a template, with where it is; variable defaults and backends are literal. */
function templateStrings(json: unknown): { where: string; text: string }[] {
  const found: { where: string; text: string }[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (path[0] === "terraform" && path[1] === "backend") return;
    if (path[0] === "variable" && path[2] === "default") return;
    if (path[path.length - 1] === "//") return; // cdktf's metadata: a comment to Terraform
    if (typeof value === "string") found.push({ where: path.join("."), text: value });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)]));
    else if (value !== null && typeof value === "object")
      for (const [k, v] of Object.entries(value)) {
        if (path.length > 1) found.push({ where: `${path.join(".")} (key)`, text: k });
        walk(v, [...path, k]);
      }
  };
  walk(json, []);
  return found;
}

function interpolationCounts(json: unknown): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { text } of templateStrings(json))
    for (const i of scanTemplate(text).interpolations) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

// ---------------------------------------------------------------------------------------------------------------
// Shell scripts.

const isComment = (line: string) => line.trimStart().startsWith("#") || line.trim() === "";
/** The line with every single-quoted part emptied: what the shell reads as code. */
const unquoted = (line: string) => line.replace(/'[^']*'/g, "''");
/** A value shellQuote would leave bare is a plain word; only text with shell syntax in it can inject. */
const hasShellSyntax = (value: string) => /[^A-Za-z0-9_.,:/=@+%^-]/.test(value);

// ---------------------------------------------------------------------------------------------------------------
// The invariants.

/** What the base fleet synthesizes to: hostile runs are compared with it. */
interface Base {
  readonly files: Map<string, Buffer>;
  /** Interpolations per cdk.tf.json, by relative path. */
  readonly interpolations: Map<string, Map<string, number>>;
  /** The shape of every interpolation cdktf and the library write for the base fleet. */
  readonly shapes: Set<string>;
  /** The host scripts' lines, by the distribution their header names (one KVM host, one Proxmox VE node). */
  readonly scripts: Map<string, string[]>;
}

/** Per runner: dist/ and the sources are compared by a test, and each run is checked against its own runner's base. */
const bases = {} as Record<Run["kind"], Base>;

/** An interpolation with its logical ids (`ml-01_vm_8892D624`, made of names and a hash) left out. */
const shape = (interpolation: string) => interpolation.replace(/[A-Za-z0-9_-]+_[0-9A-F]{8}\b/g, "ID");

/** The distribution a host script's header names: `# Preparation of KVM host "x" for GPU passthrough (debian, ...`. */
const scriptDistro = (lines: readonly string[]) => /\((\w+), \w+ CPU\)\.$/.exec(lines[1] ?? "")?.[1] ?? "";
/** The host scripts the base fleet writes: its KVM host's and its Proxmox VE node's. */
const BASE_SCRIPTS = 2;

function baseFrom(run: Run): Base {
  const files = filesUnder(run.out);
  const interpolations = new Map<string, Map<string, number>>();
  for (const [rel, bytes] of files)
    if (rel.endsWith("cdk.tf.json")) interpolations.set(rel, interpolationCounts(JSON.parse(bytes.toString("utf8"))));
  const shapes = new Set([...interpolations.values()].flatMap((counts) => [...counts.keys()].map(shape)));
  const scripts = [...files.keys()].filter((f) => f.endsWith(`${sep}prepare-host.sh`));
  if (run.status !== 0 || scripts.length !== BASE_SCRIPTS)
    throw new Error(
      `the base fleet: exit ${run.status}, ${scripts.length} host scripts (expected ${BASE_SCRIPTS})\n${run.stderr}`,
    );
  const lines = scripts.map((f) => files.get(f)!.toString("utf8").split("\n"));
  return { files, interpolations, shapes, scripts: new Map(lines.map((l) => [scriptDistro(l), l])) };
}

/** What is wrong with a run of a fleet holding `values`; [] when nothing. */
function violations(run: Run, values: readonly string[]): string[] {
  const found: string[] = [];
  const v = (message: string) => found.push(message);
  if (run.status !== 0 && run.status !== 1) v(`exit code ${run.status}, expected 0 or 1; stderr: ${run.stderr}`);
  if (/^\s+at /m.test(run.stderr)) v(`stderr holds a stack trace line:\n${run.stderr}`);
  if (/internal error/i.test(run.stderr)) v(`stderr reports an internal error:\n${run.stderr}`);

  const ok = run.status === 0;
  const outside = entriesUnder(run.root).filter((e) => {
    const p = join(run.root, e);
    return p !== run.out && !p.startsWith(run.out + sep);
  });
  if (!isDeepStrictEqual(outside, run.expectedEntries))
    v(`written outside the outdir: ${JSON.stringify(outside.filter((e) => !run.expectedEntries.includes(e)))}`);
  // The path and shell tokens name these: they exist only if a value escaped the outdir or ran.
  for (const dir of new Set(["/tmp", tmpdir()]))
    for (const marker of ["hostile-escape", "hostile-pwned"])
      if (existsSync(join(dir, marker))) v(`${join(dir, marker)} was created`);

  const files = filesUnder(run.out);
  if (!ok) {
    if (!/has problems \(\d+\):/.test(run.stderr)) v(`exit 1 without a problem list; stderr: ${run.stderr}`);
    if (files.size) v(`a refused fleet wrote ${[...files.keys()].join(", ")}`);
    return found;
  }

  const outReal = realpathSync(run.out);
  for (const rel of entriesUnder(run.out)) {
    const real = realpathSync(join(run.out, rel));
    if (!real.startsWith(outReal + sep)) v(`${rel} resolves to ${real}, outside the outdir`);
  }
  const scripts: string[] = [];
  for (const [rel, bytes] of files) {
    const text = bytes.toString("utf8");
    if (rel.endsWith(".json")) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        v(`${rel} is not JSON: ${(e as Error).message}`);
        continue;
      }
      if (rel.endsWith("cdk.tf.json")) found.push(...templateViolations(bases[run.kind], rel, json, values));
    }
    if (rel.endsWith(`${sep}prepare-host.sh`)) scripts.push(rel);
    if (rel.endsWith(".xml") && xmllint) {
      const lint = spawnSync("xmllint", ["--noout", join(run.out, rel)], { encoding: "utf8" });
      if (lint.status !== 0) v(`${rel} is not well-formed XML: ${lint.stderr}`);
    }
  }
  if (scripts.length !== BASE_SCRIPTS) v(`${scripts.length} host scripts written, expected ${BASE_SCRIPTS}`);
  for (const rel of scripts) found.push(...scriptViolations(bases[run.kind], rel, join(run.out, rel), values));
  return found;
}

/**
 * Every `%{` is escaped, and every `${` is escaped or generated: a reference, or an expression the base fleet has too
 * (`${disk.key}` in a dynamic block, a precondition's `${(length(...) >= 1)}`), and not one more than it has when the
 * fleet's value holds it.
 */
function templateViolations(base: Base, rel: string, json: unknown, values: readonly string[]): string[] {
  const found: string[] = [];
  const baseCounts = base.interpolations.get(rel) ?? new Map<string, number>();
  const counts = interpolationCounts(json);
  for (const { where, text } of templateStrings(json)) {
    const scan = scanTemplate(text);
    if (scan.directives) found.push(`${rel} ${where}: un-escaped template directive %{ in ${JSON.stringify(text)}`);
    for (const i of scan.interpolations) {
      if (!REFERENCE.test(i) && !base.shapes.has(shape(i)))
        found.push(`${rel} ${where}: un-escaped interpolation ${i} in ${JSON.stringify(text)}`);
      // A reference-shaped text the user wrote (${var.vsphere_password}) is one more than the base fleet has.
      else if (values.some((value) => value.includes(i)) && (counts.get(i) ?? 0) > (baseCounts.get(i) ?? 0))
        found.push(`${rel} ${where}: the fleet's ${i} became an interpolation in ${JSON.stringify(text)}`);
    }
  }
  return found;
}

function scriptViolations(base: Base, rel: string, file: string, values: readonly string[]): string[] {
  const found: string[] = [];
  const syntax = spawnSync("sh", ["-n", file], { encoding: "utf8" });
  if (syntax.status !== 0) found.push(`${rel} fails sh -n: ${syntax.stderr}`);
  const lines = readFileSync(file, "utf8").split("\n");
  const script = base.scripts.get(scriptDistro(lines)) ?? [];
  if (lines.length !== script.length)
    found.push(`${rel} has ${lines.length} lines, the base fleet's ${script.length}: a value added lines`);
  const words = values.flatMap((value) => [value, value.trim()]).filter((w) => w.trim() && hasShellSyntax(w));
  lines.forEach((line, n) => {
    if (isComment(line)) return;
    for (const w of words)
      if (unquoted(line).includes(w) && !unquoted(script[n] ?? "").includes(w))
        found.push(`${rel} line ${n + 1} holds ${JSON.stringify(w)} outside quotes: ${line}`);
  });
  return found;
}

function check(run: Run, injections: readonly Injection[]): void {
  const found = violations(
    run,
    injections.map((i) => arriving(i)),
  );
  rmSync(run.root, { recursive: true, force: true });
  if (found.length)
    throw new Error(`${describeInjections(injections)}\nexit ${run.status}\n${found.slice(0, 5).join("\n")}`);
}

// ---------------------------------------------------------------------------------------------------------------

const baseRuns = {} as Record<Run["kind"], Run>;

beforeAll(() => {
  baseRuns.child = runChild(fleetYaml([]));
  baseRuns.inProcess = runInProcess(fleetYaml([]));
  bases.child = baseFrom(baseRuns.child);
  bases.inProcess = baseFrom(baseRuns.inProcess);
}, 60_000);

describe("the base fleet", () => {
  test("holds every string field of the schema", () => {
    const inBase = new Set(FIELDS.map(fieldPattern));
    const missing = [...schemaStringFields(fleetSchema)].filter((f) => !inBase.has(f));
    expect(missing).toEqual([]);
  });

  test("synthesizes with no invariant broken", () => {
    expect(violations(baseRuns.child, [])).toEqual([]);
    expect(violations(baseRuns.inProcess, [])).toEqual([]);
    expect([...bases.child.scripts.keys()].sort()).toEqual(["debian", "proxmox"]);
    for (const script of bases.child.scripts.values())
      expect(script.filter((l) => !isComment(l)).length).toBeGreaterThan(5);
  });

  test("synthesizes the same in process as with node dist/main.js (else dist/ is older than the sources)", () => {
    expect(bases.inProcess.files).toEqual(bases.child.files);
  });
});

/** Fields that name things: construct ids, directories, stacks and Terraform names are made of them. */
const NAME_PATTERNS = [
  "sites[].name",
  "hosts[].name",
  "vms[].name",
  "vms[].vsphere.customize.windows.adminPasswordVariable",
];
const NAME_FIELDS = FIELDS.filter((f) => NAME_PATTERNS.includes(fieldPattern(f)));
/** Tokens that are valid names, or nearly: they pass the name rules and reach construct ids and paths. */
const nameLike = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TOKENS.reserved, ...TOKENS.reserved.map((t) => t.toLowerCase())) },
  { weight: 3, arbitrary: fc.constantFrom(...TOKENS.clash, ...TOKENS.clash.map((t) => t.toLowerCase())) },
  { weight: 1, arbitrary: fc.constantFrom(...TOKENS.yaml) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,12}$/) },
  { weight: 1, arbitrary: hostile },
);

/**
 * Counterexamples these properties found, run first on every run (fast-check's `examples`) so that a fix stays fixed
 * whatever the seed draws; the properties keep generating new inputs after them.
 */
const FOUND = {
  /** An internal error with a stack trace: constructs keeps children in a plain object, where `constructor` exists. */
  constructorSite: { field: ["sites", 0, "name"], mode: "replace", value: "constructor" } as Injection,
  /** A password with ? or # ends the authority early: it was taken for a host and accepted (fixed in 741a36d). */
  passwordWithQuestionMark: {
    field: ["sites", 0, "state", "endpoint"],
    credential: { url: "https://admin:SxAa0?0Aa@host.example.com", secret: "SxAa0?0Aa" },
  },
  passwordWithHash: {
    field: ["hosts", 1, "libvirt", "uri"],
    credential: { url: "qemu+tls://root:Sx08c#NS9G97@kvm-01", secret: "Sx08c#NS9G97" },
  },
  /** A query-string token outside the URL fields: echoed in the problem list, or accepted and written. */
  tokenInVcpuPin: {
    field: ["vms", 2, "libvirt", "vcpuPins", 0],
    credential: { url: "https://host.example.com/?private_token=SxA0A0aA", secret: "SxA0A0aA" },
  },
  tokenInAnnotation: {
    field: ["vms", 0, "vsphere", "annotation"],
    credential: { url: "https://host.example.com/x?private_token=SxSecret2", secret: "SxSecret2" },
  },
  /** cloud-init's YAML 1.1 read `on` as true and 12:30:45 as 45045 (fixed in dec69ed). */
  booleanHostName: { field: ["vms", 3, "libvirt", "cloudInit", "hostName"], mode: "replace", value: "on" } as Injection,
  sexagesimalHostName: {
    field: ["vms", 3, "libvirt", "cloudInit", "hostName"],
    mode: "replace",
    value: "12:30:45",
  } as Injection,
  /** A rejected PCI address is echoed raw: a newline forges a problem line, ESC drives the terminal. */
  newlineInAddress: { field: ["vms", 0, "gpus", 0], mode: "replace", value: "\n" } as Injection,
  escapeInModel: { field: ["hosts", 0, "gpus", 0, "model"], mode: "replace", value: "\u001b[2J" } as Injection,
};

describe("hostile strings in any string field", () => {
  const anyFields = injections(injection(FIELDS), 3);

  test("node dist/main.js: exit 0 or 1, no trace, nothing written on refusal, safe output on success", () => {
    fc.assert(
      fc.property(shrinkable(anyFields, 8), (injs) => check(runChild(fleetYaml(injs)), injs)),
      { numRuns: 24 },
    );
  }, 120_000);

  // Found: a site named "constructor" was an internal error with a stack trace, not a problem.
  test("in process: names (sites, hosts, VMs, variables) that clash or look reserved", () => {
    const names = injections(injection(NAME_FIELDS, nameLike, ["replace"]), 2);
    fc.assert(
      fc.property(shrinkable(names, 20), (injs) => check(runInProcess(fleetYaml(injs)), injs)),
      { numRuns: 36, examples: [[[FOUND.constructorSite]]] },
    );
  }, 60_000);

  test("in process: the same invariants, more runs", () => {
    fc.assert(
      fc.property(shrinkable(anyFields, 20), (injs) => check(runInProcess(fleetYaml(injs)), injs)),
      { numRuns: 50 },
    );
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Credentials: a URL with user:password@ or a secret query parameter must be refused, and the secret never shown.

/** Fields that take URLs, where the schema looks for credentials. */
const URL_FIELD_PATTERNS = [
  "sites[].vsphere.server",
  "sites[].state.endpoint",
  "sites[].state.address",
  "sites[].state.lockAddress",
  "sites[].state.unlockAddress",
  "hosts[].libvirt.uri",
  "sites[].proxmox.endpoint",
];
const URL_FIELDS = FIELDS.filter((f) => URL_FIELD_PATTERNS.includes(fieldPattern(f)));
const OTHER_FIELDS = FIELDS.filter((f) => !URL_FIELD_PATTERNS.includes(fieldPattern(f)));

interface Credential {
  readonly url: string;
  readonly secret: string;
}

/** A secret recognizable in any output: a fixed prefix, letters and digits, at times a URL delimiter inside. */
const secret = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9]{6,10}$/), fc.constantFrom("#", "?", "/", "@", ":", "%40", "!", ""))
  .map(([s, d]) => `Sx${s.slice(0, 3)}${d}${s.slice(3)}`);
const credentialUrl: fc.Arbitrary<Credential> = fc
  .record({
    scheme: fc.constantFrom("https", "http", "qemu+ssh", "qemu+tls", "HTTPS"),
    user: fc.constantFrom("admin", "root", "svc-terraform"),
    host: fc.constantFrom("host.example.com", "10.0.0.1", "kvm-01", "[::1]"),
    path: fc.constantFrom("", "/", "/system", "/api/v4/projects/42/terraform/state/{stack}"),
    param: fc.constantFrom("private_token", "access_token", "password", "X-Amz-Signature", "sig", "client_secret"),
    inQuery: fc.boolean(),
    secret,
  })
  .map(({ scheme, user, host, path, param, inQuery, secret }) => ({
    url: inQuery
      ? `${scheme}://${host}${path || "/"}?ref=main&${param}=${encodeURIComponent(secret)}`
      : `${scheme}://${user}:${secret}@${host}${path}`,
    secret,
  }));

function checkCredential(field: Path, mode: Mode, credential: Credential): void {
  const inj: Injection = { field, mode, value: credential.url };
  const run = runInProcess(fleetYaml([inj]));
  const found: string[] = [];
  if (run.status !== 1) found.push(`exit ${run.status}: a credential in the fleet file was accepted`);
  const leaks = [credential.secret, encodeURIComponent(credential.secret)];
  if (leaks.some((l) => run.stderr.includes(l))) found.push(`the secret is in the problem list:\n${run.stderr}`);
  for (const [rel, bytes] of filesUnder(run.out))
    if (leaks.some((l) => bytes.includes(l))) found.push(`the secret is written to ${rel}`);
  rmSync(run.root, { recursive: true, force: true });
  if (found.length) throw new Error(`${describeInjections([inj])}\n${found.join("\n")}`);
}

describe("credentials in URLs", () => {
  test("in a URL field: refused, and the secret is in neither the problems nor any file", () => {
    fc.assert(
      fc.property(shrinkable(fc.tuple(fc.constantFrom(...URL_FIELDS), credentialUrl), 20), ([field, credential]) =>
        checkCredential(field, "replace", credential),
      ),
      {
        numRuns: 30,
        examples: [FOUND.passwordWithQuestionMark, FOUND.passwordWithHash].map((f): [[Path, Credential]] => [
          [f.field, f.credential],
        ]),
      },
    );
  }, 60_000);

  // Found: a query-string token (?private_token=) in a free-text field was accepted and written to cdk.tf.json; in a
  // PCI address, GPU model, vcpuPins, hosts[].site or vms[].host it was echoed in the problem list.
  test("in any other string field: refused, and the secret is in neither the problems nor any file", () => {
    fc.assert(
      fc.property(
        shrinkable(
          fc.tuple(fc.constantFrom(...OTHER_FIELDS), fc.constantFrom<Mode>("replace", "append"), credentialUrl),
          20,
        ),
        ([field, mode, credential]) => checkCredential(field, mode, credential),
      ),
      {
        numRuns: 30,
        examples: [FOUND.tokenInVcpuPin, FOUND.tokenInAnnotation].map((f): [[Path, Mode, Credential]] => [
          [f.field, "replace", f.credential],
        ]),
      },
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Accepted fleets: the same output wherever and however often they are synthesized.

/** Fields that take any one line (or document) of printable text, where hostile text can be accepted. */
const FREE_TEXT_PATTERNS = [
  "sites[].vsphere.datacenter",
  "hosts[].datastore",
  "hosts[].network",
  "hosts[].libvirt.ovmf.code",
  "hosts[].libvirt.pool",
  "hosts[].libvirt.network",
  "hosts[].gpus[].model.name",
  "vms[].vsphere.template",
  "vms[].vsphere.datastore",
  "vms[].vsphere.network",
  "vms[].vsphere.folder",
  "vms[].vsphere.customize.windows.runOnceCommands[]",
  "vms[].vsphere.horizon.toolsInstaller",
  "vms[].vsphere.annotation",
  "vms[].libvirt.baseImage",
  "vms[].libvirt.network",
  "vms[].libvirt.cloudInit.sshAuthorizedKeys[]",
  "vms[].libvirt.cloudInit.userData",
  "vms[].libvirt.gpuRom.file",
  "vms[].libvirt.usbDevices[].description",
  "hosts[].proxmox.datastore",
  "hosts[].proxmox.bridge",
  "vms[].proxmox.datastore",
  "vms[].proxmox.bridge",
];
const FREE_TEXT_FIELDS = FIELDS.filter((f) => FREE_TEXT_PATTERNS.includes(fieldPattern(f)));
/** Printable text the schema accepts in those fields: no control or bidi characters, within every length limit. */
const printable = hostile.filter(
  (s) =>
    s.trim() !== "" &&
    s.length <= 40 &&
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/.test(s),
);

/** Synthesizes the fleet twice, in two directories: the files must be byte-identical. */
function checkDeterminism(injs: readonly Injection[]): void {
  const text = fleetYaml(injs);
  const [a, b] = [runChild(text), runChild(text)];
  const [filesA, filesB] = [filesUnder(a.out), filesUnder(b.out)];
  for (const r of [a, b]) rmSync(r.root, { recursive: true, force: true });
  fc.pre(a.status === 0);
  const differ = [...new Set([...filesA.keys(), ...filesB.keys()])].filter(
    (rel) => !filesA.get(rel)?.equals(filesB.get(rel) ?? Buffer.alloc(0)),
  );
  if (b.status !== 0 || differ.length)
    throw new Error(`${describeInjections(injs)}\nexit ${a.status}/${b.status}; differing: ${differ.join(", ")}`);
}

describe("accepted hostile fleets", () => {
  test("synthesize byte-identically in two directories", () => {
    const injs = injections(injection(FREE_TEXT_FIELDS, printable, ["append"]), 3);
    fc.assert(fc.property(shrinkable(injs, 4), checkDeterminism), { numRuns: 2 });
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Beyond the brief's list: what else a hostile value must not do.

/** The kvm-vm-02 cloud-init disk is built by the library from hostName and the keys; kvm-vm-01's is its userData. */
const KEYS: Path = ["vms", 3, "libvirt", "cloudInit", "sshAuthorizedKeys", 0];
const CI_HOST: Path = ["vms", 3, "libvirt", "cloudInit", "hostName"];
const USER_DATA: Path = ["vms", 2, "libvirt", "cloudInit", "userData"];
const CI_VM: Path = ["vms", 3, "name"];
/** Host names that YAML 1.1 (cloud-init's PyYAML) reads as something else: booleans, numbers, null, sexagesimals. */
const yamlish = fc.oneof(
  fc.constantFrom(...TOKENS.yaml),
  fc.stringMatching(/^[0-9][0-9:._]{0,6}$/),
  fc.constantFrom("true", "off", "y", "n", "null", "1.5", "0o17", "1_000", "12:30:45"),
  hostile,
);

/** The cloud-init documents in Terraform's hands (template escapes read) parse back to the fleet's values. */
function checkCloudInit(injs: readonly Injection[]): void {
  const run = runInProcess(fleetYaml(injs));
  const files = filesUnder(run.out);
  rmSync(run.root, { recursive: true, force: true });
  if (run.status !== 0) return;
  const fleet = withValues(injs) as any;
  const stack = [...files.keys()].find((f) => f.startsWith(join("stacks", "kvm-")) && f.endsWith("cdk.tf.json"));
  const disks = Object.values(JSON.parse(files.get(stack!)!.toString("utf8")).resource.libvirt_cloudinit_disk);
  const disk = (name: string) => (disks as any[]).find((d) => d.name === name);
  const literal = (text: string) => scanTemplate(text).literal;
  const found: string[] = [];
  const given = fleet.vms[3].libvirt.cloudInit;
  const vmName = fleet.vms[3].name;
  const user = parse(literal(disk(`${vmName}-cloudinit`).user_data), { version: "1.1" });
  const meta = parse(literal(disk(`${vmName}-cloudinit`).meta_data), { version: "1.1" });
  if (meta?.["instance-id"] !== vmName)
    found.push(`meta-data instance-id reads as ${JSON.stringify(meta?.["instance-id"])}`);
  if (user?.hostname !== given.hostName.trim())
    found.push(`user-data hostname reads as ${JSON.stringify(user?.hostname)}`);
  if (meta?.["local-hostname"] !== given.hostName.trim())
    found.push(`meta-data local-hostname reads as ${JSON.stringify(meta?.["local-hostname"])}`);
  const keys = given.sshAuthorizedKeys.map((k: string) => k.trim());
  if (JSON.stringify(user?.ssh_authorized_keys) !== JSON.stringify(keys))
    found.push(`ssh_authorized_keys read as ${JSON.stringify(user?.ssh_authorized_keys)}`);
  const userData = literal(disk("kvm-vm-01-cloudinit").user_data);
  if (userData !== fleet.vms[2].libvirt.cloudInit.userData)
    found.push(`kvm-vm-01's user data reaches Terraform as ${JSON.stringify(userData)}`);
  if (found.length) throw new Error(`${describeInjections(injs)}\n${found.join("\n")}`);
}

/** C0 and C1 controls but the newline, line and paragraph separators, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** A refusal shows the user's text escaped: a raw control character would act on the terminal or the CI log. */
function checkProblemText(inj: Injection): void {
  const run = runInProcess(fleetYaml([inj]));
  rmSync(run.root, { recursive: true, force: true });
  const raw = [...run.stderr].filter((c) => RAW_CONTROL.test(c));
  if (raw.length) {
    const codes = raw.map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`);
    throw new Error(`${describeInjections([inj])}\nstderr holds ${codes.join(" ")}:\n${JSON.stringify(run.stderr)}`);
  }
  // One line per problem under the heading: a newline from the fleet would forge lines of its own.
  const count = /has problems \((\d+)\):\n/.exec(run.stderr)?.[1];
  const lines = run.stderr.trimEnd().split("\n").length;
  if (count !== undefined && lines !== Number(count) + 1)
    throw new Error(
      `${describeInjections([inj])}\n${count} problems on ${lines - 1} lines:\n${JSON.stringify(run.stderr)}`,
    );
}

describe("beyond the listed invariants", () => {
  test("cloud-init user and meta data read (as YAML 1.1, like cloud-init) to the fleet's values", () => {
    const injs = injections(
      fc.oneof(injection([CI_HOST, CI_VM], yamlish, ["replace"]), injection([KEYS, USER_DATA])),
      2,
    );
    fc.assert(fc.property(shrinkable(injs, 20), checkCloudInit), {
      numRuns: 25,
      examples: [[[FOUND.booleanHostName]], [[FOUND.sexagesimalHostName]]],
    });
  }, 60_000);

  // Found: a rejected PCI address or GPU model id was echoed raw (newline, CR, NUL, ESC, DEL, NEL, U+202E, U+2028),
  // so a value could forge a problem line.
  test("problem lists echo no raw control or bidi character from the fleet", () => {
    // Values that hold one such character somewhere, in any field: the refusal must show it escaped or not at all.
    const control = fc
      .tuple(
        fc.oneof(fc.constant(""), hostile),
        fc.constantFrom(...TOKENS.control, "\u202e", "\u2066", "\u2028", "\u2029"),
        fc.oneof(fc.constant(""), hostile),
      )
      .map(([a, c, b]) => a + c + b);
    fc.assert(fc.property(shrinkable(injection(FIELDS, control), 20), checkProblemText), {
      numRuns: 30,
      examples: [[FOUND.newlineInAddress], [FOUND.escapeInModel]],
    });
  }, 60_000);
});
