/**
 * State per stack (issue #5, item 3): `sites[].state` and `stackPer: host`, as the user sees them in the synthesized
 * `terraform.backend` of each stack (the compiled app, `node dist/main.js`; `npm test` builds it) and in the fleet
 * file's errors.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { join } from "path";
import { fleetProblems } from "./fleet-helpers";
import { tempDir } from "./temp";

const mainJs = join(__dirname, "..", "dist", "main.js");

function runFleet(yaml: string) {
  if (!existsSync(mainJs)) throw new Error("dist/main.js is missing: run `npm run build` (npm test does)");
  const cwd = tempDir("gpt-state-");
  writeFileSync(join(cwd, "fleet.yaml"), yaml);
  const out = join(cwd, "cdktf.out");
  const result = spawnSync(process.execPath, [mainJs], {
    cwd,
    env: { PATH: process.env.PATH ?? "", FLEET_FILE: join(cwd, "fleet.yaml"), CDKTF_OUTDIR: out },
    encoding: "utf8",
  });
  const stacks = () => (existsSync(join(out, "stacks")) ? readdirSync(join(out, "stacks")).sort() : []);
  const terraform = (stack: string) =>
    JSON.parse(readFileSync(join(out, "stacks", stack, "cdk.tf.json"), "utf8")).terraform;
  return { ...result, cwd, out, stacks, terraform };
}

const problems = fleetProblems;

/** 1-based line of the only line of `yaml` that contains `marker`. */
function lineOf(yaml: string, marker: string): number {
  const found = yaml.split("\n").flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`marker "${marker}" is on ${found.length} lines`);
  return found[0];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A vSphere site with no hosts: a stack with only its provider and backend. */
const vsphereSite = (name: string, state?: string) =>
  `  - name: ${name}
    vsphere: { server: vc.${name}, datacenter: dc }${state === undefined ? "" : `\n    state: ${state}`}`;

/** A KVM host with one RTX 3080 (display + audio in one IOMMU group). */
const kvmHost = (name: string, site: string) => `  - name: ${name}
    site: ${site}
    libvirt: { cpuVendor: amd, iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }] }
    gpus: [{ address: "0000:0b:00.0", model: nvidia-rtx-3080 }]`;

const fleet = (sites: string[], hosts: string[] = []) =>
  `sites:\n${sites.join("\n")}\nhosts:${hosts.length ? `\n${hosts.join("\n")}` : " []"}\nvms: []\n`;

