/** What the commands share: where output goes, the exit codes, and the error that ends a command with one line. */

/** Exit codes: 0 ready, 1 something blocks deployment, 2 usage error or input that cannot be read. */
export const EXIT = { ok: 0, blocked: 1, usage: 2 } as const;

/** Output streams, replaceable in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Ends the command: its message is printed as one line (no stack trace) and the process exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Commands report their exit code through this callback; commander's action handlers return nothing. */
export type SetExit = (code: number) => void;
