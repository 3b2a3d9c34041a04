/**
 * Terraform plans in JSON (`terraform show -json tfplan`, Terraform's documented "JSON Output Format"): the part
 * the report reads, and a parser that tells a plan from anything else in one sentence. Only `resource_changes` is
 * used: it names every resource Terraform will touch, with its actions, its values before and after, and why a
 * resource is replaced (`action_reason`, `replace_paths`).
 */

/** One action of a resource change. `["delete","create"]` and `["create","delete"]` are replacements. */
export type PlanAction = "no-op" | "create" | "read" | "update" | "delete";

const ACTIONS: readonly string[] = ["no-op", "create", "read", "update", "delete"];

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
  const changes = json.resource_changes ?? [];
  if (!Array.isArray(changes)) throw new PlanError("resource_changes is not a list");
  changes.forEach((rc: unknown, i) => {
    const where = `resource_changes[${i}]`;
    if (!isObject(rc) || typeof rc.address !== "string" || !rc.address) throw new PlanError(`${where} has no address`);
    if (typeof rc.type !== "string") throw new PlanError(`${where} (${rc.address}) has no type`);
    const actions = isObject(rc.change) ? rc.change.actions : undefined;
    if (!Array.isArray(actions) || !actions.length || !actions.every((a) => ACTIONS.includes(a as string))) {
      throw new PlanError(`${where} (${rc.address}) has no valid change.actions`);
    }
  });
  return json as unknown as TerraformPlan;
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

/** `vsphere_virtual_machine.vm_ABC[0]` → `vsphere_virtual_machine.vm_ABC`: the resource, without its instance key. */
export function resourceAddress(address: string): string {
  return address.replace(/\[[^\]]*\]$/, "");
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
