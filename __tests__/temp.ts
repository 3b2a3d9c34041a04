/**
 * Temporary directories of one test file, removed when the file finishes, passed or failed (setup.js registers the
 * afterAll). Without it `npm test` left about 80 directories in the OS temp dir.
 */
import { Testing } from "cdktf";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "fs";
import { tmpdir } from "os";
import { join, relative } from "path";

const made: string[] = [];

/** A new directory under the OS temp dir, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * cdktf's Testing.app() (without an outdir) and Testing.fullSynth() make a new outdir under the OS temp dir on every
 * call and never remove it; these make theirs with {@link tempDir}. Jest loads modules per test file, so this patches
 * the cdktf instance of one test file only.
 */
export function cleanUpCdktfTestingOutdirs(): void {
  const app = Testing.app.bind(Testing);
  Testing.app = (options = {}) => app({ ...options, outdir: options.outdir ?? tempDir("cdktf.outdir.") });
  const fullSynth = Testing.fullSynth.bind(Testing);
  Testing.fullSynth = (stack) => {
    const outdir = fullSynth(stack);
    made.push(outdir);
    return outdir;
  };
}

/** Every file under `dir`, by path relative to it, as bytes, in sorted order. */
export function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}
