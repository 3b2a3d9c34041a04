/**
 * `vsphere_host_pci_device.name_regex` is compiled by the provider with Go's regexp package (RE2 syntax;
 * data_source_vsphere_host_pci_device.go:103, Go 1.23). JavaScript's RegExp is the wrong judge: it accepts
 * lookaround and backreferences, which Go refuses at plan, and refuses Go's `(?i)` flags. This checks the pattern
 * as Go would, for the constructs where the two differ, and says what to write instead.
 */

/** Escapes Go knows after a backslash (letters); any ASCII punctuation may be escaped too. */
const GO_ESCAPE_LETTERS = new Set("aftnrvxpPdDsSwWbBAzQ");

/** Why Go's regexp would refuse `pattern`, or undefined when it compiles there. */
export function re2Problem(pattern: string): string | undefined {
  const depth: number[] = [];
  let classOpen = -1;
  // Whether the previous item can take a repetition operator, and whether it already has one.
  let repeatable = false;
  let repeated = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const problem = escapeProblem(pattern, i, classOpen >= 0);
      if (problem) return problem;
      if (pattern[i + 1] === "Q") {
        const end = pattern.indexOf("\\E", i + 2);
        i = end < 0 ? pattern.length : end + 1;
      } else {
        i += escapeLength(pattern, i) - 1;
      }
      [repeatable, repeated] = [classOpen < 0, false];
      continue;
    }
    if (classOpen >= 0) {
      if (c === "[" && pattern[i + 1] === ":") {
        const end = pattern.indexOf(":]", i + 2);
        if (end > 0) i = end + 1;
      } else if (c === "]" && i > classOpen + 1 && !(i === classOpen + 2 && pattern[classOpen + 1] === "^")) {
        classOpen = -1;
        [repeatable, repeated] = [true, false];
      }
      continue;
    }
    if (c === "[") {
      classOpen = i;
      continue;
    }
    if (c === "(") {
      const problem = groupProblem(pattern, i);
      if (problem) return problem;
      const end = pattern[i + 1] === "?" ? groupHeaderEnd(pattern, i) : i;
      i = end;
      // `(?i)` only sets flags: a repetition after it applies to what came before (and is not a nested one).
      if (pattern[end] === ")" && end > 0 && pattern[end - 1] !== "(") {
        repeated = false;
        continue;
      }
      depth.push(end);
      [repeatable, repeated] = [false, false];
      continue;
    }
    if (c === ")") {
      if (depth.length === 0) return "has a ) without its (";
      depth.pop();
      [repeatable, repeated] = [true, false];
      continue;
    }
    if (c === "|") {
      [repeatable, repeated] = [false, false];
      continue;
    }
    const quantifier = quantifierAt(pattern, i);
    if (quantifier) {
      if (!repeatable) return `has ${quantifier.text} with nothing to repeat`;
      if (repeated) {
        return `repeats a repetition (${quantifier.text}): Go's regexp has no possessive or nested quantifiers`;
      }
      if (quantifier.max !== undefined && quantifier.max > 1000) {
        return `repeats up to ${quantifier.max} times (${quantifier.text}): Go's regexp allows at most 1000`;
      }
      i += quantifier.text.length - 1;
      if (pattern[i + 1] === "?") i++; // lazy: x*? is RE2 too
      repeated = true;
      continue;
    }
    [repeatable, repeated] = [true, false];
  }
  if (classOpen >= 0) return "has a [ without its ]";
  if (depth.length) return "has a ( without its )";
  return undefined;
}

function escapeProblem(pattern: string, i: number, inClass: boolean): string | undefined {
  const next = pattern[i + 1];
  if (next === undefined) return "ends with a lone backslash";
  if (inClass && "bBAzQ".includes(next)) return `has \\${next} inside [...], where Go's regexp does not allow it`;
  if (/[1-9]/.test(next) && !(/[1-7]/.test(next) && /[0-7]/.test(pattern[i + 2] ?? ""))) {
    return `uses a backreference (\\${next}), which Go's regexp (RE2) does not have`;
  }
  if (next === "k") return "uses a named backreference (\\k<...>), which Go's regexp (RE2) does not have";
  if (next === "u") return "uses \\u, which Go's regexp does not know: write \\x{...} (e.g. \\x{00e9})";
  if (/[A-Za-z]/.test(next) && !GO_ESCAPE_LETTERS.has(next)) {
    return `uses \\${next}, which is not an escape Go's regexp knows`;
  }
  const rest = pattern.slice(i + 2);
  if (next === "x" && !/^(?:[0-9A-Fa-f]{2}|\{0*(?:[0-9A-Fa-f]{1,5}|10[0-9A-Fa-f]{4})\})/.test(rest)) {
    return "has a \\x that is not \\xHH or \\x{H...} (a code point up to 10FFFF)";
  }
  if ((next === "p" || next === "P") && !/^(?:[CLMNPSZclmnpsz]|\{\^?[A-Za-z_]+\})/.test(rest)) {
    return `has \\${next} without a Unicode class: write \\pL or \\p{Greek}`;
  }
  return undefined;
}

/** Length of the escape at `i` (`\d` 2, `\x{263a}` 8, `\p{Greek}` 9, `\012` 4). */
function escapeLength(pattern: string, i: number): number {
  const next = pattern[i + 1];
  if ((next === "x" || next === "p" || next === "P") && pattern[i + 2] === "{") {
    const end = pattern.indexOf("}", i + 3);
    return end < 0 ? pattern.length - i : end - i + 1;
  }
  if (next === "x") return 4;
  if (next === "p" || next === "P") return 3;
  if (/[0-7]/.test(next)) return 2 + (pattern.slice(i + 2, i + 4).match(/^[0-7]{0,2}/)?.[0].length ?? 0);
  return 2;
}

const LOOKAROUND: readonly (readonly [string, string])[] = [
  ["(?=", "a lookahead"],
  ["(?!", "a negative lookahead"],
  ["(?<=", "a lookbehind"],
  ["(?<!", "a negative lookbehind"],
  ["(?>", "an atomic group"],
  ["(?#", "a comment group"],
];

function groupProblem(pattern: string, i: number): string | undefined {
  for (const [open, what] of LOOKAROUND) {
    if (pattern.startsWith(open, i)) return `uses ${what} (${open}...), which Go's regexp (RE2) does not have`;
  }
  if (pattern[i + 1] !== "?") return undefined;
  const header = pattern.slice(i, groupHeaderEnd(pattern, i) + 1);
  if (/^\(\?P?<[A-Za-z0-9_]+>$/.test(header)) return undefined;
  if (/^\(\?[imsU]*(?:-[imsU]+)?[:)]$/.test(header)) return undefined;
  return `has the group ${header}, which Go's regexp does not know (it has (?:...), (?P<name>...) and flags i, m, s, U)`;
}

/** Index of the last character of a `(?...` group's header: its `:`, `>` or `)`. */
function groupHeaderEnd(pattern: string, i: number): number {
  for (let j = i + 2; j < pattern.length; j++) {
    if (pattern[j] === ":" || pattern[j] === ")" || (pattern[j] === ">" && /^\(\?P?</.test(pattern.slice(i, j)))) {
      return j;
    }
  }
  return pattern.length - 1;
}

function quantifierAt(pattern: string, i: number): { text: string; max?: number } | undefined {
  const c = pattern[i];
  if (c === "*" || c === "+" || c === "?") return { text: c };
  if (c !== "{") return undefined;
  // Go reads {n}, {n,} and {n,m} as repetition and any other brace as a literal.
  const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] ? Number(m[3]) : min;
  return { text: m[0], max: Math.max(min, max) };
}
