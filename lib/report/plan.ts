/**
 * Terraform plans in JSON (`terraform show -json tfplan`, Terraform's documented "JSON Output Format"): the part
 * the report reads, and a parser that tells a plan from anything else in one sentence. Only `resource_changes` is
 * used: it names every resource Terraform will touch, with its actions, its values before and after, and why a
 * resource is replaced (`action_reason`, `replace_paths`).
 */
import { z } from "zod";
import { isObject } from "../plan-values";
import { describeIssue } from "./schema-issue";

/** One action of a resource change. `["delete","create"]` and `["create","delete"]` are replacements. */
export type PlanAction = "no-op" | "create" | "read" | "update" | "delete";

const ACTIONS = ["no-op", "create", "read", "update", "delete"] as const;

export interface PlanChange {
  readonly actions: readonly PlanAction[];
  /** Values before the change; null for a create. */
  readonly before: unknown;
  /** Values after the change, unknown values left out; null for a delete. */
  readonly after: unknown;
  /** The same shape as `after`, with `true` where a value is known only after apply. */
  readonly after_unknown?: unknown;
  readonly before_sensitive?: unknown;
  readonly after_sensitive?: unknown;
  /** Attribute paths (each a list of keys and indexes) that force the replacement. */
  readonly replace_paths?: readonly (readonly (string | number)[])[];
}

export interface PlanResourceChange {
  readonly address: string;
  readonly module_address?: string;
  readonly mode?: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly index?: string | number;
  /** Set for a deposed object (left over by a create-before-destroy): its cleanup, not the resource itself. */
  readonly deposed?: string;
  readonly change: PlanChange;
  /** Why Terraform chose this action, e.g. `replace_because_cannot_update`. */
  readonly action_reason?: string;
}

export interface TerraformPlan {
  readonly format_version: string;
  readonly terraform_version?: string;
  readonly resource_changes?: readonly PlanResourceChange[];
}

/** A plan file that cannot be used; the message is one sentence for the command line. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

/**
 * Parses the text of a plan in JSON and checks the fields the report reads.
 * @throws PlanError saying what is wrong: not JSON, a state rather than a plan, an unknown format, a broken change.
 */
export function parsePlan(text: string): TerraformPlan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PlanError(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(json) || typeof json.format_version !== "string") {
    throw new PlanError("not a Terraform plan in JSON: no format_version (make one with terraform show -json tfplan)");
  }
  if (!/^1\.\d+$/.test(json.format_version)) {
    throw new PlanError(`plan format_version ${json.format_version} is not supported (this report reads 1.x)`);
  }
  // A plan always has planned_values; `terraform show -json` of a state has values instead.
  if (!("planned_values" in json) && !("resource_changes" in json)) {
    throw new PlanError(
      "a Terraform state, not a plan: it has no resource_changes (run terraform show -json on a saved plan)",
    );
  }
  if (json.terraform_version !== undefined && typeof json.terraform_version !== "string") {
    throw new PlanError(`terraform_version is ${JSON.stringify(json.terraform_version)} (expected a string)`);
  }
  const changes = json.resource_changes ?? [];
  if (!Array.isArray(changes)) throw new PlanError("resource_changes is not a list");
  const parsed = resourceChangesSchema.safeParse(changes);
  if (!parsed.success) throw new PlanError(changeIssue(parsed.error.issues[0], changes));
  return { ...json, format_version: json.format_version, resource_changes: parsed.data } as TerraformPlan;
}

/**
 * The fields of a resource change the report reads, in the order they are checked (the first problem is the one
 * told). Other fields pass through: Terraform adds fields within format 1.x.
 */
const resourceChangeSchema = z.looseObject({
  address: z.string().min(1),
  type: z.string().min(1),
  change: z.looseObject({
    actions: z.array(z.enum(ACTIONS)).min(1),
    // Values: any shape, absent for some actions; classify.ts reads them defensively.
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    after_unknown: z.unknown().optional(),
    before_sensitive: z.unknown().optional(),
    after_sensitive: z.unknown().optional(),
    replace_paths: z.array(z.array(z.union([z.string(), z.number()]))).optional(),
  }),
  name: z.string(),
  mode: z.enum(["managed", "data"]).optional(),
  module_address: z.string().optional(),
  index: z.union([z.string(), z.number()]).optional(),
  deposed: z.string().optional(),
  action_reason: z.string().optional(),
});

const resourceChangesSchema = z.array(resourceChangeSchema);

/** `resource_changes[3] (terraform_data.x): name is missing (expected a string)`. */
function changeIssue(issue: z.core.$ZodIssue, changes: readonly unknown[]): string {
  const [index, ...rest] = issue.path;
  const rc = changes[index as number];
  const address = isObject(rc) && typeof rc.address === "string" && rc.address ? ` (${rc.address})` : "";
  const where = `resource_changes[${String(index)}]${address}`;
  const inner = describeIssue({ ...issue, path: rest }, rc);
  return rest.length ? `${where}: ${inner}` : `${where} ${inner}`;
}

/** The changes the report looks at: managed resources that change, without deposed objects' cleanup. */
export function effectiveChanges(plan: TerraformPlan): PlanResourceChange[] {
  return (plan.resource_changes ?? []).filter(
    (rc) =>
      (rc.mode ?? "managed") === "managed" &&
      rc.deposed === undefined &&
      !rc.change.actions.every((a) => a === "no-op" || a === "read"),
  );
}

/** `terraform_data.vm_ABC[0]` → `terraform_data.vm_ABC`: the resource, without its instance key. */
export function resourceAddress(address: string): string {
  return address.replace(/\[[^\]]*\]$/, "");
}
