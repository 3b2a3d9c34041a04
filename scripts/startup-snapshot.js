#!/usr/bin/env node
/**
 * Builds V8 startup snapshots of the `gpu-passthrough` command and of the example app (`npm run build` runs it after
 * tsc): Node then starts from a heap where the modules are already loaded, instead of reading and compiling them
 * (issue 15). For each target:
 *
 *   1. esbuild (built from its Go module by scripts/esbuild.sh) bundles dist/'s JavaScript into one script, as a
 *      snapshot may only require Node's built-in modules;
 *   2. `node --build-snapshot` runs that script, which loads the modules and runs a warm-up (below), and writes
 *      dist/snapshot/<target>-<node key>.blob. The key is the size and modification time of the node binary, as
 *      scripts/snapshot-run.sh computes them: a blob loads only in the Node that wrote it.
 *
 * Started by scripts/snapshot-run.sh (the `gpu-passthrough` bin, and cdktf.json's app), the snapshot checks that
 * every file it was built from is unchanged (size and modification time, a few milliseconds) and runs the plain
 * dist/ JavaScript otherwise, so a stale blob changes nothing but the start-up time. Without Go, or when a build
 * fails, no blob is written and the plain JavaScript runs.
 *
 * Targets:
 *   cli           dist/lib/cli/main.js bundled with what its commands load; cdktf, constructs and the provider
 *                 bindings stay outside (no command loads them: a snapshot holding them starts 50 ms slower). The
 *                 commands that need neither zod nor yaml at load are loaded.
 *   cli-validate  the same bundle with the report and the fleet loader loaded too, for report and preflight --fleet.
 *                 Warm-up: the fleet file is read (fleet.yaml of this repository), so zod's and yaml's code is
 *                 compiled.
 *   app  dist/main.js with everything: cdktf, the bindings, the library. Warm-up: fleet.yaml is synthesized into a
 *        scratch directory, as `cdktf synth` would.
 *
 * Plain JavaScript: it runs the bundles it writes, and needs nothing compiled.
 *
 *   node scripts/startup-snapshot.js [cli|cli-validate|app ...]     (default: all)
 */
"use strict";
const { execFileSync, spawnSync } = require("child_process");
const { createHash } = require("crypto");
const { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } = require("fs");
const { dirname, join, relative, resolve, sep } = require("path");

const ROOT = resolve(__dirname, "..");
const DIST = join(ROOT, "dist");
const OUT = join(DIST, "snapshot");

/** What scripts/snapshot-run.sh computes with `stat -L -c %s-%Y` of the node it runs. */
function nodeKey(node = process.execPath) {
  const s = statSync(node);
  return `${s.size}-${Math.floor(s.mtimeMs / 1000)}`;
}

/** The CLI's snapshots: the same bundle, with more or less loaded (`modules`) and with or without the warm-up. */
const cli = (modules, warm) => ({
  script: "dist/lib/cli/main.js",
  external: ["cdktf", "constructs", "@cdktf/*", `${join(DIST, ".gen")}/*`],
  warm,
  flags: [],
  preload: () => modules.map((f) => join(DIST, `${f}.js`)),
  entry: (preload) => `
exports.preload = () => { ${preload.map((f) => `require(${JSON.stringify(f)});`).join(" ")} };
exports.warm = (fleetFile) => require(${JSON.stringify(join(DIST, "lib/fleet/load.js"))}).readFleetFile(fleetFile);
exports.run = () => require(${JSON.stringify(join(DIST, "lib/cli/main.js"))}).runAsCommand(process.argv.slice(2));
`,
});

const LIGHT_COMMANDS = ["main", "catalog", "discover", "mmio", "preflight"].map((c) => `lib/cli/${c}`);

const TARGETS = {
  // Most commands: the program and the command modules that need neither zod nor yaml at load. A heap holding
  // those too starts 10-20 ms slower, more than these commands gain from it.
  cli: cli(LIGHT_COMMANDS, false),
  // The commands that validate input with zod (report: plans and manifests; preflight --fleet: the fleet file, with
  // yaml): also the report module and the fleet loader, and a warm-up reads the fleet file (the plug-ins' fleet
  // fragments load, zod's and yaml's code is compiled): 40 ms less than without it. scripts/gpu-passthrough picks it.
  "cli-validate": cli([...LIGHT_COMMANDS, "lib/cli/report", "lib/fleet/load"], true),
  app: {
    script: "dist/main.js",
    external: [],
    warm: true,
    // cdktf synth runs the app with NODE_OPTIONS=--max-old-space-size=4096 (@cdktf/cli-core, synth-stack.js): a V8
    // flag, and a blob loads only under the V8 flags it was built with.
    flags: ["--max-old-space-size=4096"],
    // Every module of dist/ the app can load (dist/main.js itself runs the app when loaded: it is the run step).
    preload: (inputs) => inputs.filter((f) => f.startsWith(DIST + sep) && f !== join(DIST, "main.js")),
    entry: (preload) => `
exports.preload = () => { ${preload.map((f) => `require(${JSON.stringify(f)});`).join(" ")} };
exports.warm = (fleetFile, outdir) =>
  require(${JSON.stringify(join(DIST, "stacks/fleet-app.js"))}).synthesizeFleet(fleetFile, { outdir });
exports.run = () => require(${JSON.stringify(join(DIST, "main.js"))});
`,
  },
};

