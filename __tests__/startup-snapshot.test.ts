/**
 * The startup snapshots (scripts/startup-snapshot.js, built by `npm run build`) as users run them: the
 * `gpu-passthrough` bin (scripts/gpu-passthrough) and cdktf.json's app (scripts/snapshot-run.sh app dist/main.js)
 * print, exit and write exactly what the plain dist/ JavaScript does, errors included. Negative controls: a blob
 * whose files changed since it was built is detected as stale (and the plain script runs), and a blob written by
 * another Node binary is never loaded.
 */
import { SpawnSyncReturns, spawnSync } from "child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { dirname, join, relative } from "path";
import { FLEET_YAML, gpuServer, intelDesktop, removeFleet, removeHost, writeFleet, writeHost } from "./fixtures/hosts";

const ROOT = join(__dirname, "..");
const BIN = join(ROOT, "scripts", "gpu-passthrough");
const PLAIN_CLI = join(ROOT, "dist", "lib", "cli", "main.js");
const APP = join(ROOT, "dist", "main.js");
/** The node the launcher finds on PATH is the one running the tests (the blob's key is that binary's). */
const PATH = `${dirname(process.execPath)}:${process.env.PATH}`;

/** The blob scripts/snapshot-run.sh picks for this node: `stat -L -c %s-%Y` of the binary. */
function blobFor(target: string, node = process.execPath): string {
  const s = statSync(node);
  return join(ROOT, "dist", "snapshot", `${target}-${s.size}-${Math.floor(s.mtimeMs / 1000)}.blob`);
}

type Run = Pick<SpawnSyncReturns<string>, "status" | "stdout" | "stderr">;

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const { status, stdout, stderr } = spawnSync(file, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, PATH, GPU_PASSTHROUGH_DEBUG: "", ...opts.env },
    encoding: "utf8",
    maxBuffer: 2 ** 26,
  });
  return { status, stdout, stderr };
}

