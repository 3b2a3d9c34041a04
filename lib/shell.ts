/** Quoting for the shell commands this library prints (host steps, host preparation scripts). */

/**
 * A comment line for a generated script: nothing in it can end the comment, whatever the values in it hold
 * (a line break would start a command of a script that runs as root).
 */
export function shellComment(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  return `# ${text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?")}`;
}

/** Quotes a value for a POSIX shell; plain words are left as they are, for readable commands. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.:/=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
