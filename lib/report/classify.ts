/**
 * What one planned change means for a GPU VM's guest: created, deleted, updated while it runs, powered off and
 * restarted (a reboot), or destroyed and recreated. Terraform's actions say create/update/delete; whether an update
 * needs the guest down depends on the provider, so each hypervisor's plan reading (lib/backends/<kind>/
 * plan-reading.ts) says it for its resource types. A type no reading knows is told in Terraform's words.
 */
import type { AttributeChange, ChangeKind } from "../backends/plan-reading";
import { field, formatPath, hasTrue, isObject } from "../plan-values";
import type { PlanResourceChange } from "./plan";
import { resourceReading } from "./readings";

export interface Classification {
  readonly kind: ChangeKind;
  /** Why, in a sentence for reviewers. */
  readonly why: string;
  readonly attributes: readonly AttributeChange[];
}

/** The kind of a change from its actions and, for updates, the rules of its resource type. */
export function classifyChange(rc: PlanResourceChange): Classification {
  const { actions } = rc.change;
  const attributes = changedAttributes(rc);
  if (actions.includes("create") && actions.includes("delete")) {
    const order = actions[0] === "create" ? " (the new one is created before the old one is destroyed)" : "";
    const why = resourceReading(rc.type)?.replaceReason?.(rc) ?? replaceReason(rc);
    return { kind: "replace", why: `${why}${order}`, attributes };
  }
  if (actions.includes("create")) return { kind: "create", why: "new", attributes: [] };
  if (actions.includes("delete")) return { kind: "delete", why: deleteReason(rc), attributes: [] };
  return { ...classifyUpdate(rc, attributes), attributes };
}

function classifyUpdate(
  rc: PlanResourceChange,
  attributes: readonly AttributeChange[],
): Omit<Classification, "attributes"> {
  const names = [...new Set(attributes.map((a) => a.path.split(".")[0].replace(/\[\d+\]$/, "")))];
  const list = names.join(", ") || "no attribute the plan shows";
  return (
    resourceReading(rc.type)?.classifyUpdate?.(rc, attributes, list) ?? {
      kind: "update-in-place",
      why: `${list} change in place`,
    }
  );
}

const REASONS: Readonly<Record<string, string>> = {
  replace_because_tainted: "the object is tainted (a failed create, or terraform taint)",
  replace_because_cannot_update: "the provider cannot update",
  replace_by_request: "replacement requested (-replace)",
  replace_by_triggers: "replace_triggered_by",
  delete_because_no_resource_config: "removed from the configuration",
  delete_because_wrong_repetition: "count or for_each was added or removed",
  delete_because_count_index: "its count index no longer exists",
  delete_because_each_key: "its for_each key no longer exists",
  delete_because_no_module: "its module was removed",
  delete_because_no_move_target: "its moved block's target does not exist",
};

function replaceReason(rc: PlanResourceChange): string {
  const paths = (rc.change.replace_paths ?? []).map(formatPath).sort();
  const reason = rc.action_reason ? (REASONS[rc.action_reason] ?? rc.action_reason) : "";
  if (rc.action_reason === "replace_because_cannot_update" || (!rc.action_reason && paths.length)) {
    return paths.length ? `the provider cannot update ${paths.join(", ")} in place` : "the provider cannot update it";
  }
  if (reason) return paths.length ? `${reason}; forced by ${paths.join(", ")}` : reason;
  return "Terraform replaces it";
}

function deleteReason(rc: PlanResourceChange): string {
  return rc.action_reason ? (REASONS[rc.action_reason] ?? rc.action_reason) : "removed";
}

/**
 * Attributes that differ between before and after, or become unknown, sorted. Objects and maps are looked into
 * one level (`extra_config.pciPassthru.64bitMMIOSizeGB`, `devices.hostdevs`): enough to say what changes.
 */
