/**
 * What one planned change means for a GPU VM's guest: created, deleted, updated while it runs, powered off and
 * restarted (a reboot), or destroyed and recreated. Terraform's actions say create/update/delete; whether an update
 * needs the guest down depends on the provider, so the rules are per resource type:
 *
 * - `vsphere_virtual_machine` (vmware/vsphere 2.15.0): the attributes of the provider's restart list (see
 *   VSPHERE_POWER_OFF) power the VM off; annotation, folder, tags, custom attributes, the name, the memory
 *   reservation and a growing disk change in place.
 * - `libvirt_domain` (dmacvicar/libvirt 0.9.7): name and type force a replacement; the provider applies any other
 *   change by redefining the domain, which stops and restarts it.
 * - `libvirt_volume` (0.9.7): only name and pool can change; any other update fails at apply ("Update Not
 *   Supported"), so the plan must replace the volume instead.
 */
import { PlanResourceChange, isObject } from "./plan";

/** How a change reaches the guest. `unsupported-update` is a change the provider fails to apply. */
export type ChangeKind = "create" | "delete" | "update-in-place" | "reboot" | "replace" | "unsupported-update";

export const VSPHERE_VM = "vsphere_virtual_machine";
export const LIBVIRT_DOMAIN = "libvirt_domain";
export const LIBVIRT_VOLUME = "libvirt_volume";
/** Resource types whose instances are GPU VMs. */
export const VM_TYPES: readonly string[] = [VSPHERE_VM, LIBVIRT_DOMAIN];

/**
 * vsphere_virtual_machine attributes whose change powers the VM off and on again: the provider's list
 * (docs/resources/virtual_machine.md at v2.15.0, "Virtual Machine Reboot"), read for a GPU VM, whose CPU and memory
 * hot add are off. Two entries come from its code, not the page: num_cpus (expandCPUCountConfig restarts for any
 * count change while hot add/remove is off) and vapp (expandVAppConfig restarts for any change). `memory` restarts
 * because hot add is off. memory_reservation is not in the list: a reservation change alone is applied while the VM
 * runs. `disk.*` are settings of a disk block; a disk that grows, or a new disk, is added while the VM runs.
 */
export const VSPHERE_POWER_OFF: readonly string[] = [
  "alternate_guest_name",
  "cpu_hot_add_enabled",
  "cpu_hot_remove_enabled",
  "cpu_performance_counters_enabled",
  "disk.controller_type",
  "disk.unit_number",
  "disk.disk_mode",
  "disk.write_through",
  "disk.disk_sharing",
  "efi_secure_boot_enabled",
  "ept_rvi_mode",
  "enable_disk_uuid",
  "enable_logging",
  "extra_config",
  "firmware",
  "guest_id",
  "hardware_version",
  "hv_mode",
  "memory",
  "memory_hot_add_enabled",
  "nested_hv_enabled",
  "num_cores_per_socket",
  "num_cpus",
  "pci_device_id",
  "run_tools_scripts_after_power_on",
  "run_tools_scripts_after_resume",
  "run_tools_scripts_before_guest_standby",
  "run_tools_scripts_before_guest_shutdown",
  "run_tools_scripts_before_guest_reboot",
  "swap_placement_policy",
  "tools_upgrade_policy",
  "vapp",
  "vbs_enabled",
  "vvtd_enabled",
  "vtpm",
];

/** The same page: a network adapter's type change, or a removed adapter, restarts the VM only without VMware Tools. */
const VSPHERE_POWER_OFF_WITHOUT_TOOLS = "network_interface.adapter_type";

/** vSphere block lists (`disk`, `network_interface`, `clone`, ...) are compared setting by setting, this deep. */
const BLOCK_DEPTH = 8;

/** libvirt_volume attributes provider 0.9.7 can update. */
const LIBVIRT_VOLUME_UPDATABLE: readonly string[] = ["name", "pool"];

/**
 * Attributes whose values are shown (`num_cpus 8 → 16`): plain settings only. Other values stay out of the report,
 * because some hold secrets (extra_config guestinfo, cloud-init user data) that Terraform's JSON does not redact.
 */
const SHOWN_VALUES: Readonly<Record<string, readonly string[]>> = {
  // Plain top-level settings: the power-off ones but the device list and extra_config (which can hold guestinfo
  // secrets), and the reservation.
  [VSPHERE_VM]: [
    "name",
    "memory_reservation",
    ...VSPHERE_POWER_OFF.filter(
      (a) => !a.includes(".") && !["pci_device_id", "extra_config", "vapp", "vtpm"].includes(a),
    ),
  ],
  [LIBVIRT_DOMAIN]: ["name", "type", "vcpu", "memory", "memory_unit", "running", "autostart"],
  [LIBVIRT_VOLUME]: ["name", "pool", "capacity"],
};

