#!/usr/bin/env node
/**
 * Generates and compiles the TypeScript bindings of each hypervisor's Terraform provider from the schema its backend
 * keeps in lib/backends/<kind>/provider/: schema.json (format of `terraform providers schema -json`) and provider.json
 * ({"source": "registry.terraform.io/<namespace>/<type>", "version": "x.y.z", "name": "<bindings folder>"}). So a new
 * hypervisor's provider is a folder, not an edit here. No prebuilt cdktf packages exist for these providers, and
 * `cdktf get` needs Terraform and registry access; the generator works offline from the schema alone.
 *
 *   .gen/src/providers/<name>/     generated TypeScript (megabytes, for reading; not loaded at synth)
 *   dist/.gen/providers/<name>/    compiled JavaScript + declarations, what lib/ imports as .gen/providers/<name>/...
 *
 * The sources are kept out of .gen/providers/: tsc resolves lib/'s `.gen/providers/<name>/...` imports there first and
 * would compile them all over again; with nothing there, tsconfig's rootDirs sends it to the declarations in dist/.gen.
 *
 * Runs from `npm run build` (and so from `npm ci`, through `prepare`). A provider is skipped when its compiled bindings
 * were made from the same files and generator version, so a build costs nothing extra after the first.
 * Plain JavaScript because it runs before anything is compiled.
 */
"use strict";
const { createHash } = require("crypto");
const { execFileSync } = require("child_process");
const { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } = require("fs");
const { join, relative } = require("path");
const { lazyClasses } = require("./lazy-binding-classes");

const root = join(__dirname, "..");
const backendsDir = join(root, "lib/backends");
const baseTsconfig = join(root, "tsconfig.bindings.json");
const sourceRoot = join(root, ".gen/src");
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Each lib/backends/<kind>/provider/ folder that declares a provider, in a stable order. */
function providerDirs() {
  return readdirSync(backendsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(backendsDir, entry.name, "provider"))
    .filter((dir) => existsSync(join(dir, "schema.json")) || existsSync(join(dir, "provider.json")))
    .sort();
}

/** Reads and checks provider.json and schema.json of one folder; throws naming the file and the fix. */
function readProvider(dir) {
  const at = relative(root, dir);
  for (const file of ["schema.json", "provider.json"]) {
    if (!existsSync(join(dir, file))) {
      throw new Error(
        `${at} has no ${file}: a provider folder needs both schema.json (\`terraform providers schema -json\`) and ` +
          `provider.json ({"source", "version", "name"})`,
      );
    }
  }
  const parse = (file) => {
    try {
      return JSON.parse(readFileSync(join(dir, file), "utf8"));
    } catch (e) {
      throw new Error(
        `${at}/${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}): fix its syntax`,
      );
    }
  };
  const meta = parse("provider.json");
  const { source, version, name } = meta ?? {};
  if (typeof source !== "string" || source.split("/").length !== 3 || source.split("/").some((part) => !part)) {
    throw new Error(
      `${at}/provider.json: source ${JSON.stringify(source)} is not "<host>/<namespace>/<type>": ` +
        `write the full address, e.g. "registry.terraform.io/dmacvicar/libvirt"`,
    );
  }
  if (typeof version !== "string" || !/^\d+\.\d+\.\d+\S*$/.test(version)) {
    throw new Error(
      `${at}/provider.json: version ${JSON.stringify(version)} is not an exact version: write the one the schema ` +
        `was taken from, e.g. "0.9.7"`,
    );
  }
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new Error(
      `${at}/provider.json: name ${JSON.stringify(name)} is not a folder name of lower-case letters, digits, - and _: ` +
        `write the provider's type, e.g. "${source.split("/")[2]}"`,
    );
  }
  const schema = parse("schema.json");
  const declared = Object.keys(schema?.provider_schemas ?? {});
  if (!declared.includes(source)) {
    throw new Error(
      `${at}/schema.json has no provider_schemas entry for ${source} (it has: ${declared.join(", ") || "none"}): ` +
        `make provider.json's source and the schema name the same provider`,
    );
  }
  return { at, dir, source, version, name, schema };
}

