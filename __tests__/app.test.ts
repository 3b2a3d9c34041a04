/**
 * The fleet app as users run it: `node dist/main.js` (what `cdktf synth` runs), in a scratch directory.
 * `npm test` builds dist/ first.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { join } from "path";
import { filesUnder, tempDir } from "./temp";

const root = join(__dirname, "..");
const mainJs = join(root, "dist", "main.js");
const exampleFleet = join(root, "fleet.yaml");

function runApp(env: Record<string, string> = {}, fleet = exampleFleet) {
  if (!existsSync(mainJs)) throw new Error("dist/main.js is missing: run `npm run build` (npm test does)");
  const cwd = tempDir("gpt-app-");
  const result = spawnSync(process.execPath, [mainJs], {
    cwd,
    env: { PATH: process.env.PATH ?? "", FLEET_FILE: fleet, ...env },
    encoding: "utf8",
  });
  return { ...result, cwd, out: join(cwd, "cdktf.out") };
}

/** Runs the app on a copy of the example fleet edited by `edit`. */
function runBrokenFleet(edit: (text: string) => string) {
  const file = join(tempDir("gpt-fleet-"), "fleet.yaml");
  writeFileSync(file, edit(readFileSync(exampleFleet, "utf8")));
  return runApp({}, file);
}

describe("the example fleet app", () => {
  const run = runApp();
  const stack = (name: string) => JSON.parse(readFileSync(join(run.out, "stacks", name, "cdk.tf.json"), "utf8"));

  test("needs no terraform binary: synth runs where none is installed (cdktf's DataResource ran `terraform version` per VM)", () => {
    const run = runApp({ PATH: "/nonexistent" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  test("writes one stack per site", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(readdirSync(join(run.out, "stacks")).sort()).toEqual([
      "gpu-servers-kvm-gpu-01-ml-example-com",
      "homelab",
      "ml-lab",
      "vdi",
      "workstation",
    ]);
  });

  test("every example VM is a passthrough clone with its MMIO window", () => {
    const vms = Object.values(stack("ml-lab").resource.vsphere_virtual_machine) as any[];
    const byName = Object.fromEntries(vms.map((v) => [v.name, v]));
    expect(Object.keys(byName).sort()).toEqual(["ml-infer-01", "ml-infer-02", "ml-train-01", "ml-train-02"]);
    expect(byName["ml-train-01"].extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("512");
    expect(byName["ml-train-02"].pci_device_id).toEqual(["0000:af:00.0"]);
    expect(byName["ml-train-02"].extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("256");
    expect(byName["ml-infer-01"].extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("64");
    expect(byName["ml-infer-02"].extra_config).toBeUndefined();
    for (const vm of vms) {
      expect(vm.memory_reservation).toBe(vm.memory);
      expect(vm.firmware).toBe("efi");
      expect(vm.clone.template_uuid).toMatch(/^\$\{data\.vsphere_virtual_machine\./);
    }
  });

  test("host steps are outputs of the stack", () => {
    const outputs = stack("ml-lab").output;
    expect(outputs.host_steps_esx_gpu_01_ml_example_com.value).toContain(
      "govc host.esxcli -dc=DC-ML -host=esx-gpu-01.ml.example.com hardware pci pcipassthru set -d 0000:3b:00.0 -e true -a",
    );
  });

  test("credentials are sensitive variables with no value; state path is relative", () => {
    const ml = stack("ml-lab");
    expect(ml.provider.vsphere[0]).toMatchObject({
      user: "${var.vsphere_user}",
      password: "${var.vsphere_password}",
      vsphere_server: "vcenter.ml.example.com",
    });
    expect(ml.variable.vsphere_password).toEqual(expect.objectContaining({ sensitive: true, default: null }));
    expect(ml.terraform.backend.local.path).toBe("../../../terraform.ml-lab.tfstate");
    expect(stack("vdi").variable.windows_admin_password.sensitive).toBe(true);
  });
});

describe("synthesis", () => {
  test("is byte-identical across runs and directories, with no absolute path", () => {
    const a = runApp();
    const b = runApp();
    expect(a.status).toBe(0);
    const filesA = filesUnder(a.out);
    const filesB = filesUnder(b.out);
    expect([...filesA.keys()].sort()).toEqual([...filesB.keys()].sort());
    for (const [name, bytes] of filesA) {
      expect(bytes.equals(filesB.get(name) ?? Buffer.alloc(0))).toBe(true);
      const content = bytes.toString("utf8");
      expect(content).not.toContain(a.cwd);
      expect(content).not.toContain(root);
    }
  });

  test("no secret from the environment reaches cdktf.out or the logs", () => {
    const secrets = {
      VSPHERE_USER: "svc-terraform@vsphere.local",
      VSPHERE_PASSWORD: "S3cret-vc-pw!",
      TF_VAR_vsphere_password: "S3cret-tfvar-pw!",
      TF_VAR_windows_admin_password: "S3cret-win-pw!",
      GOVC_PASSWORD: "S3cret-govc-pw!",
    };
    const run = runApp(secrets);
    expect(run.status).toBe(0);
    const everything = [...filesUnder(run.out).values(), run.stdout, run.stderr].join("\n");
    for (const value of Object.values(secrets)) expect(everything).not.toContain(value);
  });

  test("a broken fleet file fails with every problem listed, no stack trace, and writes nothing", () => {
    const run = runBrokenFleet((text) =>
      text
        .replace('"0000:17:00.0", model: nvidia-v100-32gb', '"0000:17:00.9", model: nvidia-v100-32gb')
        .replace("cpus: 16", "cpus: sixteen")
        .replace("model: nvidia-a30", "model: nvidia-a31"),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/has problems \(3\):/);
    expect(run.stderr).toContain('hosts[0].gpus[3].model (line 41): unknown GPU model "nvidia-a31". Known models: ');
    expect(run.stderr).toContain('hosts[1].gpus[0].address (line 48): "0000:17:00.9": function must be 0-7 (it is 9)');
    const cpusLine = readFileSync("fleet.yaml", "utf8").split("\n").indexOf("    cpus: 16") + 1;
    expect(run.stderr).toContain(`vms[2].cpus (line ${cpusLine}): Invalid input: expected number, received string`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(run.out)).toBe(false);
  });

  test("rule violations in several stacks are all listed and nothing is written", () => {
    const run = runBrokenFleet((text) =>
      text.replace('gpus: ["0000:65:00.0"]', 'gpus: ["0000:17:00.0"]').replace("memoryGib: 32", "memoryGib: 100000"),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/has problems \(2\):/);
    expect(run.stderr).toContain(
      'VM "ml-infer-02": GPU 0000:17:00.0 on host "esx-gpu-02.ml.example.com" is already given to VM "ml-infer-01"',
    );
    expect(run.stderr).toMatch(/vms\[\d+\]\.memoryGib \(line \d+\): at most 24576 GiB/);
    expect(existsSync(run.out)).toBe(false);
  });
});