/** esbuild's bundle of `entryFile` (CommonJS for Node 20) and the absolute paths of the files it read. */
function bundle(esbuild, entryFile, outFile, external) {
  const meta = `${outFile}.meta.json`;
  execFileSync(
    esbuild,
    [
      entryFile,
      "--bundle",
      "--platform=node",
      "--format=cjs",
      "--target=node20",
      "--log-level=warning",
      // No comments and no indentation: a smaller heap to load (the bundle's text is in it), and ASCII only, so V8
      // keeps that text one byte a character (one em dash in a comment doubled a 10 MB bundle). Names are kept.
      "--minify-whitespace",
      `--outfile=${outFile}`,
      `--metafile=${meta}`,
      ...external.map((e) => `--external:${e}`),
    ],
    { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] },
  );
  const { inputs } = JSON.parse(readFileSync(meta, "utf8"));
  rmSync(meta);
  return {
    inputs: Object.keys(inputs).map((f) => resolve(ROOT, f)),
    // esbuild rewrites a relative external path (the provider bindings in dist/.gen) relative to the bundle: the
    // snapshot maps each such path to its file under dist/, as the bundle's own folder is gone when it runs.
    relative: Object.values(inputs).flatMap(({ imports }) =>
      imports
        .filter((i) => i.external && i.path.startsWith("."))
        .map((i) => [i.path, relative(DIST, resolve(dirname(outFile), i.path))]),
    ),
  };
}

/**
 * The files whose change makes the blob stale, with their size and modification time: dist/'s own files one by one,
 * and for a package under node_modules its package.json (an install or update rewrites it).
 */
function fingerprint(inputs) {
  const files = new Set();
  for (const f of inputs) {
    const at = f.lastIndexOf(`${sep}node_modules${sep}`);
    if (at < 0) {
      files.add(f);
      continue;
    }
    const rest = f.slice(at + 14).split(sep);
    files.add(join(f.slice(0, at + 14), ...rest.slice(0, rest[0].startsWith("@") ? 2 : 1), "package.json"));
  }
  return [...files].sort().map((f) => {
    const s = statSync(f);
    return [relative(ROOT, f), s.size, s.mtimeMs];
  });
}

/**
 * The script `node --build-snapshot` runs: the bundle inside a function whose `require` gives Node's built-in modules
 * while building and, once the snapshot runs, also the external modules (through a require rooted in dist/).
 */
function snapshotScript(name, bundleText, relativeExternals, files, scriptRel) {
  const target = TARGETS[name];
  return `"use strict";
const { createRequire, isBuiltin } = require("module");
const { statSync } = require("fs");
const { dirname, resolve, join } = require("path");
const v8 = require("v8");
const builtin = require;
const RELATIVE = new Map(${JSON.stringify(relativeExternals)});
const FILES = ${JSON.stringify(files)};
let outside = null;
function snapshotRequire(id) {
  if (isBuiltin(id)) return builtin(id);
  if (!outside) throw new Error("startup snapshot ${name}: " + id + " is outside the bundle and must not load while the snapshot is built: load it on first use");
  return outside(RELATIVE.has(id) ? join(dist, RELATIVE.get(id)) : id);
}
let dist = "";
const bundle = { exports: {} };
(function (require, module, exports) {
${bundleText}
})(snapshotRequire, bundle, bundle.exports);
const entry = bundle.exports;
entry.preload();
// Warm-up: run the code once, so that V8 keeps it compiled in the snapshot. Its result is dropped; when it fails
// (fleet.yaml mid-edit), the snapshot is only colder.
const [fleetFile, scratch] = process.argv.slice(2);
try {
  if (fleetFile) entry.warm(fleetFile, scratch);
} catch (e) {
  process.stderr.write("startup snapshot ${name}: warm-up skipped: " + (e && e.message) + "\\n");
}

/** Every file the snapshot was built from is as it was (same size and modification time). */
function fresh(root) {
  for (const [file, size, mtimeMs] of FILES) {
    const s = statSync(join(root, file), { throwIfNoEntry: false });
    if (!s || s.size !== size || s.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

v8.startupSnapshot.setDeserializeMainFunction(() => {
  // Node 20 keeps process.cwd()'s cached value in the snapshot: the directory it was built in. chdir clears it.
  process.chdir(".");
  // scripts/snapshot-run.sh passes the plain script (${scriptRel}) as the script argument, as node would get it.
  const script = resolve(process.argv[1]);
  const root = resolve(dirname(script), ${JSON.stringify(relative(dirname(join(ROOT, scriptRel)), ROOT))});
  dist = join(root, "dist");
  outside = createRequire(script);
  const isFresh = fresh(root);
  if (process.env.GPU_PASSTHROUGH_DEBUG) {
    process.stderr.write("startup snapshot ${name}: " + (isFresh ? "up to date" : "stale, running " + script) + "\\n");
  }
  if (isFresh) return entry.run();
  // Stale: dist/ or node_modules changed since the blob was built. The plain JavaScript runs, as without a blob.
  ${target.script === TARGETS.cli.script ? "outside(script).runAsCommand(process.argv.slice(2));" : "outside(script);"}
});
`;
}

