import { readFileSync, writeFileSync } from "fs";
import { Command } from "commander";
import { StackPlan, buildReport } from "../report/build-report";
import { renderMarkdown } from "../report/markdown";
import { PlanError, parsePlan } from "../report/plan";
import { SynthOutput, SynthOutputError, readSynthOutput } from "../report/read-output";
import { CliError, CliIo, EXIT, SetExit } from "./io";

interface ReportOptions {
  readonly outdir?: string;
  readonly plan: readonly string[];
  readonly markdown?: string;
  readonly json?: string;
}

export function registerReport(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("report")
    .summary("describe the synthesized GPU hosts and VMs (and what plans change) for a pull request")
    .description(
      "Reads the stacks cdktf.out/manifest.json lists (their cdk.tf.json, passthrough.json, host-prep.json) and writes a " +
        "report for reviewers: the GPU allocation of each host, each VM's passthrough settings and why, the host steps " +
        "outside Terraform, and the constraints that follow. Given Terraform plans in JSON (terraform show -json " +
        "tfplan), it also tells which changes to GPU VMs are in place, need a reboot or a replacement, and which GPUs " +
        "move between VMs. Prints Markdown unless --markdown or --json names a file.",
    )
    .option("--outdir <dir>", "the synth output directory (default: $CDKTF_OUTDIR or cdktf.out)")
    .option(
      "--plan <stack=plan.json>",
      "a stack's plan in JSON (terraform show -json tfplan > plan.json); repeat for more stacks",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--markdown <file>", "write the Markdown report to this file")
    .option("--json <file>", "write the report as JSON to this file")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  gpu-passthrough report",
        "  gpu-passthrough report --plan ml-lab=ml-lab.plan.json --markdown report.md --json report.json",
        "",
        "Exit codes: 0 report written, 2 no synthesized stack, or a plan or synth file that cannot be read.",
      ].join("\n"),
    )
    .action((opts: ReportOptions) => {
      const outdir = opts.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
      const output = readOutput(outdir);
      const plans = readPlans(opts.plan, output);
      const report = buildReport(output, plans);
      const markdown = renderMarkdown(report);
      if (!opts.markdown && !opts.json) io.out(markdown);
      if (opts.markdown) write(opts.markdown, markdown, io);
      if (opts.json) write(opts.json, `${JSON.stringify(report, null, 2)}\n`, io);
      setExit(EXIT.ok);
    });
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
