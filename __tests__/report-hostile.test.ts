/**
 * `gpu-passthrough report` on damaged input: plans with missing or mistyped fields, corrupt passthrough.json and
 * host-prep.json, and a synth output whose cdktf manifest.json is missing, corrupt, or does not list a directory left
 * from an earlier synth. Each ends in one line naming the file and what is wrong (exit 2), never a crash.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { PassthroughManifest } from "../lib/report/manifest";
import type { PassthroughReport } from "../lib/report/model";
import { PassthroughApp } from "../lib/validation/app";
import { cli } from "./fixtures/run-cli";
import { A100, newHost, newStack, newVm } from "./helpers";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";

const tmp = mkdtempSync(join(tmpdir(), "gpt-report-hostile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pristine synth output: stacks dc (vSphere, VM train), home (libvirt, VM gaming) and plain (no GPU host). */
const pristine = join(tmp, "pristine");
{
  const app = new PassthroughApp({ outdir: pristine });
  const dc = newStack(app, "dc");
  newVm(dc, "train", newHost(dc, [{ address: "0000:3b:00.0", model: A100 }]), { gpus: ["0000:3b:00.0"] });
  newStack(app, "plain");
  const home = newKvmStack(app, "home");
  const ws = newKvmHost(
    home,
    [{ address: "0000:0b:00.0", model: "nvidia-rtx-3080" }],
    { iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }] },
    "ws",
  );
  newKvmVm(home, "gaming", ws, {
    gpus: ["0000:0b:00.0"],
    libvirt: {
      baseImage: "/var/lib/libvirt/images/noble.img",
      cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
    },
  });
  app.synth();
}