export function changedAttributes(rc: PlanResourceChange): AttributeChange[] {
  const { before, after, after_unknown: unknown } = rc.change;
  if (!isObject(before) && !isObject(after)) return [];
  const b = isObject(before) ? before : {};
  const a = isObject(after) ? after : {};
  const u = isObject(unknown) ? unknown : {};
  const reading = resourceReading(rc.type);
  const shown = reading?.shownValues ?? [];
  const sensitive = (key: string) =>
    hasTrue(field(rc.change.before_sensitive, key)) || hasTrue(field(rc.change.after_sensitive, key));
  const out: AttributeChange[] = [];
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a), ...Object.keys(u)])].sort()) {
    if (reading?.blockDepth !== undefined && (isBlockList(b[key]) || isBlockList(a[key]))) {
      out.push(...blockChanges(key, b[key], a[key], u[key], reading.blockDepth));
      continue;
    }
    if (hasTrue(u[key])) {
      // Known after apply: a change only if it was set before (computed ids stay known on update).
      if (b[key] !== undefined && b[key] !== null) out.push({ path: key, knownAfterApply: true });
      continue;
    }
    if (sameJson(b[key], a[key])) continue;
    if (isObject(b[key]) || isObject(a[key])) {
      const bo = isObject(b[key]) ? (b[key] as Record<string, unknown>) : {};
      const ao = isObject(a[key]) ? (a[key] as Record<string, unknown>) : {};
      const inner = [...new Set([...Object.keys(bo), ...Object.keys(ao)])]
        .sort()
        .filter((k) => !sameJson(bo[k], ao[k]));
      out.push(...(inner.length ? inner.map((k) => ({ path: `${key}.${k}` })) : [{ path: key }]));
      continue;
    }
    const showValue = shown.includes(key) && !sensitive(key) && isScalar(b[key]) && isScalar(a[key]);
    out.push(showValue ? { path: key, before: scalarText(b[key]), after: scalarText(a[key]) } : { path: key });
  }
  return out;
}

/** A list of nested blocks, as Terraform's JSON writes `disk { ... }` (an empty list counts: a block removed). */
function isBlockList(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.every(isObject);
}

/**
 * The settings that differ inside nested blocks, as `disk[0].size`; a block only on one side is named whole
 * (`disk[1]`). Values are never shown: blocks hold passwords (clone.customize) that plans do not always redact.
 */
function blockChanges(
  path: string,
  before: unknown,
  after: unknown,
  unknown: unknown,
  depth: number,
): AttributeChange[] {
  if (hasTrue(unknown) && (unknown === true || depth === 0)) {
    return before !== undefined && before !== null ? [{ path, knownAfterApply: true }] : [];
  }
  if (!hasTrue(unknown) && sameJson(before, after)) return [];
  if (depth > 0 && Array.isArray(before) && Array.isArray(after)) {
    const u = Array.isArray(unknown) ? unknown : [];
    return Array.from({ length: Math.max(before.length, after.length) }, (_, i) =>
      i < before.length && i < after.length
        ? blockChanges(`${path}[${i}]`, before[i], after[i], u[i], depth - 1)
        : [{ path: `${path}[${i}]` }],
    ).flat();
  }
  if (depth > 0 && isObject(before) && isObject(after)) {
    const u = isObject(unknown) ? unknown : {};
    return [...new Set([...Object.keys(before), ...Object.keys(after), ...Object.keys(u)])]
      .sort()
      .flatMap((k) => blockChanges(`${path}.${k}`, before[k], after[k], u[k], depth - 1));
  }
  return [{ path }];
}

function isScalar(v: unknown): boolean {
  return v === undefined || v === null || ["string", "number", "boolean"].includes(typeof v);
}

function scalarText(v: unknown): string {
  return v === undefined || v === null ? "(unset)" : typeof v === "string" ? JSON.stringify(v) : String(v);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Absent and null are the same in a plan; key order does not matter. */
function canonical(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical(v[k])]),
    );
  }
  return v;
}
