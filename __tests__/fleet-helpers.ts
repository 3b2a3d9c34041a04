import { FleetFileError, parseFleet } from "../lib/fleet/load";

/** The problems a fleet file's text gets from the loader; [] when it is valid. */
export function fleetProblems(yaml: string): string[] {
  try {
    parseFleet(yaml);
  } catch (e) {
    if (e instanceof FleetFileError) return [...e.problems];
    throw e;
  }
  return [];
}
