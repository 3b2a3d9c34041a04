/**
 * What one planned change means for a GPU VM's guest: created, deleted, updated while it runs, powered off and
 * restarted (a reboot), or destroyed and recreated. Terraform's actions say create/update/delete; whether an update
 * needs the guest down depends on the provider, so the rules are per resource type:
 *
 * - `vsphere_virtual_machine` (vmware/vsphere 2.x): a VM with a DirectPath I/O device cannot be hot-changed in
 *   hardware (hot add is off on GPU VMs), so devices, extra_config, CPUs, memory, firmware and hardware version
 *   need a power-off; annotation, folder, tags, custom attributes and the name change in place.
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

/** vSphere attributes whose change needs the VM powered off while it has a passthrough device. */
export const VSPHERE_POWER_OFF: readonly string[] = [
  "pci_device_id",
  "extra_config",
  "num_cpus",
  "num_cores_per_socket",
  "memory",
  "memory_reservation",
  "firmware",
  "efi_secure_boot_enabled",
  "hardware_version",
];

/** libvirt_volume attributes provider 0.9.7 can update. */
const LIBVIRT_VOLUME_UPDATABLE: readonly string[] = ["name", "pool"];

/**
 * Attributes whose values are shown (`num_cpus 8 → 16`): plain settings only. Other values stay out of the report,
 * because some hold secrets (extra_config guestinfo, cloud-init user data) that Terraform's JSON does not redact.
 */
const SHOWN_VALUES: Readonly<Record<string, readonly string[]>> = {
  // The power-off settings but the device list and extra_config (which can hold guestinfo secrets).
  [VSPHERE_VM]: ["name", ...VSPHERE_POWER_OFF.filter((a) => a !== "pci_device_id" && a !== "extra_config")],
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
    return { kind: "replace", why: `${replaceReason(rc)}${order}`, attributes };
  }
  if (actions.includes("create")) return { kind: "create", why: "new", attributes: [] };
  if (actions.includes("delete")) return { kind: "delete", why: deleteReason(rc), attributes: [] };
  return { ...classifyUpdate(rc, attributes), attributes };
}

function classifyUpdate(
  rc: PlanResourceChange,
  attributes: readonly AttributeChange[],
): Omit<Classification, "attributes"> {
  const names = [...new Set(attributes.map((a) => a.path.split(".")[0]))];
  const list = names.join(", ") || "no attribute the plan shows";
  switch (rc.type) {
    case VSPHERE_VM: {
      const offline = names.filter((n) => VSPHERE_POWER_OFF.includes(n));
      return offline.length
        ? {
            kind: "reboot",
            why: `${offline.join(", ")} cannot change while a VM with a passthrough device runs: the VM is powered off to apply it`,
          }
        : { kind: "update-in-place", why: `${list} change while the VM runs` };
    }
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
