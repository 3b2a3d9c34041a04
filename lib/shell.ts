/** Quoting for the shell commands this library prints (host steps, host preparation scripts). */

/** Quotes a value for a POSIX shell; plain words are left as they are, for readable commands. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.:/=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
