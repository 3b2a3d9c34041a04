/** Quoting for the shell commands this library prints (host steps, host preparation scripts). */

import { escapeUnsafe } from "./text";

/**
 * A comment line for a generated script: nothing in it can end the comment, whatever the values in it hold
 * (a line break would start a command of a script that runs as root).
 */
export function shellComment(text: string): string {
  return `# ${escapeUnsafe(text)}`;
}

/** Quotes a value for a POSIX shell; plain words are left as they are, for readable commands. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.:/=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
