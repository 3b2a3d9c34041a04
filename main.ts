/**
 * The fleet app: reads the fleet file (FLEET_FILE, default fleet.yaml), builds one stack per site, checks every
 * rule across all stacks, and only then writes cdktf.out. The file's problems (shape, references) and the rules'
 * problems (allocation, limits, hypervisor rules) are printed together, without a stack trace, and nothing is
 * written.
 */
import { synthesizeFleet } from "./stacks/fleet-app";
import { PassthroughValidationError } from "./lib/problems";

function main(): number {
  const fleetFile = process.env.FLEET_FILE ?? "fleet.yaml";
  try {
    const problems = synthesizeFleet(fleetFile);
    if (!problems.length) return 0;
    process.stderr.write(`${new PassthroughValidationError(problems, `${fleetFile} has problems`).message}\n`);
    return 1;
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
