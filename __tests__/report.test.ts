/**
 * `gpu-passthrough report` as a reviewer uses it: on the output the library synthesizes (a vSphere stack, a second
 * stack on the same ESXi host, a libvirt stack and a stack without GPUs), alone and with the plan fixtures of
 * __tests__/fixtures/plans (templates whose placeholders are replaced by the synthesized addresses; see their README).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { PassthroughManifest } from "../lib/report/manifest";
import type { PassthroughReport, VmChange } from "../lib/report/model";
import { vmSettings } from "../lib/report/vm-settings";
import { PassthroughApp } from "../lib/validation/app";
import { cli } from "./fixtures/run-cli";
import { A100, newHost, newStack, newVm } from "./helpers";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";

const ESX_GPUS = [
  { address: "0000:03:00.0", model: "nvidia-t4", role: "host" as const },
  ...["3b", "5e", "86", "af", "d8", "da"].map((bus) => ({ address: `0000:${bus}:00.0`, model: A100 })),
];

/** The app of the fixtures: stacks dc, dc-b (the same ESXi host), home (libvirt) and shared (no GPU host). */
function synthesize(outdir: string): void {
  const app = new PassthroughApp({ outdir });
  const dc = newStack(app, "dc");
  const esx = newHost(dc, ESX_GPUS);
  newVm(dc, "train", esx, { gpus: ["0000:3b:00.0"] });
  newVm(dc, "infer", esx, { gpus: ["0000:5e:00.0"] });
  newVm(dc, "batch", esx, { gpus: ["0000:86:00.0"] });
  newVm(dc, "render", esx, { gpus: ["0000:d8:00.0"] });
  const dcB = newStack(app, "dc-b");
  newVm(dcB, "tenant", newHost(dcB, ESX_GPUS), { gpus: ["0000:af:00.0"] });
  newStack(app, "shared");

  const home = newKvmStack(app, "home");
  const ws = newKvmHost(
    home,
    [
      { address: "0000:0b:00.0", model: "nvidia-rtx-3080" },
      { address: "0000:0c:00.0", model: "nvidia-rtx-3060", role: "host" },
      { address: "0000:0d:00.0", model: "nvidia-rtx-3080" },
    ],
    {
      iommuGroups: [
        { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] },
        { id: 15, devices: ["0000:0d:00.0", "0000:0d:00.1"] },
      ],
    },
    "ws",
  );
  for (const [id, gpu] of [
    ["gaming", "0000:0b:00.0"],
    ["lab", "0000:0d:00.0"],
  ]) {
    newKvmVm(home, id, ws, {
      gpus: [gpu],
      libvirt: {
        baseImage: "/var/lib/libvirt/images/noble.img",
        cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
      },
    });
  }
  app.synth();
}

const tmp = mkdtempSync(join(tmpdir(), "gpt-report-"));
const outdir = join(tmp, "cdktf.out");
synthesize(outdir);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function manifest(stack: string): PassthroughManifest {
  return JSON.parse(readFileSync(join(outdir, "stacks", stack, "passthrough.json"), "utf8"));
}

