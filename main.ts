/**
 * The fleet app: reads the fleet file (FLEET_FILE, default fleet.yaml), builds one stack per site, checks every
 * rule across all stacks, and only then writes cdktf.out. Problems are printed together, without a stack trace,
 * and nothing is written.
 */
import { buildFleetStacks } from "./stacks/fleet-app";
import { loadFleetFile } from "./lib/fleet/load";
import { PassthroughApp } from "./lib/validation/app";
import { PassthroughValidationError } from "./lib/problems";

function main(): number {
  const fleetFile = process.env.FLEET_FILE ?? "fleet.yaml";
  try {
    const fleet = loadFleetFile(fleetFile);
    const app = new PassthroughApp();
    buildFleetStacks(app, fleet);
    app.synth();
    return 0;
  } catch (e) {
    if (e instanceof PassthroughValidationError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main();
