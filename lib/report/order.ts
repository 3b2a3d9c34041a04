/**
 * Sort order of everything the report lists: by code point, not by locale, so that the output is the same bytes
 * on every machine whatever its language settings.
 */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