/** `{{stack/vm}}`, `{{stack/vm/part}}` and `{{...#name}}` → the synthesized address, or its name part. */
function resolve(placeholder: string): string {
  const nameOnly = placeholder.endsWith("#name");
  const [stack, vmName, part] = placeholder.replace(/#name$/, "").split("/");
  const vm = manifest(stack).vms.find((v) => v.name === vmName);
  if (!vm) throw new Error(`fixture placeholder {{${placeholder}}}: no VM ${vmName} in stack ${stack}`);
  const matches = part
    ? vm.otherAddresses.filter((a) => a.split(".")[1].replace(/_[0-9A-F]{8}$/, "") === `${vmName}_${part}`)
    : [vm.address];
  if (matches.length !== 1) throw new Error(`fixture placeholder {{${placeholder}}} matches ${matches.length}`);
  return nameOnly ? matches[0].split(".")[1] : matches[0];
}

/** Writes the fixture with its placeholders replaced; returns `stack=file` for --plan. */
function plan(stack: string, fixture: string): string {
  const text = readFileSync(join(__dirname, "fixtures", "plans", `${fixture}.json`), "utf8");
  const dir = join(tmp, "plans");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${fixture}.json`);
  writeFileSync(
    file,
    text.replace(/\{\{([^}]+)\}\}/g, (_, p: string) => resolve(p)),
  );
  return `${stack}=${file}`;
}

function address(stack: string, vmName: string): string {
  return resolve(`${stack}/${vmName}`);
}

async function report(...args: string[]): Promise<{ markdown: string; json: PassthroughReport }> {
  const md = join(tmp, "report.md");
  const js = join(tmp, "report.json");
  const { code, out, err } = await cli("report", "--outdir", outdir, ...args, "--markdown", md, "--json", js);
  expect({ code, err }).toEqual({ code: 0, err: "" });
  expect(out).toBe(`wrote ${md}\nwrote ${js}\n`);
  return { markdown: readFileSync(md, "utf8"), json: JSON.parse(readFileSync(js, "utf8")) };
}

const ALL_PLANS = () =>
  [plan("dc", "dc"), plan("dc-b", "dc-b"), plan("home", "home-update")].flatMap((p) => ["--plan", p]);

describe("report without a plan", () => {
  test("prints Markdown to stdout: the summary line first", async () => {
    const { code, out, err } = await cli("report", "--outdir", outdir);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out.split("\n")[0]).toBe(
      "**GPU passthrough:** 4 stacks (1 without GPU hosts) · 2 hosts · 7 VMs · GPUs: 7 given / 1 free / 2 kept · no plan given",
    );
  });

  test("the allocation table names every GPU with its functions, its VM, free and kept", async () => {
    const { markdown } = await report();
    const section = (title: string) => markdown.slice(markdown.indexOf(title)).split("\n\n")[1];
    expect(section("### Host `ws` (libvirt, stack `home`)").split("\n")).toEqual([
      "| GPU | model | functions | state | VM |",
      "| --- | --- | --- | --- | --- |",
      "| `0000:0b:00.0` | NVIDIA GeForce RTX 3080 | `0000:0b:00.{0,1}` | given | `gaming` |",
      "| `0000:0c:00.0` | NVIDIA GeForce RTX 3060 | `0000:0c:00.{0,1}` | kept by the host |  |",
      "| `0000:0d:00.0` | NVIDIA GeForce RTX 3080 | `0000:0d:00.{0,1}` | given | `lab` |",
    ]);
    const dc = section("### Host `esx01` (vsphere, stack `dc`)");
    expect(dc).toContain("| `0000:03:00.0` | NVIDIA T4 | `0000:03:00.0` | kept by the host |  |");
    expect(dc).toContain("| `0000:3b:00.0` | NVIDIA A100 80GB PCIe | `0000:3b:00.0` | given | `train` |");
    expect(dc).toContain("| `0000:d8:00.0` | NVIDIA A100 80GB PCIe | `0000:d8:00.0` | given | `render` |");
    // The same host in stack dc-b gives af:00.0 to tenant: dc's table says so instead of calling it free.
    expect(dc).toContain(
      "| `0000:af:00.0` | NVIDIA A100 80GB PCIe | `0000:af:00.0` | given | `tenant` (stack `dc-b`) |",
    );
    expect(dc).toContain("| `0000:da:00.0` | NVIDIA A100 80GB PCIe | `0000:da:00.0` | **free** |  |");
  });

  test("every host step of every manifest is listed, with its command", async () => {
    const { markdown } = await report();
    const steps = ["dc", "dc-b", "home"].flatMap((s) => manifest(s).hosts.flatMap((h) => h.steps));
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      expect(markdown).toContain(step.description);
      if (step.command) expect(markdown).toContain(`   ${step.command}\n`);
    }
    expect(markdown).toContain(
      "govc host.esxcli -dc=dc1 -host=esx01 hardware pci pcipassthru set -d 0000:3b:00.0 -e true -a",
    );
    expect(markdown).toContain(
      "- kernel arguments: `amd_iommu=on` `iommu=pt` `vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef`",
    );
    expect(markdown).toContain("- vfio-pci binds by id: `10de:2206`, `10de:2216`, `10de:220a`, `10de:1aef`");
    expect(markdown).toContain("[`prepare-host.sh`](stacks/home/hosts/ws/prepare-host.sh)");
  });

  test("each VM's settings say why, and the constraints name their VMs", async () => {
    const { markdown, json } = await report();
    expect(markdown).toContain(
      "| `gaming` | `home` | `ws` | 8 | 16 GiB | EFI | default window | hidden | 0000:0b:00.0 |",
    );
    const gaming = markdown.slice(markdown.indexOf("### VM `gaming`"));
    expect(gaming).toContain("- **hide-hypervisor**: hidden: NVIDIA GeForce RTX 3080: consumer driver refuses");
    expect(gaming).toContain("- **devices**: 0000:0b:00.0, 0000:0b:00.1:");
    const train = markdown.slice(markdown.indexOf("### VM `train`"));
    expect(train).toMatch(
      /- \*\*mmio\*\*: 256 GB: every BAR of every GPU \(0000:3b:00\.0 NVIDIA A100 80GB PCIe 128\.05 GiB/,
    );
    expect(train).toContain("- **memory**: 64 GiB of 64 GiB reserved: all guest memory reserved and locked");
    expect(json.constraints.map((g) => [g.backend, g.vms])).toEqual([
      ["libvirt", ["home/gaming", "home/lab"]],
      ["vsphere", ["dc-b/tenant", "dc/batch", "dc/infer", "dc/render", "dc/train"]],
    ]);
    for (const c of [...manifest("dc").vms[0].constraints, ...manifest("home").vms[0].constraints]) {
      expect(markdown).toContain(`- ${c}`);
    }
  });

  test("a VM of a backend no plug-in has (a newer manifest) gets its settings in general words", () => {
    const vm = { ...manifest("dc").vms.find((v) => v.name === "train")!, backend: "other-hypervisor" };
    const why = (setting: string) => vmSettings(vm).find((s) => s.setting === setting)?.why;
    expect(why("mmio")).toMatch(/rounded up to a power of two; set by the other-hypervisor backend$/);
    expect(why("memory")).toBe(
      "all guest memory reserved: the GPU reads and writes guest memory by DMA, which needs all of it resident",
    );
  });

  test("the JSON has the documented shape and the Markdown's figures", async () => {
    const { json } = await report();
    expect(Object.keys(json)).toEqual(["format", "summary", "stacks", "hosts", "vms", "constraints"]);
    expect(json.summary).toEqual({ stacks: 4, hosts: 2, vms: 7, gpus: { given: 7, free: 1, kept: 2 } });
    expect(json.stacks.map((s) => [s.name, s.hasGpuHosts])).toEqual([
      ["dc", true],
      ["dc-b", true],
      ["home", true],
      ["shared", false],
    ]);
    const ws = json.hosts.find((h) => h.name === "ws");
    expect(ws).toMatchObject({
      stack: "home",
      key: "libvirt:ws",
      files: ["stacks/home/hosts/ws/prepare-host.sh", "stacks/home/hosts/ws/host-prep.json"],
      kvm: {
        kernelArgs: ["amd_iommu=on", "iommu=pt", "vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef"],
        bindBy: "ids",
      },
    });
    expect(json.vms.find((v) => v.name === "gaming")?.files).toEqual(["stacks/home/domains/gaming.xml"]);
  });

  test("output is the same bytes on every run and from any directory, with no absolute path", async () => {
    const first = await report(...ALL_PLANS());
    const second = await report(...ALL_PLANS());
    expect(second).toEqual(first);
    // A second synth elsewhere gives the same report: nothing depends on where the output is.
    const otherTmp = mkdtempSync(join(tmpdir(), "gpt-report-b-"));
    try {
      synthesize(join(otherTmp, "out"));
      const { code, out } = await cli("report", "--outdir", join(otherTmp, "out"));
      expect(code).toBe(0);
      expect(out).toBe((await cli("report", "--outdir", outdir)).out);
    } finally {
      rmSync(otherTmp, { recursive: true, force: true });
    }
    for (const text of [first.markdown, JSON.stringify(first.json)]) {
      expect(text).not.toContain(tmp);
      expect(text).not.toContain(tmpdir());
    }
    for (const line of first.markdown.split("\n")) expect(line.length).toBeLessThan(400);
  });

  test("--outdir defaults to $CDKTF_OUTDIR", async () => {
    const saved = process.env.CDKTF_OUTDIR;
    process.env.CDKTF_OUTDIR = outdir;
    try {
      const { code, out } = await cli("report");
      expect(code).toBe(0);
      expect(out).toMatch(/^\*\*GPU passthrough:\*\* 4 stacks/);
    } finally {
      if (saved === undefined) delete process.env.CDKTF_OUTDIR;
      else process.env.CDKTF_OUTDIR = saved;
    }
  });
});

describe("report with plans", () => {
  function change(json: PassthroughReport, stack: string, vm: string): VmChange {
    const found = json.plan?.stacks.find((s) => s.stack === stack)?.vms.find((v) => v.vm === vm);
    if (!found) throw new Error(`no change to ${stack}/${vm}`);
    return found;
  }

  test("the summary line counts the changes, moves and errors", async () => {
    const { markdown, json } = await report(...ALL_PLANS());
    expect(markdown.split("\n")[0]).toBe(
      "**GPU passthrough:** 4 stacks (1 without GPU hosts) · 2 hosts · 7 VMs · GPUs: 7 given / 1 free / 2 kept · " +
        "plan (dc, dc-b, home): 2 creates, 2 reboots, 2 replaces, 1 delete, 1 in place, 2 GPU moves, **1 error**",
    );
    expect(json.summary.plan).toEqual({
      stacks: ["dc", "dc-b", "home"],
      create: 2,
      delete: 1,
      updateInPlace: 1,
      reboot: 2,
      replace: 2,
      gpuMoves: 2,
      errors: 1,
    });
  });

  test("vSphere: reboot, in place, replace, create and delete, each with why", async () => {
    const { markdown, json } = await report(...ALL_PLANS());
    const kinds = json.plan?.stacks[0].vms.map((v) => [v.vm, v.change?.kind, v.inSynth]);
    expect(kinds).toEqual([
      ["batch", "replace", true],
      ["infer", "update-in-place", true],
      ["legacy", "delete", false],
      ["render", "create", true],
      ["train", "reboot", true],
    ]);
    expect(change(json, "dc", "train").change?.why).toMatch(/^pci_device_id cannot change while a VM with a pass/);
    expect(change(json, "dc", "infer").change?.why).toBe("annotation, folder change while the VM runs");
    expect(change(json, "dc", "batch").change?.why).toBe(
      "anything under clone (template, customization, run-once commands, Administrator password) forces a new VM: " +
        "the provider destroys it and clones it again (here clone[0].template_uuid)",
    );
    expect(change(json, "dc", "legacy").change?.why).toBe("removed from the configuration");
    expect(json.plan?.stacks[0].otherChanges).toBe(1); // terraform_data; the data source read is not a change
    expect(markdown).toContain(
      `| \`train\` | \`${address("dc", "train")}\` | **reboot** | +0000:3b:00.0 −0000:af:00.0 |`,
    );
    expect(markdown).toContain(
      "| `legacy` (removed from the code) | `vsphere_virtual_machine.legacy_vm_5F0C1D2E` | delete | −0000:3b:00.0 |",
    );
    expect(markdown).toContain(`| \`render\` | \`${address("dc", "render")}\` | create | +0000:d8:00.0 |`);
  });

  test("libvirt: reboot for any domain change, replace for a new name, the VM's disks under it", async () => {
    const { markdown, json } = await report(...ALL_PLANS());
    const gaming = change(json, "home", "gaming");
    expect(gaming.change).toMatchObject({
      kind: "reboot",
      attributes: [{ path: "cpu.topology" }, { path: "vcpu", before: "4", after: "8" }],
    });
    expect(gaming.gpusBefore).toEqual(["0000:0b:00.0", "0000:0b:00.1"]);
    expect(gaming.resources.map((r) => [r.address, r.kind])).toEqual([
      [resolve("home/gaming/cloudinit"), "replace"],
      [resolve("home/gaming/boot"), "unsupported-update"],
    ]);
    const lab = change(json, "home", "lab");
    expect(lab.change).toMatchObject({ kind: "replace", why: "the provider cannot update name in place" });
    expect(lab.resources.map((r) => r.kind)).toEqual(["update-in-place"]); // the cloud-init volume's rename
    expect(markdown).toContain(
      `| \`gaming\` | \`${address("home", "gaming")}\` | **reboot** | 0000:0b:00.{0,1} (unchanged) |`,
    );
  });

  test("a libvirt_volume update is flagged as an error that needs a replacement", async () => {
    const { markdown } = await report(...ALL_PLANS());
    const boot = resolve("home/gaming/boot");
    expect(markdown).toContain(`| \`gaming\` | \`${boot}\` | **error: update not supported** |  |`);
    expect(markdown.replace(/\n +/g, " ")).toContain(
      `provider 0.9.7 cannot update capacity of a volume ("Update Not Supported" at apply): plan again with -replace=${boot}`,
    );
  });

  test("libvirt: create, and delete of a VM the code removed", async () => {
    const { json } = await report("--plan", plan("home", "home-rebuild"));
    expect(json.plan?.stacks[0].vms.map((v) => [v.vm, v.change?.kind, v.inSynth])).toEqual([
      ["desktop", "delete", false],
      ["gaming", "create", true],
      ["lab", "create", true],
    ]);
    expect(json.summary.plan).toMatchObject({ create: 2, delete: 1, reboot: 0, replace: 0, gpuMoves: 1 });
  });

  test("a GPU moving between two VMs of one stack is flagged with both names and the order to apply", async () => {
    const { markdown, json } = await report(...ALL_PLANS());
    expect(json.plan?.gpuMoves[0]).toMatchObject({
      host: "esx01",
      functions: ["0000:3b:00.0"],
      from: { stack: "dc", vm: "legacy", address: "vsphere_virtual_machine.legacy_vm_5F0C1D2E" },
      to: { stack: "dc", vm: "train", address: address("dc", "train") },
      sameStack: true,
    });
    expect(markdown).toContain("| `0000:3b:00.0` | `esx01` | `legacy` (`dc`) | `train` (`dc`) | **yes** |");
    const advice = markdown.replace(/\n +/g, " ");
    expect(advice).toContain(
      '- ⚠️ `legacy` → `train`: Terraform does not order legacy and train (no dependency between them): it may start train while legacy still holds function 0000:3b:00.0, and the apply fails with "device busy". Apply in two steps: first terraform apply -target=vsphere_virtual_machine.legacy_vm_5F0C1D2E (release)',
    );

    const rebuild = await report("--plan", plan("home", "home-rebuild"));
    expect(rebuild.json.plan?.gpuMoves).toMatchObject([
      {
        host: "ws",
        functions: ["0000:0d:00.0", "0000:0d:00.1"],
        from: { vm: "desktop" },
        to: { vm: "lab" },
        sameStack: true,
      },
    ]);
  });

  test("a GPU moving to a VM of another stack says which stack to apply first", async () => {
    const { markdown, json } = await report(...ALL_PLANS());
    expect(json.plan?.gpuMoves[1]).toMatchObject({
      functions: ["0000:af:00.0"],
      from: { stack: "dc", vm: "train" },
      to: { stack: "dc-b", vm: "tenant" },
      sameStack: false,
    });
    expect(markdown).toContain("| `0000:af:00.0` | `esx01` | `train` (`dc`) | `tenant` (`dc-b`) | no |");
    expect(markdown).toContain(
      "- `train` → `tenant`: apply stack dc (train releases function 0000:af:00.0) before stack dc-b (tenant takes it)",
    );
    // Without dc-b's plan, nothing takes af:00.0: no move.
    const alone = await report("--plan", plan("dc", "dc"));
    expect(alone.json.plan?.gpuMoves.map((m) => m.to.vm)).toEqual(["train"]);
  });
});