/** One changed attribute: a top-level name, or `parent.child` inside an object or map. */
export interface AttributeChange {
  readonly path: string;
  /** Shown for plain settings only (see SHOWN_VALUES). */
  readonly before?: string;
  readonly after?: string;
  /** The new value is known only after apply. */
  readonly knownAfterApply?: boolean;
}

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
    return { kind: "replace", why: `${vsphereReplaceReason(rc) ?? replaceReason(rc)}${order}`, attributes };
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
  switch (rc.type) {
    case VSPHERE_VM:
      return classifyVsphereUpdate(rc, attributes, list);
    case LIBVIRT_DOMAIN:
      return {
        kind: "reboot",
        why: `provider 0.9.7 applies any domain change (here ${list}) by redefining the domain: it stops and restarts it`,
      };
    case LIBVIRT_VOLUME: {
      // Computed values (id, path) that become unknown follow from a rename; only set values decide.
      const set = attributes.filter((a) => !a.knownAfterApply).map((a) => a.path.split(".")[0]);
      const fixed = [...new Set(set)].filter((n) => !LIBVIRT_VOLUME_UPDATABLE.includes(n));
      return fixed.length
        ? {
            kind: "unsupported-update",
            why:
              `provider 0.9.7 cannot update ${fixed.join(", ")} of a volume ("Update Not Supported" at apply): ` +
              `plan again with -replace=${rc.address} (or terraform taint ${rc.address})`,
          }
        : { kind: "update-in-place", why: `${list} change in place` };
    }
    default:
      return { kind: "update-in-place", why: `${list} change in place` };
  }
}

/**
 * Provider 2.15.0 forces a new resource for any change under `clone` but its timeout
 * (resource_vsphere_virtual_machine.go:1055-1063, CustomizeDiff), unless the VM was imported: then the first
 * apply only records the clone settings in state (`imported` goes to false).
 */
const CLONE_FORCES_NEW =
  "anything under clone (template, customization, run-once commands, Administrator password) forces a new VM: " +
  "the provider destroys it and clones it again";