/** Every file under `dir`, by relative path, with its content. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) =>
    readdirSync(d, { withFileTypes: true }).forEach((e) =>
      e.isDirectory()
        ? walk(join(d, e.name))
        : (files[relative(dir, join(d, e.name))] = readFileSync(join(d, e.name), "utf8")),
    );
  if (existsSync(dir)) walk(dir);
  return files;
}

const scratch = mkdtempSync(join(tmpdir(), "gpt-snapshot-"));
const server = writeHost(gpuServer());
const desktop = writeHost(intelDesktop());
const fleet = writeFleet();
const brokenFleet = writeFleet("sites: [}\n");
const synthOut = join(scratch, "synth");

beforeAll(() => {
  for (const target of ["cli", "cli-validate", "app"]) {
    if (!existsSync(blobFor(target))) {
      throw new Error(
        `${relative(ROOT, blobFor(target))} is missing: run \`npm run build\` (it needs Go to build esbuild; ` +
          "`npm run snapshot` rebuilds only the snapshots)",
      );
    }
  }
  const probe = run(BIN, ["--help"], { env: { GPU_PASSTHROUGH_DEBUG: "1" } });
  if (probe.stderr.includes("stale")) {
    throw new Error(
      "dist/ changed since the startup snapshots were built: run `npm run snapshot` (npm test's build does)",
    );
  }
  // report reads a synth: the example app's.
  const r = run(process.execPath, [APP], { env: { FLEET_FILE: join(ROOT, "fleet.yaml"), CDKTF_OUTDIR: synthOut } });
  if (r.status !== 0) throw new Error(`node dist/main.js failed: ${r.stderr}`);
});
afterAll(() => {
  [server, desktop].forEach(removeHost);
  [fleet, brokenFleet].forEach(removeFleet);
  rmSync(scratch, { recursive: true, force: true });
});

describe("the gpu-passthrough bin from its snapshot", () => {
  // A stale blob means dist/ was compiled after the last `npm run build`: `npm run snapshot` rebuilds the blobs.
  test.each([
    ["cli", ["mmio", "nvidia-a30"]],
    ["cli", ["preflight", "--root", server]],
    ["cli-validate", ["preflight", "--root", server, "--fleet", fleet, "--host", "kvm-gpu-01"]],
    ["cli-validate", ["preflight", `--fleet=${fleet}`, "--root", server, "--host", "kvm-gpu-01"]],
    ["cli-validate", ["report", "--outdir", synthOut]],
  ])("runs from the snapshot %s, up to date with dist/: %j", (target, args) => {
    const r = run(BIN, args as string[], { env: { GPU_PASSTHROUGH_DEBUG: "1" } });
    expect(r.stderr).toBe(`startup snapshot ${target}: up to date\n`);
  });

  const cases: string[][] = [
    ["--help"],
    ["mmio", "nvidia-a30"],
    ["mmio", "nvidia-v100-16gb:2", "--json"],
    ["mmio", "no-such-gpu"],
    ["catalog"],
    ["catalog", "--json"],
    ["preflight", "--root", server],
    ["preflight", "--root", desktop, "--json"],
    ["preflight", "--root", desktop, "--fleet", fleet, "--host", "kvm-desk-01"],
    ["preflight", "--root", server, "--fleet", fleet, "--host", "nope"],
    ["preflight", "--root", server, "--fleet", brokenFleet],
    ["preflight", "--root", "/nonexistent-root"],
    ["preflight", "--host", "x"],
    ["preflight", "--bogus"],
    ["bogus"],
    ["discover", "--root", server, "--site", "lab", "--libvirt"],
    ["report", "--outdir", synthOut],
    ["report", "--outdir", join(scratch, "no-synth")],
  ];
  test.each(cases.map((c) => [c.join(" "), c]))("%s: same output and exit code as the plain script", (_, args) => {
    const plain = run(process.execPath, [PLAIN_CLI, ...args]);
    expect(run(BIN, args)).toEqual(plain);
  });

  test("relative paths given to the bin resolve as in the plain script", () => {
    const cwd = dirname(fleet);
    const args = ["preflight", "--root", relative(cwd, desktop), "--fleet", relative(cwd, fleet), "--json"];
    const plain = run(process.execPath, [PLAIN_CLI, ...args], { cwd });
    expect(plain.stdout).toContain('"findings"');
    expect(run(BIN, args, { cwd })).toEqual(plain);
  });
});

describe("the example app from its snapshot", () => {
  test("writes the same cdktf.out, byte for byte, as node dist/main.js", () => {
    const dirs = ["plain", "snapshot"].map((d) => join(scratch, "app", d));
    dirs.forEach((d) => mkdirSync(d, { recursive: true }));
    writeFileSync(join(dirs[0], "fleet.yaml"), readFileSync(join(ROOT, "fleet.yaml")));
    writeFileSync(join(dirs[1], "fleet.yaml"), readFileSync(join(ROOT, "fleet.yaml")));
    const plain = run(process.execPath, [APP], { cwd: dirs[0] });
    const snap = run("sh", [join(ROOT, "scripts", "snapshot-run.sh"), "app", APP], {
      cwd: dirs[1],
      env: { GPU_PASSTHROUGH_DEBUG: "1" },
    });
    expect(plain).toEqual({ status: 0, stdout: "", stderr: "" });
    expect(snap).toEqual({ status: 0, stdout: "", stderr: "startup snapshot app: up to date\n" });
    const written = tree(join(dirs[0], "cdktf.out"));
    expect(Object.keys(written).length).toBeGreaterThan(5);
    expect(tree(join(dirs[1], "cdktf.out"))).toEqual(written);
  });

  test("cdktf.json's app command, run from the project root as cdktf runs it, starts from the snapshot", () => {
    // Its script path is relative: resolved against the snapshot's cached working directory (where it was built,
    // unless the snapshot clears the cache) it would name no file, and the blob would count as stale.
    const { app } = JSON.parse(readFileSync(join(ROOT, "cdktf.json"), "utf8")) as { app: string };
    const outdir = join(scratch, "cdktf-json-app");
    // cdktf sets NODE_OPTIONS for the app (@cdktf/cli-core synth-stack.js): the app's blob is built with that flag.
    const env = {
      FLEET_FILE: "fleet.yaml",
      CDKTF_OUTDIR: outdir,
      GPU_PASSTHROUGH_DEBUG: "1",
      NODE_OPTIONS: "--max-old-space-size=4096",
    };
    expect(run("sh", ["-c", app], { env })).toEqual({
      status: 0,
      stdout: "",
      stderr: "startup snapshot app: up to date\n",
    });
    expect(Object.keys(tree(outdir))).toContain("manifest.json");
  });

  test("a fleet file with problems: the same errors, exit 1, nothing written", () => {
    const dirs = ["plain", "snapshot"].map((d) => join(scratch, "bad-app", d));
    const bad = FLEET_YAML.replace(
      "vms: []",
      "vms:\n  - { name: vm-1, host: no-such-host, gpus: 1, cpus: 4, memoryGib: 16 }\n" +
        "  - { name: vm-2, host: kvm-gpu-01, gpus: 9, cpus: -4, memoryGib: 16 }",
    );
    for (const d of dirs) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "fleet.yaml"), bad);
    }
    const plain = run(process.execPath, [APP], { cwd: dirs[0] });
    const snap = run("sh", [join(ROOT, "scripts", "snapshot-run.sh"), "app", APP], { cwd: dirs[1] });
    expect(plain.status).toBe(1);
    expect(plain.stderr).toContain("fleet.yaml has problems");
    expect(snap).toEqual(plain);
    expect(existsSync(join(dirs[1], "cdktf.out"))).toBe(false);
  });
});

describe("negative controls", () => {
  test("a blob whose files changed since it was built is stale: the plain script runs instead", () => {
    // A copy of the project whose dist/ is the real one and whose commander package.json is newer than the blob.
    const copy = join(scratch, "stale");
    mkdirSync(join(copy, "node_modules"), { recursive: true });
    symlinkSync(join(ROOT, "dist"), join(copy, "dist"));
    for (const pkg of readdirSync(join(ROOT, "node_modules"))) {
      if (pkg !== "commander") symlinkSync(join(ROOT, "node_modules", pkg), join(copy, "node_modules", pkg));
    }
    const commander = join(copy, "node_modules", "commander");
    mkdirSync(commander);
    for (const f of readdirSync(join(ROOT, "node_modules", "commander"))) {
      if (f !== "package.json") symlinkSync(join(ROOT, "node_modules", "commander", f), join(commander, f));
    }
    copyFileSync(join(ROOT, "node_modules", "commander", "package.json"), join(commander, "package.json"));
    const args = ["--snapshot-blob", blobFor("cli"), join(copy, "dist", "lib", "cli", "main.js"), "catalog"];
    const stale = run(process.execPath, args, { env: { GPU_PASSTHROUGH_DEBUG: "1" } });
    expect(stale.stderr).toBe(`startup snapshot cli: stale, running ${join(copy, "dist", "lib", "cli", "main.js")}\n`);
    expect(stale.stdout).toBe(run(process.execPath, [PLAIN_CLI, "catalog"]).stdout);
    // The same copy with commander's package.json as built: up to date.
    rmSync(join(commander, "package.json"));
    symlinkSync(join(ROOT, "node_modules", "commander", "package.json"), join(commander, "package.json"));
    expect(run(process.execPath, args, { env: { GPU_PASSTHROUGH_DEBUG: "1" } }).stderr).toBe(
      "startup snapshot cli: up to date\n",
    );
  });

  test("NODE_OPTIONS with other V8 flags: node would refuse the blob, so the launcher runs the plain script", () => {
    const env = { NODE_OPTIONS: "--max-old-space-size=3000", GPU_PASSTHROUGH_DEBUG: "1" };
    const refused = run(process.execPath, ["--snapshot-blob", blobFor("cli"), PLAIN_CLI, "catalog"], { env });
    expect(refused.status).toBe(14);
    expect(refused.stderr).toContain("Failed to load the startup snapshot");
    const r = run(BIN, ["catalog"], { env });
    expect(r).toEqual({ ...run(process.execPath, [PLAIN_CLI, "catalog"]), stderr: "" });
  });

  test("another node binary never loads the blob (its key differs): the bin runs the plain script", () => {
    const bin = join(scratch, "other-node");
    mkdirSync(bin);
    copyFileSync(process.execPath, join(bin, "node"));
    const r = run(BIN, ["mmio", "nvidia-a30"], {
      env: { PATH: `${bin}:${process.env.PATH}`, GPU_PASSTHROUGH_DEBUG: "1" },
    });
    expect(existsSync(blobFor("cli", join(bin, "node")))).toBe(false);
    expect(r).toEqual({ ...run(process.execPath, [PLAIN_CLI, "mmio", "nvidia-a30"]), stderr: "" });
  });
});