test("a GPU VM replaced create-before-destroy is warned about: it needs its GPU twice", async () => {
  const train = address("dc", "train");
  const values = { name: "train", pci_device_id: ["0000:3b:00.0"], clone: [{ template_uuid: "t1" }] };
  const file = join(tmp, "cbd.json");
  writeFileSync(
    file,
    JSON.stringify({
      format_version: "1.2",
      planned_values: {},
      resource_changes: [
        {
          address: train,
          type: "vsphere_virtual_machine",
          name: train.split(".")[1],
          change: {
            actions: ["create", "delete"],
            before: values,
            after: { ...values, clone: [{ template_uuid: "t2" }] },
            replace_paths: [["clone", 0, "template_uuid"]],
          },
          action_reason: "replace_because_cannot_update",
        },
      ],
    }),
  );
  const { json } = await report("--plan", `dc=${file}`);
  expect(json.plan?.stacks[0].vms[0].change?.why).toBe(
    "anything under clone (template, customization, run-once commands, Administrator password) forces a new VM: " +
      "the provider destroys it and clones it again (here clone[0].template_uuid) (the new one is created before the " +
      "old one is destroyed); the new VM cannot power on while the old one holds 0000:3b:00.0: remove create_before_destroy",
  );
  expect(json.plan?.gpuMoves).toEqual([]);
});

