/**
 * Reading values out of a Terraform plan in JSON, whose shape is the provider's and not checked: every reader takes
 * `unknown` and answers undefined or false for a shape it does not expect. Shared by the report and the hypervisors'
 * plan readings (lib/backends/<kind>/plan-reading.ts), which must not depend on the report; the fleet loader names
 * its keys with the same `formatPath`.
 */

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v[key]` when `v` is an object. */
export function field(v: unknown, key: string): unknown {
  return isObject(v) ? v[key] : undefined;
}

/** A nested attribute is an object; the same in a list block is a one-element list. */
export function one(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** Whether an `after_unknown`/`*_sensitive` value marks anything (true, or true somewhere inside). */
export function hasTrue(v: unknown): boolean {
  if (v === true) return true;
  if (Array.isArray(v)) return v.some(hasTrue);
  if (isObject(v)) return Object.values(v).some(hasTrue);
  return false;
}

/** A key path as messages show it: `["devices", "hostdevs", 0]` → `devices.hostdevs[0]` (plans, fleet files). */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

export function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** Whether the change makes `disk[N].size` smaller: no hypervisor shrinks a disk in place. */
export function diskShrinks(change: { readonly before: unknown; readonly after: unknown }, path: string): boolean {
  const m = /^disk\[(\d+)\]\.size$/.exec(path);
  if (!m) return false;
  const size = (values: unknown) => field((field(values, "disk") as unknown[] | undefined)?.[Number(m[1])], "size");
  const [before, after] = [size(change.before), size(change.after)];
  return typeof before === "number" && typeof after === "number" && after < before;
}
