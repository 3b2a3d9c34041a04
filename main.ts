/**
 * The fleet app: reads the fleet file (FLEET_FILE, default fleet.yaml), builds one stack per site, checks every
 * rule across all stacks, and only then writes cdktf.out. The file's problems (shape, references) and the rules'
 * problems (allocation, limits, hypervisor rules) are printed together, without a stack trace, and nothing is
 * written.
 */
import { buildFleetStacks } from "./stacks/fleet-app";
import { readFleetFile } from "./lib/fleet/load";
import { PassthroughApp, appProblems } from "./lib/validation/app";
import { PassthroughValidationError } from "./lib/problems";

function main(): number {
  const fleetFile = process.env.FLEET_FILE ?? "fleet.yaml";
  const fail = (problems: readonly string[]) => {
    process.stderr.write(`${new PassthroughValidationError(problems, `${fleetFile} has problems`).message}\n`);
    return 1;
  };
  try {
    const reading = readFleetFile(fleetFile);
    if (!reading.readable) return fail(reading.problems);
    const app = new PassthroughApp();
    // The entries without problems of their own are built, so that the rules that span entries run on them too.
    buildFleetStacks(app, reading.fleet);
    const problems = [...reading.problems, ...appProblems(app)];
    if (problems.length) {
      app.discardOutput();
      return fail(problems);
    }
    app.synth();
    return 0;
  } catch (e) {
    if (e instanceof PassthroughValidationError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    // A bug of ours, not the user's: one line, and the trace only when asked for.
    process.stderr.write(
      `gpu-passthrough: internal error while synthesizing ${fleetFile}: ${(e as Error).message ?? String(e)}\n` +
        (process.env.GPU_PASSTHROUGH_DEBUG
          ? `${(e as Error).stack}\n`
          : "Set GPU_PASSTHROUGH_DEBUG=1 for the stack trace, and please report it.\n"),
    );
    return 1;
  }
}

process.exitCode = main();
