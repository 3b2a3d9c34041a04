/**
 * libvirt/KVM in the fleet file (issue #3) as a user meets it: the errors `parseFleet` reports, and what the compiled
 * app (`node dist/main.js`, built by `npm test`) writes to cdktf.out: one aliased libvirt provider per host, no
 * secret from the environment, and byte-identical output wherever it runs.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { FleetFileError, parseFleet } from "../lib/fleet/load";
import { fleetProblems } from "./fleet-helpers";
import { filesUnder, tempDir } from "./temp";

const root = join(__dirname, "..");
const mainJs = join(root, "dist", "main.js");
const exampleFleet = join(root, "fleet.yaml");

const problems = fleetProblems;

/** The error a fleet file gets; fails the test if it is accepted. */
function fleetError(yaml: string): FleetFileError {
  try {
    parseFleet(yaml);
  } catch (e) {
    if (e instanceof FleetFileError) return e;
    throw e;
  }
  throw new Error("the fleet file was accepted");
}

/** 1-based line of the only line of `yaml` that contains `marker`. */
function lineOf(yaml: string, marker: string): number {
  const lines = yaml.split("\n");
  const found = lines.flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`marker "${marker}" is on ${found.length} lines`);
  return found[0];
}

/** Runs the app in a new temp directory with the fleet file `fleet` (a path) and `env`. */
function runApp(fleet: string, env: Record<string, string> = {}) {
  if (!existsSync(mainJs)) throw new Error("dist/main.js is missing: run `npm run build` (npm test does)");
  const cwd = tempDir("gpt-libvirt-");
  const out = join(cwd, "cdktf.out");
  const result = spawnSync(process.execPath, [mainJs], {
    cwd,
    env: { PATH: process.env.PATH ?? "", FLEET_FILE: fleet, CDKTF_OUTDIR: out, ...env },
    encoding: "utf8",
  });
  const stack = (name: string) => JSON.parse(readFileSync(join(out, "stacks", name, "cdk.tf.json"), "utf8"));
  return { ...result, cwd, out, stack };
}

function writeFleet(yaml: string): string {
  const file = join(tempDir("gpt-fleet-"), "fleet.yaml");
  writeFileSync(file, yaml);
  return file;
}

const rtx3080Host = (name: string, site: string, libvirtExtra = "") => `  - name: ${name}
    site: ${site}
    libvirt:
      cpuVendor: amd${libvirtExtra}
      iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }]
    gpus: [{ address: "0000:0b:00.0", model: nvidia-rtx-3080 }]`;

const libvirtVm = (
  name: string,
  host: string,
  libvirt = '{ baseImage: /var/lib/libvirt/images/noble.img, cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAA test"] } }',
) => `  - { name: ${name}, host: ${host}, gpus: 1, cpus: 4, memoryGib: 16, libvirt: ${libvirt} }`;