describe("state backends in the synthesized stacks", () => {
  const run = runFleet(
    fleet(
      [
        vsphereSite("plain"),
        vsphereSite("local-path", '{ backend: local, path: "state/{stack}.tfstate" }'),
        vsphereSite("s3-defaults", "{ backend: s3, bucket: tf-state, region: eu-central-1 }"),
        vsphereSite(
          "s3-minio",
          '{ backend: s3, bucket: tf-state, region: us-east-1, key: "fleet/{stack}/state.json", useLockfile: false, encrypt: true, endpoint: "https://minio.lab.example.com:9000" }',
        ),
        vsphereSite(
          "gitlab",
          '{ backend: http, address: "https://gitlab.example.com/api/v4/projects/42/terraform/state/{stack}" }',
        ),
        vsphereSite(
          "http-custom",
          '{ backend: http, address: "https://state.example.com/{stack}", lockAddress: "https://state.example.com/locks/{stack}", lockMethod: LOCK, unlockMethod: UNLOCK }',
        ),
        `  - name: kvm
    libvirt: {}
    stackPer: host
    state: { backend: s3, bucket: tf-state, region: eu-central-1 }`,
        `  - name: kvm-local
    libvirt: {}
    stackPer: host`,
      ],
      [
        kvmHost("GPU_Node.01.example.com", "kvm"),
        kvmHost("gpu-node-02", "kvm"),
        kvmHost("ws.lab", "kvm-local"),
        kvmHost("ws2", "kvm-local"),
      ],
    ),
  );

  test("the app succeeds with one stack per site, and per host where asked", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stacks()).toEqual([
      "gitlab",
      "http-custom",
      "kvm-gpu-node-01-example-com",
      "kvm-gpu-node-02",
      "kvm-local-ws-lab",
      "kvm-local-ws2",
      "local-path",
      "plain",
      "s3-defaults",
      "s3-minio",
    ]);
  });

  test("local state: relative to the stack's directory, at the project root, never absolute", () => {
    expect(run.terraform("plain").backend).toEqual({ local: { path: "../../../terraform.plain.tfstate" } });
    expect(run.terraform("local-path").backend).toEqual({ local: { path: "../../../state/local-path.tfstate" } });
    expect(run.terraform("kvm-local-ws-lab").backend).toEqual({
      local: { path: "../../../terraform.kvm-local-ws-lab.tfstate" },
    });
    expect(run.terraform("kvm-local-ws2").backend).toEqual({
      local: { path: "../../../terraform.kvm-local-ws2.tfstate" },
    });
    for (const stack of run.stacks()) {
      const backend = run.terraform(stack).backend;
      expect(JSON.stringify(backend)).not.toContain(run.cwd);
      if (backend.local) expect(backend.local.path).toMatch(/^\.\.\/\.\.\/\.\.\/[^/]/);
    }
  });

  test("S3: the default key per stack and S3-native locking on by default", () => {
    expect(run.terraform("s3-defaults").backend).toEqual({
      s3: {
        bucket: "tf-state",
        key: "gpu-passthrough/s3-defaults.tfstate",
        region: "eu-central-1",
        use_lockfile: true,
      },
    });
  });

  test("S3: explicit key with {stack}, locking off, encryption and a MinIO endpoint", () => {
    const { s3 } = run.terraform("s3-minio").backend;
    expect(s3).toMatchObject({
      bucket: "tf-state",
      key: "fleet/s3-minio/state.json",
      region: "us-east-1",
      encrypt: true,
      endpoints: { s3: "https://minio.lab.example.com:9000" },
      use_path_style: true,
    });
    expect(s3.use_lockfile).toBeUndefined();
  });

  test("stackPer: host gives each host's stack its own S3 key", () => {
    for (const stack of ["kvm-gpu-node-01-example-com", "kvm-gpu-node-02"]) {
      expect(run.terraform(stack).backend.s3).toEqual({
        bucket: "tf-state",
        key: `gpu-passthrough/${stack}.tfstate`,
        region: "eu-central-1",
        use_lockfile: true,
      });
    }
  });

  test("HTTP, GitLab style: lock address and methods default to GitLab's", () => {
    const address = "https://gitlab.example.com/api/v4/projects/42/terraform/state/gitlab";
    expect(run.terraform("gitlab").backend).toEqual({
      http: {
        address,
        lock_address: `${address}/lock`,
        unlock_address: `${address}/lock`,
        lock_method: "POST",
        unlock_method: "DELETE",
      },
    });
  });

  test("HTTP: the unlock address follows an explicit lock address; methods can be changed", () => {
    expect(run.terraform("http-custom").backend).toEqual({
      http: {
        address: "https://state.example.com/http-custom",
        lock_address: "https://state.example.com/locks/http-custom",
        unlock_address: "https://state.example.com/locks/http-custom",
        lock_method: "LOCK",
        unlock_method: "UNLOCK",
      },
    });
  });
});

