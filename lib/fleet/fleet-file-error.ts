/**
 * The error of a fleet file with problems, in a module of its own: the command line tells it apart from other errors
 * without loading the fleet loader (its schema, the hypervisors' fragments, zod and yaml).
 */
import { PassthroughValidationError } from "../problems";

export class FleetFileError extends PassthroughValidationError {
  constructor(file: string, problems: readonly string[]) {
    super(problems, `${file} has problems`);
    this.name = "FleetFileError";
  }
}
