/**
 * Validation of a whole app before anything is written. cdktf validates stack by stack while it writes them,
 * so a problem in the second stack leaves the first one on disk and hides the problems of the rest. Here every
 * construct of every stack is checked first and all problems are reported together.
 */
import { App, AppConfig, Aspects, DISABLE_STACK_TRACE_IN_METADATA, TerraformStack } from "cdktf";
import { existsSync, readdirSync, rmSync, statSync } from "fs";
import { join } from "path";
import { IConstruct } from "constructs";
import { PassthroughHost } from "../host";
import { PassthroughValidationError, isSelfDescribing } from "../problems";
import { ensureManifest } from "../report/manifest";
import { FinalizeGpus } from "../vm";
import { markChecked } from "./checked-once";

/** Every validation message of every construct in the app, in construct order. */
export function appProblems(app: IConstruct): string[] {
  return app.node.findAll().flatMap((c) => {
    // Messages from our constructs name their VM or host; others (cdktf's own) get their construct path.
    const prefix = isSelfDescribing(c) ? "" : `[${c.node.path}] `;
    return c.node.validate().map((message) => prefix + message);
  });
}

/** Throws a {@link PassthroughValidationError} listing every problem in the app, if there is any. */
export function assertValidApp(app: IConstruct): void {
  const problems = appProblems(app);
  if (problems.length) throw new PassthroughValidationError(problems);
}

/** A cdktf `App` that checks every stack before writing any: all problems at once, no half-written output. */
export class PassthroughApp extends App {
  /** cdktf creates the output directories when the app and stacks are constructed; a failed synth removes them again. */
  private readonly createdOutdir: boolean;

  constructor(config?: AppConfig) {
    const outdir = config?.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
    const existed = existsSync(outdir);
    // Annotations (warnings) carry no stack trace by default: cdktf would write this machine's absolute paths into
    // manifest.json, so output would differ by checkout. stackTraces: true, or the context key (cdktf.json), restores it.
    const traces = config?.stackTraces ? {} : { [DISABLE_STACK_TRACE_IN_METADATA]: true };
    super({ ...config, context: { ...traces, ...config?.context } });
    this.createdOutdir = !existed;
  }

  public override synth(): void {
    // Every stack with a passthrough host writes the manifest `gpu-passthrough report` reads.
    for (const stack of this.node.findAll().filter((c) => c instanceof TerraformStack)) {
      if (stack.node.findAll().some((c) => c instanceof PassthroughHost)) ensureManifest(stack);
    }
    try {
      assertValidApp(this);
    } catch (e) {
      this.discardOutput();
      throw e;
    }
    const all = this.node.findAll();
    if (all.every((c) => Aspects.of(c).all.every((a) => a instanceof FinalizeGpus))) markChecked(this);
    super.synth();
  }

  /** Removes the empty output directories cdktf made at construction, when synth is not going to happen. */
  public discardOutput(): void {
    if (this.createdOutdir && existsSync(this.outdir) && !containsFiles(this.outdir)) {
      rmSync(this.outdir, { recursive: true });
    }
  }
}

function containsFiles(dir: string): boolean {
  return readdirSync(dir).some((name) => {
    const path = join(dir, name);
    return !statSync(path).isDirectory() || containsFiles(path);
  });
}
