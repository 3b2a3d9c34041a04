#!/usr/bin/env node
/**
 * Generates and compiles the TypeScript bindings of the libvirt provider (dmacvicar/libvirt) from the schema kept in
 * providers/libvirt/schema.json. No prebuilt cdktf package exists for it, and `cdktf get` needs Terraform and
 * registry access; the generator works offline from the schema alone.
 *
 *   .gen/providers/libvirt/        generated TypeScript (≈8 MB, for reading; not loaded at synth)
 *   dist/.gen/providers/libvirt/   compiled JavaScript + declarations, what lib/ imports
 *
 * Runs from `npm run build` (and so from `npm ci`, through `prepare`). It is skipped when the compiled bindings
 * were made from the same schema, generator version and tsconfig, so a build costs nothing extra after the first.
 * Plain JavaScript because it runs before anything is compiled.
 */
"use strict";
const { createHash } = require("crypto");
const { execFileSync } = require("child_process");
const { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } = require("fs");
const { join } = require("path");

const root = join(__dirname, "..");
const schemaFile = join(root, "providers/libvirt/schema.json");
const tsconfig = join(root, "tsconfig.bindings.json");
const sourceDir = join(root, ".gen/providers/libvirt");
const compiledDir = join(root, "dist/.gen/providers/libvirt");
const stampFile = join(compiledDir, ".stamp");
const PROVIDER = "registry.terraform.io/dmacvicar/libvirt";
const VERSION = "0.9.7";

function stamp() {
  const generator = require("@cdktf/provider-generator/package.json").version;
  const hash = createHash("sha256");
  for (const file of [schemaFile, tsconfig, __filename]) hash.update(readFileSync(file));
  hash.update(`${generator} ${VERSION}`);
  return hash.digest("hex");
}

async function main() {
  const wanted = stamp();
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === wanted) return;

  const started = Date.now();
  process.env.CHECKPOINT_DISABLE = "1";
  const { generateProviderBindingsFromSchema } = require("@cdktf/provider-generator");
  const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
  schema.provider_versions = { [PROVIDER]: VERSION };
  rmSync(join(root, ".gen/providers/libvirt"), { recursive: true, force: true });
  rmSync(compiledDir, { recursive: true, force: true });
  await generateProviderBindingsFromSchema(join(root, ".gen"), schema);
  if (!existsSync(join(sourceDir, "domain/index.ts"))) {
    throw new Error(`the generator wrote no libvirt_domain binding under ${sourceDir}`);
  }
  const generated = Date.now();
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", tsconfig], {
    cwd: root,
    stdio: "inherit",
  });
  mkdirSync(compiledDir, { recursive: true });
  writeFileSync(stampFile, wanted);
  process.stdout.write(
    `libvirt ${VERSION} bindings: generated in ${generated - started} ms, compiled in ${Date.now() - generated} ms → dist/.gen/providers/libvirt\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`libvirt bindings: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