/** What the compiled bindings were made from: when it is unchanged, there is nothing to do. */
function stamp(provider) {
  const generator = require("@cdktf/provider-generator/package.json").version;
  const hash = createHash("sha256");
  for (const file of [
    join(provider.dir, "schema.json"),
    join(provider.dir, "provider.json"),
    baseTsconfig,
    __filename,
    require.resolve("./lazy-binding-classes"),
  ]) {
    hash.update(readFileSync(file));
  }
  hash.update(generator);
  return hash.digest("hex");
}

async function build(provider) {
  const { at, source, version, name, schema } = provider;
  const sourceDir = join(sourceRoot, "providers", name);
  const compiledDir = join(root, "dist/.gen/providers", name);
  const stampFile = join(compiledDir, ".stamp");
  // Sources there (from an older version of this script, or `cdktf get`) would shadow dist/.gen for tsc: see above.
  rmSync(join(root, ".gen/providers", name), { recursive: true, force: true });
  const wanted = stamp(provider);
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === wanted) return;

  const started = Date.now();
  const { generateProviderBindingsFromSchema } = require("@cdktf/provider-generator");
  schema.provider_versions = { [source]: version };
  rmSync(sourceDir, { recursive: true, force: true });
  rmSync(compiledDir, { recursive: true, force: true });
  await generateProviderBindingsFromSchema(sourceRoot, schema);
  // Every provider has a provider block, so a binding for it proves the generator wrote where provider.json says.
  if (!existsSync(join(sourceDir, "provider/index.ts")) || !existsSync(join(sourceDir, "index.ts"))) {
    const wrote = existsSync(join(sourceRoot, "providers")) ? readdirSync(join(sourceRoot, "providers")) : [];
    throw new Error(
      `the generator wrote no bindings under ${relative(root, sourceDir)} (folders under .gen/src/providers: ` +
        `${wrote.join(", ") || "none"}): set "name" in ${at}/provider.json to the folder it writes for ${source}`,
    );
  }
  const generated = Date.now();
  // One tsconfig per provider, made here: the shared options stay in tsconfig.bindings.json.
  const tsconfig = join(sourceRoot, `tsconfig.${name}.json`);
  writeFileSync(
    tsconfig,
    JSON.stringify(
      {
        extends: baseTsconfig,
        compilerOptions: { rootDir: sourceDir, outDir: compiledDir },
        include: [join(sourceDir, "**/*.ts")],
      },
      null,
      2,
    ),
  );
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", tsconfig], {
    cwd: root,
    stdio: "inherit",
  });
  const lazy = makeLazy(compiledDir);
  mkdirSync(compiledDir, { recursive: true });
  writeFileSync(stampFile, wanted);
  process.stdout.write(
    `${name} ${version} bindings: generated in ${generated - started} ms, compiled in ${Date.now() - generated} ms → ` +
      `${relative(root, compiledDir)} (${lazy} nested-block classes made lazy)\n`,
  );
}

/** Rewrites every compiled module under `dir` with lazy nested-block classes; returns how many classes it made lazy. */
function makeLazy(dir) {
  let count = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".js")) continue;
    const file = join(entry.parentPath ?? entry.path, entry.name);
    const text = readFileSync(file, "utf8");
    const rewritten = lazyClasses(text, relative(root, file));
    if (rewritten === text) continue;
    count += (rewritten.match(/\$lazy\$class = class /g) ?? []).length;
    writeFileSync(file, rewritten);
  }
  return count;
}

async function main() {
  process.env.CHECKPOINT_DISABLE = "1";
  const providers = providerDirs().map(readProvider);
  const byName = new Map();
  for (const provider of providers) {
    const other = byName.get(provider.name);
    if (other) {
      throw new Error(
        `${other.at} and ${provider.at} both name their bindings "${provider.name}": give each provider.json its own name`,
      );
    }
    byName.set(provider.name, provider);
  }
  for (const provider of providers) {
    try {
      await build(provider);
    } catch (e) {
      throw new Error(`${provider.name} (${provider.at}): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`provider bindings: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