describe("fleet file: libvirt sites, hosts and VMs", () => {
  test("the example fleet parses, with its libvirt sites, hosts and VMs", () => {
    const fleet = parseFleet(readFileSync(exampleFleet, "utf8"));
    expect(fleet.sites.filter((s) => s.libvirt).map((s) => s.name)).toEqual(["workstation", "gpu-servers"]);
    expect(fleet.sites.filter((s) => s.vsphere).map((s) => s.name)).toEqual(["ml-lab", "vdi"]);
    const ws = fleet.hosts.find((h) => h.name === "ws-01");
    expect(ws?.libvirt).toMatchObject({ cpuVendor: "amd", uri: "qemu:///system" });
    expect(
      (fleet.vms.find((v) => v.name === "ws-gaming")?.libvirt as { baseImage?: string } | undefined)?.baseImage,
    ).toBe("/var/lib/libvirt/images/win11-base.qcow2");
  });

  test("every hypervisor mistake is listed at once, each with its key path and line", () => {
    const yaml = `sites:
  - name: both
    vsphere: { server: vc, datacenter: dc }
    libvirt: {}
  - name: neither
  - name: kvm
    libvirt: {}
  - name: lab
    vsphere: { server: vc.lab, datacenter: dc }
hosts:
  - name: kvm-01
    site: kvm
    datastore: ds-on-kvm
    network: VM Network
    enableDirectPath: govc
    libvirt:
      uri: "qemu+ssh://admin:S3cretPw@kvm-01/system"
      cpuVendor: intel
      iommuGroups: [{ id: 1, devices: ["0000:17:00.0"] }]
    gpus: [{ address: "0000:17:00.0", model: nvidia-l40s }]
  - name: kvm-02
    site: kvm
    gpus: [{ address: "0000:17:00.0", model: nvidia-l40s }]
  - name: esx-01
    site: lab
    datastore: ds
    network: net
    libvirt: { cpuVendor: intel, iommuGroups: [] }
    gpus: [{ address: "0000:3b:00.0", model: nvidia-a30 }]
vms:
  - name: kvm-vm
    host: kvm-01
    gpus: 1
    cpus: 4
    memoryGib: 16
    vsphere: { template: ubuntu-on-kvm }
  - name: esx-vm
    host: esx-01
    gpus: 1
    cpus: 4
    memoryGib: 16
    libvirt: { baseImage: /var/lib/libvirt/images/noble.img }
`;
    const at = (path: string, marker: string, message: RegExp) =>
      expect.stringMatching(
        new RegExp(`^${path.replace(/[[\].]/g, "\\$&")} \\(line ${lineOf(yaml, marker)}\\): .*${message.source}`),
      );
    const list = problems(yaml);
    expect(list).toEqual([
      at("sites[0]", "name: both", /needs one of vsphere: \{ server, datacenter \} or libvirt: \{\}/),
      at("sites[1]", "name: neither", /site "neither" needs one of vsphere/),
      at("hosts[0].datastore", "ds-on-kvm", /datastore is a vSphere setting, but site "kvm" is libvirt/),
      at("hosts[0].network", "network: VM Network", /network is a vSphere setting, but site "kvm" is libvirt/),
      at("hosts[0].enableDirectPath", "enableDirectPath", /vSphere setting/),
      at("hosts[0].libvirt.uri", "uri:", /holds a password/),
      at("hosts[1]", "name: kvm-02", /needs libvirt: \{ cpuVendor, iommuGroups \}/),
      at("hosts[2].libvirt", "libvirt: { cpuVendor: intel, iommuGroups: [] }", /site "lab" is vSphere/),
      at("vms[0]", "name: kvm-vm", /runs on libvirt host "kvm-01" and needs libvirt: \{ baseImage \}/),
      at("vms[0].vsphere", "ubuntu-on-kvm", /host "kvm-01" is libvirt; vsphere settings do not apply/),
      at("vms[1]", "name: esx-vm", /runs on vSphere host "esx-01" and needs vsphere: \{ template \}/),
      at(
        "vms[1].libvirt",
        "baseImage: /var/lib/libvirt/images/noble.img",
        /host "esx-01" is vsphere; libvirt settings do not apply/,
      ),
    ]);
    // One error carries them all, and the whole message never repeats the URI's password.
    const error = fleetError(yaml);
    expect(error.message).toContain(`has problems (${list.length}):`);
    expect(error.message).not.toContain("S3cretPw");
  });

  test.each([
    ["qemu+ssh://admin:S3cretPw@kvm-01/system", "S3cretPw"],
    ["qemu+ssh://admin:S3c@retPw@kvm-01/system", "S3c@retPw"],
    ["qemu+tcp://:S3cretPw@kvm-01/system", "S3cretPw"],
    ["qemu+ssh://admin:S3cretPw@kvm-01", "S3cretPw"],
  ])("a URI with a password (%s) is refused without repeating the password", (uri, password) => {
    const yaml = `sites:
  - name: kvm
    libvirt: {}
hosts:
${rtx3080Host("kvm-01", "kvm", `\n      uri: "${uri}"`)}
vms: []
`;
    const error = fleetError(yaml);
    expect(error.problems).toEqual([
      expect.stringMatching(
        new RegExp(`^hosts\\[0\\]\\.libvirt\\.uri \\(line ${lineOf(yaml, "uri:")}\\): holds a password`),
      ),
    ]);
    expect(error.message).not.toContain(password);
    expect(error.message).not.toContain(uri);
  });

  test("a URI with a user but no password is accepted", () => {
    const yaml = `sites:
  - name: kvm
    libvirt: {}
hosts:
${rtx3080Host("kvm-01", "kvm", "\n      uri: qemu+ssh://root@kvm-01.example.com/system")}
vms: []
`;
    expect(problems(yaml)).toEqual([]);
  });

  test("paths on the host must be absolute, USB ids 4 hex digits: all reported together", () => {
    const yaml = `sites:
  - name: kvm
    libvirt: {}
hosts:
${rtx3080Host("kvm-01", "kvm", "\n      ovmf: { code: OVMF_CODE.fd, vars: /usr/share/OVMF/OVMF_VARS.fd }")}
vms:
  - name: ws-gaming
    host: kvm-01
    gpus: 1
    cpus: 4
    memoryGib: 16
    libvirt:
      baseImage: images/win11.qcow2
      usbDevices:
        - { vendorId: "46d", productId: "c52b" }
        - { vendorId: "046d", productId: "c52g" }
        - { vendorId: "1532", productId: "0084" }
`;
    const lineOfKey = (marker: string) => `(line ${lineOf(yaml, marker)})`;
    expect(problems(yaml)).toEqual([
      `hosts[0].libvirt.ovmf.code ${lineOfKey("ovmf:")}: must be an absolute path on the host (it starts with /)`,
      `vms[0].libvirt.baseImage ${lineOfKey("baseImage")}: must be an absolute path on the host (it starts with /)`,
      `vms[0].libvirt.usbDevices[0].vendorId ${lineOfKey('"46d"')}: must be 4 hex digits, as lsusb shows it`,
      `vms[0].libvirt.usbDevices[1].productId ${lineOfKey('"c52g"')}: must be 4 hex digits, as lsusb shows it`,
    ]);
  });

  test("a libvirt VM with a relative base image is refused", () => {
    const yaml = `sites:
  - name: kvm
    libvirt: {}
hosts:
${rtx3080Host("kvm-01", "kvm")}
vms:
${libvirtVm("vm-a", "kvm-01", "{ baseImage: ./noble.img }")}
`;
    expect(problems(yaml)).toEqual([
      `vms[0].libvirt.baseImage (line ${lineOf(yaml, "noble.img")}): must be an absolute path on the host (it starts with /)`,
    ]);
  });

  test("two hosts of one stack whose names give the same provider alias are refused, not a crash", () => {
    const yaml = `sites:
  - name: kvm
    libvirt: {}
hosts:
${rtx3080Host("kvm.01", "kvm")}
${rtx3080Host("kvm-01", "kvm")}
vms: []
`;
    expect(problems(yaml)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^hosts\\[1\\]\\.name \\(line ${lineOf(yaml, "name: kvm-01")}\\): hosts "kvm\\.01" and "kvm-01" .*"kvm_01".*rename one`,
        ),
      ),
    ]);
  });
});

describe("libvirt providers in the synthesized stack", () => {
  const fleet = `sites:
  - name: kvm
    libvirt: {}
hosts:
  - name: kvm-01.lab.example.com
    site: kvm
    libvirt:
      uri: qemu+ssh://root@kvm-01.lab.example.com/system
      cpuVendor: intel
      iommuGroups: [{ id: 40, devices: ["0000:17:00.0"], bridges: ["0000:16:00.0"] }]
    gpus: [{ address: "0000:17:00.0", model: nvidia-l40s }]
${rtx3080Host("kvm-02", "kvm")}
vms:
${libvirtVm("train-01", "kvm-01.lab.example.com")}
${libvirtVm("desk-01", "kvm-02", "{ guestOs: windows, baseImage: /var/lib/libvirt/images/win11.qcow2, usbDevices: [{ vendorId: 046d, productId: c52b }] }")}
`;
  const run = runApp(writeFleet(fleet));
  const aliasOfVm: Record<string, string> = { "train-01": "kvm_01_lab_example_com", "desk-01": "kvm_02" };

  test("the app succeeds", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  test("one aliased provider per host, its URI a sensitive variable defaulting to the fleet's (or qemu:///system)", () => {
    const json = run.stack("kvm");
    const providers = [...json.provider.libvirt].sort((a: any, b: any) => a.alias.localeCompare(b.alias));
    expect(providers).toEqual([
      { alias: "kvm_01_lab_example_com", uri: "${var.libvirt_uri_kvm_01_lab_example_com}" },
      { alias: "kvm_02", uri: "${var.libvirt_uri_kvm_02}" },
    ]);
    expect(json.variable.libvirt_uri_kvm_01_lab_example_com).toMatchObject({
      type: "string",
      sensitive: true,
      default: "qemu+ssh://root@kvm-01.lab.example.com/system",
    });
    expect(json.variable.libvirt_uri_kvm_02).toMatchObject({
      type: "string",
      sensitive: true,
      default: "qemu:///system",
    });
  });

  test("every libvirt resource uses the provider of its VM's host", () => {
    const json = run.stack("kvm");
    const seen: Record<string, string[]> = {};
    for (const block of [json.resource ?? {}, json.data ?? {}]) {
      for (const [type, resources] of Object.entries(block as Record<string, Record<string, any>>)) {
        if (!type.startsWith("libvirt_")) continue;
        for (const [id, r] of Object.entries(resources)) {
          const vm = String(r["//"].metadata.path).split("/")[1];
          expect({ id, provider: r.provider }).toEqual({ id, provider: `libvirt.${aliasOfVm[vm]}` });
          (seen[vm] ??= []).push(type);
        }
      }
    }
    // Both hosts' VMs were checked, each with its domain and boot volume.
    expect(Object.keys(seen).sort()).toEqual(["desk-01", "train-01"]);
    for (const types of Object.values(seen))
      expect(types).toEqual(expect.arrayContaining(["libvirt_domain", "libvirt_volume"]));
  });

  test("the example's stacks: each libvirt host has its own provider and variable", () => {
    const example = runApp(exampleFleet);
    expect(example.status).toBe(0);
    const ws = example.stack("workstation");
    expect(ws.provider.libvirt).toEqual([{ alias: "ws_01", uri: "${var.libvirt_uri_ws_01}" }]);
    expect(ws.variable.libvirt_uri_ws_01).toMatchObject({ sensitive: true, default: "qemu:///system" });
    const gpu = example.stack("gpu-servers-kvm-gpu-01-ml-example-com");
    expect(gpu.provider.libvirt).toEqual([
      { alias: "kvm_gpu_01_ml_example_com", uri: "${var.libvirt_uri_kvm_gpu_01_ml_example_com}" },
    ]);
    expect(gpu.variable.libvirt_uri_kvm_gpu_01_ml_example_com.default).toBe(
      "qemu+ssh://root@kvm-gpu-01.ml.example.com/system",
    );
    // The vSphere stacks have no libvirt provider.
    expect(example.stack("ml-lab").provider.libvirt).toBeUndefined();
  });
});

describe("secrets and determinism with libvirt", () => {
  test("no secret from the environment reaches any file under the outdir, stdout or stderr", () => {
    const secrets = {
      TF_VAR_libvirt_uri_ws_01: "qemu+ssh://admin:S3cretPw@ws/system",
      TF_VAR_libvirt_uri_kvm_gpu_01_ml_example_com: "qemu+ssh://root:Kvm-S3cret!@kvm-gpu-01/system",
      LIBVIRT_DEFAULT_URI: "qemu+ssh://admin:Default-S3cret@ws/system",
      VSPHERE_PASSWORD: "S3cret-vc-pw!",
      TF_VAR_vsphere_password: "S3cret-tfvar-pw!",
      TF_VAR_windows_admin_password: "S3cret-win-pw!",
      AWS_SECRET_ACCESS_KEY: "S3cret-aws-key/abc+def",
      TF_HTTP_PASSWORD: "glpat-S3cret-token",
    };
    const run = runApp(exampleFleet, secrets);
    expect(run.status).toBe(0);
    const files = filesUnder(run.out);
    // The walk covers the libvirt output, not just cdk.tf.json.
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        "stacks/workstation/cdk.tf.json",
        "stacks/workstation/passthrough.json",
        "stacks/workstation/domains/ws-gaming.xml",
        "stacks/workstation/hosts/ws-01/prepare-host.sh",
        "stacks/workstation/hosts/ws-01/host-prep.json",
      ]),
    );
    const everything = [...[...files.values()].map((b) => b.toString("utf8")), run.stdout, run.stderr];
    for (const value of Object.values(secrets)) {
      for (const text of everything) expect(text.includes(value)).toBe(false);
    }
    for (const password of ["S3cretPw", "Kvm-S3cret!", "Default-S3cret"]) {
      for (const text of everything) expect(text.includes(password)).toBe(false);
    }
  });

  test("synthesizing the example in two directories gives byte-identical files, none naming the directory", () => {
    const a = runApp(exampleFleet);
    const b = runApp(exampleFleet);
    expect([a.status, b.status]).toEqual([0, 0]);
    const filesA = filesUnder(a.out);
    const filesB = filesUnder(b.out);
    expect([...filesA.keys()]).toEqual([...filesB.keys()]);
    expect([...filesA.keys()]).toEqual(
      expect.arrayContaining([
        "manifest.json",
        "stacks/workstation/domains/ws-gaming.xml",
        "stacks/workstation/hosts/ws-01/prepare-host.sh",
        "stacks/workstation/hosts/ws-01/host-prep.json",
        "stacks/workstation/passthrough.json",
        "stacks/gpu-servers-kvm-gpu-01-ml-example-com/domains/kvm-train-01.xml",
        "stacks/gpu-servers-kvm-gpu-01-ml-example-com/domains/kvm-train-02.xml",
        "stacks/gpu-servers-kvm-gpu-01-ml-example-com/hosts/kvm-gpu-01.ml.example.com/prepare-host.sh",
        "stacks/gpu-servers-kvm-gpu-01-ml-example-com/hosts/kvm-gpu-01.ml.example.com/host-prep.json",
      ]),
    );
    for (const [name, bytes] of filesA) {
      expect({ name, same: bytes.equals(filesB.get(name) ?? Buffer.alloc(0)) }).toEqual({ name, same: true });
      const text = bytes.toString("utf8");
      for (const dir of [a.cwd, b.cwd, tmpdir(), root]) {
        expect({ name, dir, contains: text.includes(dir) }).toEqual({ name, dir, contains: false });
      }
    }
    // The host preparation script is written executable, in both runs.
    const script = "stacks/workstation/hosts/ws-01/prepare-host.sh";
    expect(statSync(join(a.out, script)).mode & 0o111).not.toBe(0);
    expect(statSync(join(b.out, script)).mode & 0o777).toBe(statSync(join(a.out, script)).mode & 0o777);
  });
});