describe("state errors in the fleet file", () => {
  test("stacks that would share a state are refused, naming both stacks and how to fix it", () => {
    const yaml = fleet(
      [
        vsphereSite("alpha", "{ backend: local, path: shared.tfstate }"),
        vsphereSite("beta", "{ backend: local, path: shared.tfstate }"),
        `  - name: kvm
    libvirt: {}
    stackPer: host
    state: { backend: s3, bucket: tf-state, region: eu-central-1, key: fleet/kvm.tfstate }`,
        `  - name: lab
    libvirt: {}
    stackPer: host
    state: { backend: http, address: "https://gitlab.example.com/state/lab" }`,
      ],
      [kvmHost("kvm-01", "kvm"), kvmHost("kvm-02", "kvm"), kvmHost("lab-01", "lab"), kvmHost("lab-02", "lab")],
    );
    const list = problems(yaml);
    expect(list).toEqual([
      expect.stringMatching(
        new RegExp(
          `^sites\\[1\\]\\.state \\(line ${lineOf(yaml, "name: beta") + 2}\\): stacks "alpha" and "beta" would share`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^sites\\[2\\]\\.state \\(line ${lineOf(yaml, "fleet/kvm.tfstate")}\\): stacks "kvm-kvm-01" and "kvm-kvm-02" would share`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^sites\\[3\\]\\.state \\(line ${lineOf(yaml, "gitlab.example.com/state/lab")}\\): stacks "lab-lab-01" and "lab-lab-02" would share`,
        ),
      ),
    ]);
    for (const p of list) expect(p).toContain("put {stack} in the key");
  });

  test("the app refuses a shared state and writes nothing", () => {
    const run = runFleet(
      fleet(
        [
          `  - name: kvm
    libvirt: {}
    stackPer: host
    state: { backend: s3, bucket: tf-state, region: eu-central-1, key: fleet.tfstate }`,
        ],
        [kvmHost("kvm-01", "kvm"), kvmHost("kvm-02", "kvm")],
      ),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('stacks "kvm-kvm-01" and "kvm-kvm-02" would share the state');
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(run.out)).toBe(false);
  });

  test("no credential is accepted in state: unknown keys, each with its line", () => {
    const credentialKey =
      "unknown key, and a credential has no place in the fleet file (it is committed): remove it and set it in the environment where Terraform runs (README, Credentials)";
    const yaml = fleet([
      vsphereSite("a", "{ backend: s3, bucket: b, region: r, accessKey: AKIAEXAMPLE, secretKey: s3cr3t }"),
      `  - name: b
    vsphere: { server: vc, datacenter: dc }
    state:
      backend: http
      address: https://gitlab.example.com/state/{stack}
      username: ci
      password: glpat-s3cr3t`,
      vsphereSite("c", "{ backend: local, password: x }"),
    ]);
    expect(problems(yaml)).toEqual([
      `sites[0].state.accessKey (line ${lineOf(yaml, "accessKey")}): ${credentialKey}`,
      `sites[0].state.secretKey (line ${lineOf(yaml, "accessKey")}): ${credentialKey}`,
      `sites[1].state.username (line ${lineOf(yaml, "username: ci")}): ${credentialKey}`,
      `sites[1].state.password (line ${lineOf(yaml, "password: glpat")}): ${credentialKey}`,
      `sites[2].state.password (line ${lineOf(yaml, "password: x")}): ${credentialKey}`,
    ]);
  });

  test("an unknown backend and missing S3 settings are reported", () => {
    const yaml = fleet([
      vsphereSite("a", "{ backend: gcs, bucket: b }"),
      vsphereSite("b", "{ backend: s3, key: k }"),
      vsphereSite("c", '{ backend: http, address: "not a url" }'),
    ]);
    const list = problems(yaml);
    expect(list).toEqual([
      expect.stringMatching(
        new RegExp(`^sites\\[0\\]\\.state\\.backend \\(line ${lineOf(yaml, "gcs")}\\): .*'local' \\| 's3' \\| 'http'`),
      ),
      `sites[1].state.bucket (line ${lineOf(yaml, "key: k")}): missing: expected string, received undefined`,
      `sites[1].state.region (line ${lineOf(yaml, "key: k")}): missing: expected string, received undefined`,
      expect.stringMatching(new RegExp(`^sites\\[2\\]\\.state\\.address \\(line ${lineOf(yaml, "not a url")}\\): `)),
    ]);
  });

  test("an absolute local state path is refused rather than rewritten under the project", () => {
    const yaml = fleet([vsphereSite("a", "{ backend: local, path: /var/lib/terraform/a.tfstate }")]);
    expect(problems(yaml)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^sites\\[0\\]\\.state\\.path \\(line ${lineOf(yaml, "/var/lib")}\\): must be relative to the project root`,
        ),
      ),
    ]);
  });

  test("two hosts whose names give the same stack name are refused, not a crash", () => {
    const perHost = fleet(
      [
        `  - name: kvm
    libvirt: {}
    stackPer: host`,
      ],
      [kvmHost("node.01", "kvm"), kvmHost("node-01", "kvm")],
    );
    expect(problems(perHost)).toEqual([
      `hosts[1].name (line ${lineOf(perHost, "name: node-01")}): host "node-01" of site "kvm" and host "node.01" of site "kvm" both make the stack "kvm-node-01": rename one`,
    ]);
    // A host's stack can also meet another site's stack.
    const acrossSites = fleet(
      [
        vsphereSite("kvm-a", "{ backend: s3, bucket: b, region: r }"),
        `  - name: kvm
    libvirt: {}
    stackPer: host`,
      ],
      [kvmHost("a", "kvm")],
    );
    expect(problems(acrossSites)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^hosts\\[0\\]\\.name \\(line ${lineOf(acrossSites, "name: a")}\\): ${escape('host "a" of site "kvm" and site "kvm-a" both make the stack "kvm-a"')}`,
        ),
      ),
    ]);
    const run = runFleet(acrossSites);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('both make the stack "kvm-a"');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
