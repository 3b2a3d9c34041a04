/**
 * Schema problems of the files the report reads (plans, passthrough.json, host-prep.json, cdktf's manifest.json),
 * said as one line: where (`hosts[0].files`), what was found and what was expected (`is a string (expected a
 * list)`). The report reads files it did not write; a wrong one ends in this line, never in a crash further on.
 */
import { isAbsolute } from "path";
import { z } from "zod";

/** `["hosts", 0, "gpus", 1, "mappedMib"]` → `hosts[0].gpus[1].mappedMib`; a key that is not a name is quoted. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => {
      if (typeof key === "number") return `[${key}]`;
      const name = String(key);
      if (!/^[A-Za-z_][\w-]*$/.test(name)) return `[${JSON.stringify(name)}]`;
      return i === 0 ? name : `.${name}`;
    })
    .join("");
}

/** What the value at the issue's path is, against what was expected: `is missing (expected a string)`. */
export function issuePredicate(issue: z.core.$ZodIssue, root: unknown): string {
  const input = valueAt(root, issue.path);
  switch (issue.code) {
    case "invalid_type":
      return `${input === undefined ? "is missing" : `is ${kindOf(input)}`} (expected ${expectedText(issue.expected)})`;
    case "invalid_value":
      return `is ${JSON.stringify(input)} (expected ${issue.values.length === 1 ? "" : "one of "}${issue.values.map((v) => JSON.stringify(v)).join(", ")})`;
    case "invalid_union": {
      const expected = issue.errors.flatMap((branch) =>
        branch.flatMap((i) => (i.code === "invalid_type" ? [expectedText(i.expected)] : [])),
      );
      return `is ${input === undefined ? "missing" : kindOf(input)} (expected ${[...new Set(expected)].join(" or ") || "another shape"})`;
    }
    case "too_small":
      return issue.origin === "array" ? "is empty (expected at least one entry)" : "is empty";
    case "custom":
      return issue.message;
    default:
      return `is not valid: ${issue.message}`;
  }
}

/** `hosts[0].backend is missing (expected a string)`; for the root itself, only the predicate. */
export function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  const path = formatIssuePath(issue.path);
  return `${path}${path ? " " : ""}${issuePredicate(issue, root)}`;
}

/**
 * A path read from the file and joined to a directory: relative, and without `..`, so that it stays inside it
 * (a corrupt file must not make the report read /etc/passwd). `within` names the directory for the message.
 */
export function insidePath(within: string) {
  return z.string().superRefine((value, ctx) => {
    const parts = value.split(/[\\/]/);
    if (value === "" || isAbsolute(value) || parts.includes("..")) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a relative path inside the ${within}`,
      });
    }
  });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return typeof value === "number" ? "a number" : typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function expectedText(expected: string): string {
  switch (expected) {
    case "array":
      return "a list";
    case "object":
    case "record":
      return "an object";
    case "string":
    case "number":
    case "boolean":
      return `a ${expected}`;
    default:
      return expected;
  }
}