function isCloneSetting(path: string): boolean {
  return /^clone(\[|$)/.test(path) && !/^clone\[0\]\.timeout$/.test(path);
}

/**
 * A VM whose host_system_id changes, known on both sides: a move to another host. Provider 2.15.0 cannot apply it in
 * place (its update reconfigures the PCI devices against an empty host_system_id, and vCenter refuses to migrate a
 * powered-on VM with a DirectPath device), so the library replaces the VM through its placement.
 */
function hostMove(rc: PlanResourceChange): { from: string; to: string } | undefined {
  const from = field(rc.change.before, "host_system_id");
  const to = field(rc.change.after, "host_system_id");
  if (hasTrue(field(rc.change.after_unknown, "host_system_id"))) return undefined;
  return typeof from === "string" && typeof to === "string" && from && from !== to ? { from, to } : undefined;
}

/** Why Terraform replaces a vSphere VM, when vSphere's rules say more than Terraform's reason. */
function vsphereReplaceReason(rc: PlanResourceChange): string | undefined {
  if (rc.type !== VSPHERE_VM) return undefined;
  const move = hostMove(rc);
  if (move) {
    return (
      `it moves to another host (host_system_id ${JSON.stringify(move.from)} → ${JSON.stringify(move.to)}): ` +
      "a VM with a passthrough device cannot be migrated, so it is destroyed and cloned again on the new host"
    );
  }
  const paths = (rc.change.replace_paths ?? []).map(formatPath);
  const clone = paths.filter(isCloneSetting).sort();
  if (clone.length) return `${CLONE_FORCES_NEW} (here ${clone.join(", ")})`;
  return undefined;
}

function classifyVsphereUpdate(
  rc: PlanResourceChange,
  attributes: readonly AttributeChange[],
  list: string,
): Omit<Classification, "attributes"> {
  // expandDiskSettings (virtual_machine_disk_subresource.go:1934-1947): an existing disk keeps its provisioning
  // (GetWithVeto) and cannot shrink.
  const vetoed = attributes
    .filter((a) => /^disk\[\d+\]\.(thin_provisioned|eagerly_scrub)$/.test(a.path) || shrinks(rc, a.path))
    .map((a) => a.path.replace(/\[\d+\]/, ""));
  if (vetoed.length) {
    return {
      kind: "unsupported-update",
      why:
        `provider 2.15.0 cannot change ${[...new Set(vetoed)].join(", ")} of an existing disk (it fails at apply: ` +
        `provisioning is fixed and disks do not shrink): plan again with -replace=${rc.address}, or undo the change`,
    };
  }
  if (hostMove(rc)) {
    return {
      kind: "unsupported-update",
      why:
        "moving a VM with a passthrough device to another host fails in place (provider 2.15.0 reconfigures its PCI " +
        "devices against an empty host id; vCenter refuses to migrate it while it runs): plan again with " +
        `-replace=${rc.address}`,
    };
  }
  if (attributes.some((a) => isCloneSetting(a.path))) {
    return field(rc.change.before, "imported") === true
      ? {
          kind: "update-in-place",
          why: "an imported VM: the provider records its clone settings in state without touching the VM; from the next change on, a clone change replaces it",
        }
      : { kind: "replace", why: `${CLONE_FORCES_NEW} (provider 2.15.0 plans this as a replacement; plan again)` };
  }
  // `disk[0].unit_number` → `disk.unit_number`: the restart list names settings, not instances.
  const settings = [...new Set(attributes.map((a) => a.path.replace(/\[\d+\]/g, "")))];
  const extraConfigRestarts = field(rc.change.after, "extra_config_reboot_required") !== false;
  const offline = VSPHERE_POWER_OFF.filter(
    (entry) =>
      (entry !== "extra_config" || extraConfigRestarts) &&
      settings.some((s) => s === entry || s.startsWith(`${entry}.`)),
  );
  if (offline.length) {
    return {
      kind: "reboot",
      why: `${offline.join(", ")} cannot change while a VM with a passthrough device runs: the VM is powered off to apply it`,
    };
  }
  const retyped = settings.includes(VSPHERE_POWER_OFF_WITHOUT_TOOLS);
  const removed = blockCount(rc.change.before, "network_interface") > blockCount(rc.change.after, "network_interface");
  if (retyped || removed) {
    const what = retyped ? VSPHERE_POWER_OFF_WITHOUT_TOOLS : "a removed network_interface";
    return {
      kind: "reboot",
      why: `${what} powers the VM off when VMware Tools is not running in the guest (the provider's restart list); with Tools running it changes while the VM runs`,
    };
  }
  return { kind: "update-in-place", why: `${list} change while the VM runs` };
}

/** `disk[1].size` that gets smaller. */
function shrinks(rc: PlanResourceChange, path: string): boolean {
  const m = /^disk\[(\d+)\]\.size$/.exec(path);
  if (!m) return false;
  const size = (values: unknown) => field((field(values, "disk") as unknown[] | undefined)?.[Number(m[1])], "size");
  const [before, after] = [size(rc.change.before), size(rc.change.after)];
  return typeof before === "number" && typeof after === "number" && after < before;
}

function blockCount(values: unknown, key: string): number {
  const v = field(values, key);
  return Array.isArray(v) ? v.length : 0;
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

/** `["devices", "hostdevs", 0]` → `devices.hostdevs[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
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
  const shown = SHOWN_VALUES[rc.type] ?? [];
  const sensitive = (key: string) =>
    hasTrue(field(rc.change.before_sensitive, key)) || hasTrue(field(rc.change.after_sensitive, key));
  const out: AttributeChange[] = [];
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a), ...Object.keys(u)])].sort()) {
    if (BLOCK_TYPES.includes(rc.type) && (isBlockList(b[key]) || isBlockList(a[key]))) {
      out.push(...blockChanges(key, b[key], a[key], u[key], BLOCK_DEPTH));
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

/** Resource types whose nested blocks (lists of objects) are compared setting by setting. */
const BLOCK_TYPES: readonly string[] = [VSPHERE_VM];

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

function field(v: unknown, key: string): unknown {
  return isObject(v) ? v[key] : undefined;
}

/** Whether an `after_unknown`/`*_sensitive` value marks anything (true, or true somewhere inside). */
function hasTrue(v: unknown): boolean {
  if (v === true) return true;
  if (Array.isArray(v)) return v.some(hasTrue);
  if (isObject(v)) return Object.values(v).some(hasTrue);
  return false;
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

/**
 * The PCI functions a VM resource holds in a plan's before or after values, as `0000:3b:00.0`; undefined when the
 * values are absent (create/delete) or not known until apply.
 */
export function vmPciFunctions(type: string, values: unknown, unknown?: unknown): string[] | undefined {
  if (!isObject(values)) return undefined;
  if (type === VSPHERE_VM) {
    if (hasTrue(field(unknown, "pci_device_id"))) return undefined;
    const ids = values.pci_device_id;
    return Array.isArray(ids) ? sortedUnique(ids.filter((i): i is string => typeof i === "string").map(normalize)) : [];
  }
  if (type === LIBVIRT_DOMAIN) {
    if (hasTrue(field(field(unknown, "devices"), "hostdevs"))) return undefined;
    const hostdevs = field(one(values.devices), "hostdevs");
    if (!Array.isArray(hostdevs)) return [];
    return sortedUnique(
      hostdevs.flatMap((h) => {
        const address = one(field(one(field(one(field(h, "subsys_pci")), "source")), "address"));
        const text = isObject(address) ? libvirtAddress(address) : undefined;
        return text ? [text] : [];
      }),
    );
  }
  return undefined;
}

/** A nested attribute is an object; the same in a list block is a one-element list. */
function one(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** `{domain: 0, bus: 11, slot: 0, function: 1}` → `0000:0b:00.1`. */
export function libvirtAddress(a: Record<string, unknown>): string | undefined {
  const n = (k: string) =>
    typeof a[k] === "number" ? (a[k] as number) : typeof a[k] === "string" ? Number(a[k]) : NaN;
  const [domain, bus, slot, fn] = ["domain", "bus", "slot", "function"].map(n);
  if (![domain, bus, slot, fn].every((x) => Number.isInteger(x) && x >= 0)) return undefined;
  const hex = (x: number, w: number) => x.toString(16).padStart(w, "0");
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn}`;
}

function normalize(address: string): string {
  const a = address.trim().toLowerCase();
  return /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(a) ? `0000:${a}` : a;
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
