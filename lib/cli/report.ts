import { readFileSync, writeFileSync } from "fs";
import { StackPlan, buildReport } from "../report/build-report";
import { renderMarkdown } from "../report/markdown";
import { PlanError, parsePlan } from "../report/plan";
import { SynthOutput, SynthOutputError, readSynthOutput } from "../report/read-output";
import { CliError, CliIo, EXIT } from "./io";

export interface ReportOptions {
  readonly outdir?: string;
  readonly plan: readonly string[];
  readonly markdown?: string;
  readonly json?: string;
}

/** `gpu-passthrough report` (defined in ./main.ts): prints or writes the report and returns the exit code. */
export function runReport(opts: ReportOptions, io: CliIo): number {
  const outdir = opts.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
  const output = readOutput(outdir);
  const plans = readPlans(opts.plan, output);
  const report = buildReport(output, plans);
  const markdown = renderMarkdown(report);
  if (!opts.markdown && !opts.json) io.out(markdown);
  if (opts.markdown) write(opts.markdown, markdown, io);
  if (opts.json) write(opts.json, `${JSON.stringify(report, null, 2)}\n`, io);
  return EXIT.ok;
}

function readOutput(outdir: string): SynthOutput {
  try {
    return readSynthOutput(outdir);
  } catch (e) {
    if (e instanceof SynthOutputError) throw new CliError(e.message);
    throw e;
  }
}

/** `--plan stack=file` values, each read and checked; a stack may have one plan. */
function readPlans(args: readonly string[], output: SynthOutput): StackPlan[] {
  const stacks = output.stacks.map((s) => s.name);
  const seen = new Set<string>();
  return args.map((arg) => {
    const eq = arg.indexOf("=");
    if (eq <= 0 || eq === arg.length - 1) throw new CliError(`--plan ${arg}: write STACK=FILE (e.g. ml-lab=plan.json)`);
    const stack = arg.slice(0, eq);
    const file = arg.slice(eq + 1);
    if (!stacks.includes(stack)) {
      throw new CliError(`--plan ${arg}: no synthesized stack "${stack}"; the stacks are: ${stacks.join(", ")}`);
    }
    if (seen.has(stack)) throw new CliError(`--plan ${arg}: stack "${stack}" has another plan already`);
    seen.add(stack);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CliError(`cannot read plan ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    try {
      return { stack, plan: parsePlan(text) };
    } catch (e) {
      if (e instanceof PlanError) throw new CliError(`plan ${file} for stack "${stack}": ${e.message}`);
      throw e;
    }
  });
}

function write(file: string, content: string, io: CliIo): void {
  try {
    writeFileSync(file, content);
  } catch (e) {
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
  }
  io.out(`wrote ${file}\n`);
}