describe("bad input exits 2 with one line", () => {
  const empty = join(tmp, "empty");
  mkdirSync(empty, { recursive: true });
  const notJson = join(tmp, "not-json.json");
  writeFileSync(notJson, "{ this is not json");
  const state = join(tmp, "state.json");
  writeFileSync(state, JSON.stringify({ format_version: "1.0", terraform_version: "1.11.0", values: {} }));

  test.each([
    [
      "a missing outdir",
      ["--outdir", join(tmp, "nope")],
      `${join(tmp, "nope")} does not exist: run npm run synth first`,
    ],
    [
      "an outdir without cdktf's manifest.json",
      ["--outdir", empty],
      `${join(empty, "manifest.json")} does not exist: ${empty} is not the output of a finished synth`,
    ],
    [
      "a plan that is not JSON",
      ["--outdir", outdir, "--plan", `dc=${notJson}`],
      `plan ${notJson} for stack "dc": not JSON (`,
    ],
    [
      "a state instead of a plan",
      ["--outdir", outdir, "--plan", `dc=${state}`],
      `plan ${state} for stack "dc": a Terraform state, not a plan: it has no resource_changes`,
    ],
    ["a missing plan file", ["--outdir", outdir, "--plan", `dc=${join(tmp, "missing.json")}`], "cannot read plan"],
    [
      "a plan for an unknown stack",
      ["--outdir", outdir, "--plan", `nope=${notJson}`],
      `--plan nope=${notJson}: no synthesized stack "nope"; the stacks are: dc, dc-b, home, shared`,
    ],
    ["--plan without STACK=", ["--outdir", outdir, "--plan", "dc"], "--plan dc: write STACK=FILE"],
  ])("%s", async (_label, args, message) => {
    const { code, out, err } = await cli("report", ...args);
    expect(code).toBe(2);
    expect(out).toBe("");
    const expected = `gpu-passthrough: ${message}`;
    expect(err.slice(0, expected.length)).toBe(expected);
    expect(err.trimEnd().split("\n")).toHaveLength(1);
  });

  test("the program's help lists the command", async () => {
    const { out } = await cli("--help");
    expect(out).toMatch(/report \[options\] +describe the synthesized GPU hosts and VMs/);
  });
});
