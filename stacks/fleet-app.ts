/** Builds the fleet's stacks: one per site, or one per host where a site asks for it (see lib/fleet/layout.ts). */
import { AppConfig } from "cdktf";
import { Construct } from "constructs";
import { stackLayout } from "../lib/fleet/layout";
import { pluginOf, readFleetFile } from "../lib/fleet/load";
import { Fleet } from "../lib/fleet/schema";
import { PassthroughValidationError } from "../lib/problems";
import { PassthroughApp, appProblems } from "../lib/validation/app";
import { FleetStack } from "./fleet-stack";

export function buildFleetStacks(scope: Construct, fleet: Fleet): FleetStack[] {
  const built = new Set<string>();
  // A second stack of one name is skipped: the fleet loader has reported the clash, and cdktf would throw.
  return stackLayout(fleet).flatMap((plan) => {
    const hypervisor = pluginOf(plan.site);
    if (built.has(plan.name) || !hypervisor) return [];
    built.add(plan.name);
    const names = new Set(plan.hosts.map((h) => h.name));
    return [new FleetStack(scope, { plan, hypervisor, vms: fleet.vms.filter((v) => names.has(v.host)) })];
  });
}

/**
 * The fleet app's whole job: read the fleet file, build its stacks, check every rule across all of them, and write
 * the output only when nothing is wrong. The file's problems and the rules' problems come back together; with any,
 * nothing is written.
 */
export function synthesizeFleet(fleetFile: string, config?: AppConfig): readonly string[] {
  const reading = readFleetFile(fleetFile);
  if (!reading.readable) return reading.problems;
  const app = new PassthroughApp(config);
  // The entries without problems of their own are built, so that the rules that span entries run on them too.
  buildFleetStacks(app, reading.fleet);
  if (reading.problems.length) {
    const problems = [...reading.problems, ...appProblems(app)];
    app.discardOutput();
    return problems;
  }
  // synth checks every construct before it writes anything (and then removes what it made): checking here as well
  // would run every rule twice.
  try {
    app.synth();
  } catch (e) {
    if (e instanceof PassthroughValidationError) return e.problems;
    throw e;
  }
  return [];
}
