/**
 * How the report reads vSphere's resources in a plan. `vsphere_virtual_machine` (vmware/vsphere 2.15.0): the
 * attributes of the provider's restart list (see VSPHERE_POWER_OFF) power the VM off; annotation, folder, tags,
 * custom attributes, the name, the memory reservation and a growing disk change in place; anything under `clone`
 * forces a new VM; a disk's provisioning is fixed and disks do not shrink; a move to another host cannot be applied
 * in place.
 */
import { diskShrinks, field, formatPath, hasTrue, isObject, sortedUnique } from "../../plan-values";
import type { AttributeChange, ChangeReading, PlanReading, ResourceChangeView } from "../plan-reading";

const VSPHERE_VM = "vsphere_virtual_machine";

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
function hostMove(rc: ResourceChangeView): { from: string; to: string } | undefined {
  const from = field(rc.change.before, "host_system_id");
  const to = field(rc.change.after, "host_system_id");
  if (hasTrue(field(rc.change.after_unknown, "host_system_id"))) return undefined;
  return typeof from === "string" && typeof to === "string" && from && from !== to ? { from, to } : undefined;
}

function replaceReason(rc: ResourceChangeView): string | undefined {
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

function classifyUpdate(rc: ResourceChangeView, attributes: readonly AttributeChange[], list: string): ChangeReading {
  // expandDiskSettings (virtual_machine_disk_subresource.go:1934-1947): an existing disk keeps its provisioning
  // (GetWithVeto) and cannot shrink.
  const vetoed = attributes
    .filter((a) => /^disk\[\d+\]\.(thin_provisioned|eagerly_scrub)$/.test(a.path) || diskShrinks(rc.change, a.path))
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

function blockCount(values: unknown, key: string): number {
  const v = field(values, key);
  return Array.isArray(v) ? v.length : 0;
}

/** pci_device_id as the VM holds it: the short form `3b:00.0` is domain 0000. */
function pciFunctions(values: unknown, unknown?: unknown): string[] | undefined {
  if (!isObject(values)) return undefined;
  if (hasTrue(field(unknown, "pci_device_id"))) return undefined;
  const ids = values.pci_device_id;
  return Array.isArray(ids) ? sortedUnique(ids.filter((i): i is string => typeof i === "string").map(normalize)) : [];
}

function normalize(address: string): string {
  const a = address.trim().toLowerCase();
  return /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(a) ? `0000:${a}` : a;
}

export const vspherePlanReading: PlanReading = {
  resources: [
    {
      type: VSPHERE_VM,
      // Plain top-level settings: the power-off ones but the device list and extra_config (which can hold guestinfo
      // secrets), and the reservation.
      shownValues: [
        "name",
        "memory_reservation",
        ...VSPHERE_POWER_OFF.filter(
          (a) => !a.includes(".") && !["pci_device_id", "extra_config", "vapp", "vtpm"].includes(a),
        ),
      ],
      // Block lists (`disk`, `network_interface`, `clone`, ...) are compared setting by setting, this deep.
      blockDepth: 8,
      classifyUpdate,
      replaceReason,
      pciFunctions,
    },
  ],
  mmioSetting: () => "extra_config pciPassthru.use64bitMMIO, pciPassthru.64bitMMIOSizeGB",
  memoryWhy:
    "all guest memory reserved and locked: a VM with a passthrough device does not power on without a full reservation",
};
