/**
 * A problem found before deploy. Every rule reports problems of this shape so that all of them can be listed
 * at once, each saying what is wrong, with which VM/host/device, and how to fix it.
 */
import { escapeUnsafe } from "./text";

export interface Problem {
  /** Who has the problem, as the user named it: `VM "ml-01"`, `host "esx-01"`, `vms[2].gpus[0]`. */
  readonly subject: string;
  /** What is wrong, naming the offending value. */
  readonly message: string;
  /** What to do about it. Omitted when the message already says it. */
  readonly fix?: string;
}

export function formatProblem(p: Problem): string {
  return p.fix ? `${p.subject}: ${p.message}. Fix: ${p.fix}` : `${p.subject}: ${p.message}`;
}

/** Raised (instead of a stack trace) when a fleet or an app has problems; `problems` lists all of them. */
export class PassthroughValidationError extends Error {
  constructor(
    public readonly problems: readonly string[],
    heading = "GPU passthrough configuration has problems",
  ) {
    super(`${heading} (${problems.length}):\n${problems.map((p) => `  - ${printable(p)}`).join("\n")}`);
    this.name = "PassthroughValidationError";
  }
}

/**
 * A problem as one line of text: values echoed from the user's input may hold newlines or terminal escapes, which
 * would forge extra problem lines or rewrite the terminal. They are shown escaped.
 */
export function printable(text: string): string {
  return escapeUnsafe(text);
}

const selfDescribing = new WeakSet<object>();

/**
 * Marks a construct whose validation messages already name their VM or host, so reports print them as they are
 * rather than prefixed with the construct path.
 */
export function markSelfDescribing(construct: object): void {
  selfDescribing.add(construct);
}

export function isSelfDescribing(construct: object): boolean {
  return selfDescribing.has(construct);
}
