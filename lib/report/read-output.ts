/**
 * Reads what synth wrote: every stack directory `<outdir>/stacks/<stack>/` with a `cdk.tf.json`, its
 * `passthrough.json` (stacks with GPU hosts) and the libvirt hosts' `host-prep.json`. The report works from these
 * files alone, so it runs in CI on an artifact of `npm run synth` without the app's code.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "fs";
import { join } from "path";
import type { HostPrepPlan } from "../backends/libvirt/host-prep";
import { MANIFEST_FILE, MANIFEST_VERSION, PassthroughManifest } from "./manifest";
import { isObject } from "./plan";

export interface SynthStack {
  readonly name: string;
  /** Absent for a stack without GPU hosts. */
  readonly manifest?: PassthroughManifest;
  /** libvirt hosts' preparation plans, by host name. */
  readonly hostPrep: ReadonlyMap<string, HostPrepPlan>;
}

export interface SynthOutput {
  /** By name. */
  readonly stacks: readonly SynthStack[];
}

/** The synth output cannot be read; the message is one sentence for the command line. */
export class SynthOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SynthOutputError";
  }
}

const HOST_PREP_FILE = "host-prep.json";

export function readSynthOutput(outdir: string): SynthOutput {
  const stacksDir = join(outdir, "stacks");
  if (!isDirectory(outdir)) throw new SynthOutputError(`${outdir} does not exist: run npm run synth first`);
  const names = isDirectory(stacksDir)
    ? readdirSync(stacksDir)
        .filter((name) => existsSync(join(stacksDir, name, "cdk.tf.json")))
        .sort()
    : [];
  if (!names.length) {
    throw new SynthOutputError(`${outdir} has no synthesized stack (no stacks/*/cdk.tf.json): run npm run synth first`);
  }
  return { stacks: names.map((name) => readStack(outdir, name)) };
}

function readStack(outdir: string, name: string): SynthStack {
  const rel = `stacks/${name}`;
  const manifestPath = `${rel}/${MANIFEST_FILE}`;
  if (!existsSync(join(outdir, manifestPath))) return { name, hostPrep: new Map() };
  const manifest = readJson(outdir, manifestPath);
  if (!isObject(manifest) || manifest.version !== MANIFEST_VERSION) {
    const version = isObject(manifest) ? JSON.stringify(manifest.version) : "none";
    throw new SynthOutputError(
      `${join(outdir, manifestPath)} has version ${version}; this report reads version ${MANIFEST_VERSION}: synthesize again with this package`,
    );
  }
  if (!Array.isArray(manifest.hosts) || !Array.isArray(manifest.vms)) {
    throw new SynthOutputError(`${join(outdir, manifestPath)} has no hosts and vms lists: synthesize again`);
  }
  const m = manifest as unknown as PassthroughManifest;
  const hostPrep = new Map<string, HostPrepPlan>();
  for (const host of m.hosts) {
    const file = host.files.find((f) => f === HOST_PREP_FILE || f.endsWith(`/${HOST_PREP_FILE}`));
    if (file) hostPrep.set(host.name, readJson(outdir, `${rel}/${file}`) as HostPrepPlan);
  }
  return { name, manifest: m, hostPrep };
}

/** Reads a JSON file of the output; `path` is relative to outdir. */
function readJson(outdir: string, path: string): unknown {
  const file = join(outdir, path);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SynthOutputError(
      `cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}; synthesize again`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SynthOutputError(`${file} is not JSON (${(e as Error).message}); synthesize again`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