let copies = 0;
/** A fresh copy of the synth output for one test to damage. */
function outdir(): string {
  const dir = join(tmp, `out-${++copies}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

function readJson(path: string): any {
  return JSON.parse(readFileSync(path, "utf8"));
}

function editJson(path: string, edit: (json: any) => void): void {
  const json = readJson(path);
  edit(json);
  writeFileSync(path, JSON.stringify(json, null, 2));
}

/** The command fails with exactly this one line and exit code 2. */
async function fails(args: readonly string[], message: string): Promise<void> {
  const { code, out, err } = await cli("report", ...args);
  expect({ code, out, err }).toEqual({ code: 2, out: "", err: `gpu-passthrough: ${message}\n` });
}

const trainAddress = (dir: string) =>
  (readJson(join(dir, "stacks/dc/passthrough.json")) as PassthroughManifest).vms[0].address;

/** A plan file for stack dc whose one change is `change` (merged into a valid deletion of a removed VM). */
function planFile(dir: string, change: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  const file = join(dir, "plan.json");
  const base = {
    address: "vsphere_virtual_machine.gone_vm_12345678",
    mode: "managed",
    type: "vsphere_virtual_machine",
    name: "gone_vm_12345678",
    change: { actions: ["delete"], before: { name: "gone", pci_device_id: ["0000:3b:00.0"] }, after: null },
  };
  const rc = Object.fromEntries(Object.entries({ ...base, ...change }).filter(([, v]) => v !== undefined)) as Record<
    string,
    unknown
  >;
  writeFileSync(
    file,
    JSON.stringify({ format_version: "1.2", planned_values: {}, resource_changes: [rc], ...top }, null, 2),
  );
  return file;
}

describe("plans with missing or mistyped fields", () => {
  test("a valid plan of the same shape is reported (the cases below differ by one field)", async () => {
    const dir = outdir();
    const { code, err } = await cli("report", "--outdir", dir, "--plan", `dc=${planFile(dir, {})}`);
    expect({ code, err }).toEqual({ code: 0, err: "" });
  });

  test.each([
    [
      "without name",
      { name: undefined },
      "resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): name is missing (expected a string)",
    ],
    [
      "with a numeric name",
      { name: 7 },
      "resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): name is a number (expected a string)",
    ],
    [
      "without change",
      { change: undefined },
      "resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): change is missing (expected an object)",
    ],
    [
      "with replace_paths not a list of paths",
      { change: { actions: ["delete", "create"], before: {}, after: {}, replace_paths: "clone" } },
      "resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): change.replace_paths is a string (expected a list)",
    ],
    [
      "with an unknown action",
      { change: { actions: ["move"], before: null, after: null } },
      'resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): change.actions[0] is "move" (expected one of "no-op", "create", "read", "update", "delete")',
    ],
    [
      "with a numeric action_reason",
      { action_reason: 3 },
      "resource_changes[0] (vsphere_virtual_machine.gone_vm_12345678): action_reason is a number (expected a string)",
    ],
    ["without address", { address: undefined }, "resource_changes[0]: address is missing (expected a string)"],
  ])("a resource change %s is named, with the plan file", async (_label, change, message) => {
    const dir = outdir();
    const file = planFile(dir, change);
    await fails(["--outdir", dir, "--plan", `dc=${file}`], `plan ${file} for stack "dc": ${message}`);
  });

  test("a resource change that is not an object is named", async () => {
    const dir = outdir();
    const file = join(dir, "plan.json");
    writeFileSync(file, JSON.stringify({ format_version: "1.2", planned_values: {}, resource_changes: [null] }));
    await fails(
      ["--outdir", dir, "--plan", `dc=${file}`],
      `plan ${file} for stack "dc": resource_changes[0] is null (expected an object)`,
    );
  });

  test("a VM change without before/after values still reports", async () => {
    const dir = outdir();
    const file = planFile(dir, {
      address: trainAddress(dir),
      name: trainAddress(dir).split(".")[1],
      change: { actions: ["update"] },
    });
    const { code, err } = await cli("report", "--outdir", dir, "--plan", `dc=${file}`);
    expect({ code, err }).toEqual({ code: 0, err: "" });
  });
});

describe("corrupt passthrough.json and host-prep.json", () => {
  test.each([
    [
      "a host without backend",
      (m: any) => delete m.hosts[0].backend,
      "hosts[0].backend is missing (expected a string)",
    ],
    [
      "a host whose files are not a list",
      (m: any) => (m.hosts[0].files = "prepare-host.sh"),
      "hosts[0].files is a string (expected a list)",
    ],
    ["a VM without mmio", (m: any) => delete m.vms[0].mmio, "vms[0].mmio is missing (expected an object)"],
    [
      "a GPU with a string mappedMib",
      (m: any) => (m.hosts[0].gpus[0].mappedMib = "lots"),
      "hosts[0].gpus[0].mappedMib is a string (expected a number)",
    ],
    [
      "a file outside the stack directory",
      (m: any) => (m.vms[0].files = ["../../../etc/passwd"]),
      'vms[0].files[0] "../../../etc/passwd" is not a relative path inside the stack directory',
    ],
    ["version 2", (m: any) => (m.version = 2), "version is 2 (this report reads version 1)"],
    ["a list instead of an object", (m: any) => (m.hosts = {}), "hosts is an object (expected a list)"],
  ])("%s is named with its file", async (_label, damage, message) => {
    const dir = outdir();
    const file = join(dir, "stacks/dc/passthrough.json");
    editJson(file, damage);
    await fails(["--outdir", dir], `${file}: ${message}; synthesize again with this package`);
  });

  test("a passthrough.json that is not an object", async () => {
    const dir = outdir();
    const file = join(dir, "stacks/dc/passthrough.json");
    writeFileSync(file, "[1, 2]");
    await fails(["--outdir", dir], `${file}: is a list (expected an object); synthesize again with this package`);
  });

  test("a host-prep.json without its kernel arguments is named with its file", async () => {
    const dir = outdir();
    const file = join(dir, "stacks/home/hosts/ws/host-prep.json");
    editJson(file, (p) => delete p.kernelArgs);
    await fails(
      ["--outdir", dir],
      `${file}: kernelArgs is missing (expected a list); synthesize again with this package`,
    );
  });
});

describe("manifest.json decides which stacks are read", () => {
  test("a stack directory left from an earlier synth is not reported", async () => {
    const dir = outdir();
    cpSync(join(dir, "stacks/dc"), join(dir, "stacks/old-dc"), { recursive: true });
    mkdirSync(join(dir, "stacks/leftover"));
    writeFileSync(join(dir, "stacks/leftover/cdk.tf.json"), "{}");
    const json = join(dir, "report.json");
    const { code, err } = await cli("report", "--outdir", dir, "--json", json);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const report: PassthroughReport = readJson(json);
    expect(report.stacks.map((s) => s.name)).toEqual(["dc", "home", "plain"]);
    expect(report.summary).toMatchObject({ stacks: 3, hosts: 2, vms: 2 });
    await fails(
      ["--outdir", dir, "--plan", `old-dc=${json}`],
      `--plan old-dc=${json}: no synthesized stack "old-dc"; the stacks are: dc, home, plain`,
    );
  });

  test("the paths shown are the stack's working directory from manifest.json", async () => {
    const dir = outdir();
    const json = join(dir, "report.json");
    await cli("report", "--outdir", dir, "--json", json);
    const report: PassthroughReport = readJson(json);
    expect(report.hosts.find((h) => h.name === "ws")?.files).toEqual([
      "stacks/home/hosts/ws/prepare-host.sh",
      "stacks/home/hosts/ws/host-prep.json",
    ]);
  });

  test("a missing manifest.json is named, with what to do", async () => {
    const dir = outdir();
    rmSync(join(dir, "manifest.json"));
    await fails(
      ["--outdir", dir],
      `${join(dir, "manifest.json")} does not exist: ${dir} is not the output of a finished synth (cdktf writes ` +
        "manifest.json last, listing the stacks); run npm run synth",
    );
  });

  test("a manifest.json that is not JSON is named", async () => {
    const dir = outdir();
    writeFileSync(join(dir, "manifest.json"), '{"stacks": {');
    const { code, err } = await cli("report", "--outdir", dir);
    expect(code).toBe(2);
    expect(err).toMatch(
      new RegExp(`^gpu-passthrough: ${join(dir, "manifest.json")} is not JSON \\(.*\\); synthesize again\\n$`),
    );
  });

  test.each([
    ["without stacks", (m: any) => delete m.stacks, "stacks is missing (expected an object)"],
    [
      "with a stack outside the output directory",
      (m: any) => (m.stacks.dc.workingDirectory = "../../elsewhere"),
      'stacks.dc.workingDirectory "../../elsewhere" is not a relative path inside the output directory',
    ],
    [
      "with a stack without synthesizedStackPath",
      (m: any) => delete m.stacks.dc.synthesizedStackPath,
      "stacks.dc.synthesizedStackPath is missing (expected a string)",
    ],
  ])("a manifest.json %s is named", async (_label, damage, message) => {
    const dir = outdir();
    editJson(join(dir, "manifest.json"), damage);
    await fails(["--outdir", dir], `${join(dir, "manifest.json")}: ${message}; synthesize again`);
  });

  test("a stack manifest.json lists whose cdk.tf.json is gone is named", async () => {
    const dir = outdir();
    rmSync(join(dir, "stacks/plain"), { recursive: true });
    await fails(
      ["--outdir", dir],
      `${join(dir, "manifest.json")} lists stack "plain", but ${join(dir, "stacks/plain/cdk.tf.json")} does not ` +
        "exist: synthesize again",
    );
  });

  test("a manifest.json without stacks says there is nothing to report", async () => {
    const dir = outdir();
    editJson(join(dir, "manifest.json"), (m) => (m.stacks = {}));
    await fails(
      ["--outdir", dir],
      `${join(dir, "manifest.json")} lists no stack: the app synthesized nothing; add a stack and run npm run synth`,
    );
  });
});
