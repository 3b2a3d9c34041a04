/**
 * Reads what synth wrote: the stacks cdktf's `<outdir>/manifest.json` lists (not every directory under stacks/: one
 * left by an earlier synth of a renamed stack would be reported as if it were planned), each with its
 * `passthrough.json` (stacks with GPU hosts) and the libvirt hosts' `host-prep.json`. The report works from these
 * files alone, so it runs in CI on an artifact of `npm run synth` without the app's code. Every file is checked
 * against its schema (output-schemas.ts) before use: a wrong one is one line naming it, not a crash.
 */
import { existsSync, readFileSync, statSync } from "fs";
import { join } from "path";
import { z } from "zod";
import type { PassthroughManifest } from "./manifest";
import { MANIFEST_FILE } from "./manifest-file";
import { ReportedHostPrep, cdktfManifestSchema, hostPrepSchema, passthroughManifestSchema } from "./output-schemas";
import { describeIssue } from "./schema-issue";

export interface SynthStack {
  readonly name: string;
  /** The stack's directory, relative to the output directory (`stacks/<name>`), from manifest.json. */
  readonly dir: string;
  /** Absent for a stack without GPU hosts. */
  readonly manifest?: PassthroughManifest;
  /** KVM hosts' preparation plans (libvirt, Proxmox VE), by host name. */
  readonly hostPrep: ReadonlyMap<string, ReportedHostPrep>;
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

/** cdktf's list of the app's stacks, beside stacks/. */
const CDKTF_MANIFEST_FILE = "manifest.json";
const HOST_PREP_FILE = "host-prep.json";
const AGAIN = "synthesize again with this package";

export function readSynthOutput(outdir: string): SynthOutput {
  if (!isDirectory(outdir)) throw new SynthOutputError(`${outdir} does not exist: run npm run synth first`);
  const manifestFile = join(outdir, CDKTF_MANIFEST_FILE);
  if (!existsSync(manifestFile)) {
    throw new SynthOutputError(
      `${manifestFile} does not exist: ${outdir} is not the output of a finished synth (cdktf writes manifest.json ` +
        "last, listing the stacks); run npm run synth",
    );
  }
  const manifest = readChecked(manifestFile, cdktfManifestSchema, "synthesize again");
  const entries = Object.entries(manifest.stacks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!entries.length) {
    throw new SynthOutputError(
      `${manifestFile} lists no stack: the app synthesized nothing; add a stack and run npm run synth`,
    );
  }
  for (const [name, stack] of entries) {
    const tfJson = join(outdir, stack.synthesizedStackPath);
    if (!existsSync(tfJson)) {
      throw new SynthOutputError(
        `${manifestFile} lists stack "${name}", but ${tfJson} does not exist: synthesize again`,
      );
    }
  }
  return { stacks: entries.map(([name, stack]) => readStack(outdir, name, stack.workingDirectory)) };
}

function readStack(outdir: string, name: string, dir: string): SynthStack {
  const manifestFile = join(outdir, dir, MANIFEST_FILE);
  if (!existsSync(manifestFile)) return { name, dir, hostPrep: new Map() };
  const manifest: PassthroughManifest = readChecked(manifestFile, passthroughManifestSchema, AGAIN);
  const hostPrep = new Map<string, ReportedHostPrep>();
  for (const host of manifest.hosts) {
    const file = host.files.find((f) => f === HOST_PREP_FILE || f.endsWith(`/${HOST_PREP_FILE}`));
    if (file) hostPrep.set(host.name, readChecked(join(outdir, dir, file), hostPrepSchema, AGAIN));
  }
  return { name, dir, manifest, hostPrep };
}

/** A JSON file of the output, checked against its schema. @throws SynthOutputError naming the file and the problem. */
function readChecked<T extends z.ZodType>(file: string, schema: T, fix: string): z.infer<T> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SynthOutputError(
      `cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}; synthesize again`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SynthOutputError(`${file} is not JSON (${(e as Error).message}); synthesize again`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new SynthOutputError(`${file}: ${describeIssue(parsed.error.issues[0], json)}; ${fix}`);
  return parsed.data;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
