/**
 * How the report reads one hypervisor's resources in a Terraform plan: which resources are GPU VMs, which changes
 * restart or replace them, which values may be shown, and which PCI functions a VM holds. Plain data in, plain data
 * out: the plan's JSON. The report (lib/report/classify.ts) does what is common to every provider (Terraform's
 * actions and reasons, the changed attributes) and asks a hypervisor's reading only what its provider decides; a
 * resource type no reading knows gets Terraform's own words.
 */

/** How a change reaches the guest. `unsupported-update` is a change the provider fails to apply. */
export type ChangeKind = "create" | "delete" | "update-in-place" | "reboot" | "replace" | "unsupported-update";

/** One changed attribute: a top-level name, or `parent.child` inside an object or map. */
export interface AttributeChange {
  readonly path: string;
  /** Shown for plain settings only ({@link ResourceReading.shownValues}). */
  readonly before?: string;
  readonly after?: string;
  /** The new value is known only after apply. */
  readonly knownAfterApply?: boolean;
}

/** A resource change as Terraform's JSON plan gives it (`resource_changes[]`), the fields the readings use. */
export interface ResourceChangeView {
  readonly address: string;
  readonly type: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before: unknown;
    readonly after: unknown;
    readonly after_unknown?: unknown;
    readonly replace_paths?: readonly (readonly (string | number)[])[];
  };
  readonly action_reason?: string;
}

/** What a provider's rules say of one update. */
export interface ChangeReading {
  readonly kind: ChangeKind;
  /** Why, in a sentence for reviewers. */
  readonly why: string;
}

/** How the report reads one resource type of a hypervisor's provider. */
export interface ResourceReading {
  /** The Terraform resource type, e.g. `vsphere_virtual_machine`. */
  readonly type: string;
  /**
   * Top-level attributes whose values are shown (`num_cpus 8 → 16`): plain settings only. Other values stay out of
   * the report, because some hold secrets (guestinfo, cloud-init user data) that Terraform's JSON does not redact.
   */
  readonly shownValues: readonly string[];
  /**
   * Set when the provider writes nested blocks (`disk { ... }`, lists of objects) that matter setting by setting:
   * changes inside them are named down to this depth (`disk[0].size`), never with values. Unset: a changed
   * attribute is named one level deep (`extra_config.<key>`).
   */
  readonly blockDepth?: number;
  /**
   * An update of this type. `list` names the changed attributes, for messages. Undefined, or no function: the
   * update changes in place (`<list> change in place`).
   */
  classifyUpdate?(
    rc: ResourceChangeView,
    attributes: readonly AttributeChange[],
    list: string,
  ): ChangeReading | undefined;
  /** Why Terraform replaces one of these, when the provider's rules say more than Terraform's reason. */
  replaceReason?(rc: ResourceChangeView): string | undefined;
  /**
   * Present exactly for resource types whose instances are GPU VMs: the PCI functions a VM holds in a plan's before
   * or after values, as `0000:3b:00.0`, sorted; undefined when the values are absent (create/delete) or not known
   * until apply (`unknown` is the plan's `after_unknown`).
   */
  pciFunctions?(values: unknown, unknown?: unknown): string[] | undefined;
}

/** A hypervisor's part of the report: how its provider's plan reads, and the words for its VM settings. */
export interface PlanReading {
  /** Every resource type of its provider the report knows more of than Terraform's words (VMs, disks, seeds). */
  readonly resources: readonly ResourceReading[];
  /**
   * Where a 64-bit MMIO window of `sizeGb` is set on this hypervisor, for the report's VM settings, e.g.
   * `extra_config pciPassthru.use64bitMMIO, pciPassthru.64bitMMIOSizeGB`.
   */
  mmioSetting(sizeGb: number): string;
  /** Why all guest memory is reserved on this hypervisor, for the report's VM settings. */
  readonly memoryWhy: string;
}