function build(name, esbuild) {
  const target = TARGETS[name];
  const work = join(OUT, `${name}.work`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // First pass: what the script reads, for the app's preload list. Second: the entry with preload and warm-up.
  const first = bundle(esbuild, join(ROOT, target.script), join(work, "first.js"), target.external);
  const entryFile = join(work, "entry.js");
  writeFileSync(entryFile, target.entry(target.preload(first.inputs)));
  const out = join(work, "bundle.js");
  const { inputs, relative: rel } = bundle(esbuild, entryFile, out, target.external);
  const mapped = new Map(rel);
  for (const [path, file] of mapped) {
    if (!existsSync(join(DIST, `${file}.js`)) && !existsSync(join(DIST, file))) {
      throw new Error(`startup snapshot ${name}: the bundle's external ${path} maps to dist/${file}, which is missing`);
    }
  }
  const files = fingerprint(inputs.filter((f) => f !== entryFile));
  const script = join(work, "snapshot.js");
  writeFileSync(script, snapshotScript(name, readFileSync(out, "utf8"), [...mapped], files, target.script));

  const key = nodeKey();
  const blob = join(OUT, `${name}-${key}.blob`);
  const scratch = join(work, "warm-out");
  const fleet = join(ROOT, "fleet.yaml");
  const args = [...target.flags, "--snapshot-blob", `${blob}.tmp`, "--build-snapshot", script];
  const r = spawnSync(process.execPath, target.warm && existsSync(fleet) ? [...args, fleet, scratch] : args, {
    cwd: work,
    encoding: "utf8",
    // No color codes, no debug output: what the warm-up prints is dropped, and nothing it reads may vary.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
  });
  // Node warns about built-in modules it has not verified in snapshots (child_process, which no command runs here).
  const errors = r.stderr
    .split("\n")
    .filter(
      (l) => l && !/not yet fully verified|may still work|request support|--trace-warnings|stackTraceLimit/.test(l),
    );
  if (r.status !== 0) throw new Error(`startup snapshot ${name}: node --build-snapshot failed:\n${errors.join("\n")}`);
  if (errors.length) console.error(errors.join("\n"));
  for (const old of readdirSync(OUT).filter((f) => new RegExp(`^${name}-\\d+-\\d+\\.(blob|flags)$`).test(f))) {
    rmSync(join(OUT, old));
  }
  // The V8 flags it was built with, for scripts/snapshot-run.sh: it must run node with the same.
  writeFileSync(blob.replace(/\.blob$/, ".flags"), `${target.flags.join(" ")}\n`);
  renameSync(`${blob}.tmp`, blob);
  rmSync(work, { recursive: true, force: true });
  const digest = createHash("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 12);
  console.log(
    `startup snapshot ${name}: ${relative(ROOT, blob)} (${(statSync(blob).size / 2 ** 20).toFixed(1)} MB, ` +
      `${files.length} files checked at start, fingerprint ${digest})`,
  );
}

function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(TARGETS);
  for (const n of names)
    if (!TARGETS[n])
      throw new Error(`startup-snapshot.js: unknown target ${n}; known: ${Object.keys(TARGETS).join(", ")}`);
  const tool = spawnSync("sh", [join(__dirname, "esbuild.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (tool.status !== 0) {
    // No Go: the bin and the app run the plain JavaScript (scripts/snapshot-run.sh), only slower to start.
    console.error("startup snapshots skipped: the commands and the app start from the plain JavaScript in dist/");
    return;
  }
  mkdirSync(OUT, { recursive: true });
  for (const n of names) build(n, tool.stdout.trim());
}

main();
