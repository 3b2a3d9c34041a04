/**
 * How the report reads Proxmox VE's resources in a plan (bpg/proxmox 0.112.0, proxmoxtf/resource/vm/vm.go):
 *
 * - `proxmox_virtual_environment_vm`: vmUpdate marks most hardware changes "reboot required"; with
 *   reboot_after_update (the default, and the library's) the provider then shuts the VM down, applies them and starts
 *   it (vmPowerOffForPendingChanges, vmFinalizePowerState). vm_id, node_name (without migrate), anything under clone,
 *   efi_disk.type and tpm_state.version force a new VM (ForceNew and CustomizeDiff). Disks grow online and never
 *   shrink.
 * - `proxmox_hardware_mapping_pci` (and its deprecated long name): the map changes in place; a new name does not
 *   force a replacement, but the provider then updates a mapping of the new name, which does not exist.
 */
import { ovmfApertureArgsOf } from "../../ovmf-aperture";
import { diskShrinks, field, formatPath, hasTrue, isObject, sortedUnique } from "../../plan-values";
import type { AttributeChange, ChangeReading, PlanReading, ResourceChangeView } from "../plan-reading";

const PROXMOX_VM = "proxmox_virtual_environment_vm";
const PCI_MAPPING = "proxmox_hardware_mapping_pci";
const PCI_MAPPING_DEPRECATED = "proxmox_virtual_environment_hardware_mapping_pci";

/**
 * Settings whose change vmUpdate marks "reboot required" (vm.go, v0.112.0), by attribute or block. `cpu` and `memory`
 * are decided by {@link cpuOrMemoryRestarts}; of a disk's settings only aio and queues need a restart.
 */
export const PROXMOX_RESTART: readonly string[] = [
  "acpi",
  "agent",
  "amd_sev",
  "audio_device",
  "bios",
  "boot_order",
  "disk.aio",
  "disk.queues",
  "efi_disk",
  "hostpci",
  "initialization",
  "keyboard_layout",
  "kvm_arguments",
  "machine",
  "numa",
  "operating_system",
  "rng",
  "scsi_hardware",
  "serial_device",
  "tablet_device",
  "tpm_state",
  "usb",
  "vga",
  "virtiofs",
  "watchdog",
];

/** What forces a new VM, by the path Terraform gives in replace_paths. */
const REPLACED_BY: readonly { readonly test: RegExp; readonly why: string }[] = [
  {
    test: /^clone(\[|$)/,
    why: "anything under clone forces a new VM: the provider destroys it and clones the template again",
  },
  {
    test: /^node_name$/,
    why: "a new node_name forces a new VM (migrate is off, and a VM with a passthrough device cannot be live-migrated: its GPUs belong to the node)",
  },
  { test: /^vm_id$/, why: "a new vm_id forces a new VM" },
  {
    test: /^efi_disk(\[0\])?(\.type)?$/,
    why: "a new EFI disk type forces a new VM, with new (empty) EFI variables",
  },
  { test: /^tpm_state(\[0\])?(\.version)?$/, why: "a new TPM version forces a new VM, with a new (empty) TPM" },
];

function replaceReason(rc: ResourceChangeView): string | undefined {
  const paths = (rc.change.replace_paths ?? []).map(formatPath);
  const whys = [...new Set(paths.flatMap((p) => REPLACED_BY.filter((r) => r.test.test(p)).map((r) => r.why)))];
  return whys.length ? `${whys.join("; ")} (here ${[...new Set(paths)].sort().join(", ")})` : undefined;
}

/** `disk[0].size` → `disk.size`: the rules name settings, not instances. */
const setting = (path: string) => path.replace(/\[\d+\]/g, "");

function hotplugs(rc: ResourceChangeView, what: string): boolean {
  const hotplug = field(rc.change.after, "hotplug");
  return typeof hotplug === "string" && (hotplug === "1" || hotplug.split(",").includes(what));
}

function blockValue(values: unknown, block: string, key: string): unknown {
  const list = field(values, block);
  return field(Array.isArray(list) ? list[0] : list, key);
}

/**
 * A cpu change restarts the VM unless it only changes the hot-plugged vCPUs with cpu hot plug on; a memory change
 * unless it only grows, without huge pages, with memory hot plug on (vmUpdate).
 */
function cpuOrMemoryRestarts(rc: ResourceChangeView, settings: readonly string[]): string[] {
  const out: string[] = [];
  const cpu = settings.filter((s) => s === "cpu" || s.startsWith("cpu."));
  if (cpu.length && !(cpu.every((s) => s === "cpu.hotplugged") && hotplugs(rc, "cpu"))) out.push("cpu");
  const memory = settings.filter((s) => s === "memory" || s.startsWith("memory."));
  const grows = ["dedicated", "floating", "shared"].every((k) => {
    const [b, a] = [blockValue(rc.change.before, "memory", k), blockValue(rc.change.after, "memory", k)];
    return typeof b !== "number" || typeof a !== "number" || a >= b;
  });
  const onlySizes = memory.every((s) => ["memory.dedicated", "memory.floating", "memory.shared"].includes(s));
  if (memory.length && !(grows && onlySizes && hotplugs(rc, "memory"))) out.push("memory");
  return out;
}

function classifyVmUpdate(rc: ResourceChangeView, attributes: readonly AttributeChange[], list: string): ChangeReading {
  const shrunk = attributes.filter((a) => diskShrinks(rc.change, a.path)).map((a) => a.path);
  if (shrunk.length) {
    return {
      kind: "unsupported-update",
      why: `${shrunk.join(", ")} gets smaller, and PVE cannot shrink a disk (the apply fails): undo the change, or plan again with -replace=${rc.address}`,
    };
  }
  const settings = [...new Set(attributes.map((a) => setting(a.path)))];
  const restart = [
    ...PROXMOX_RESTART.filter((entry) => settings.some((s) => s === entry || s.startsWith(`${entry}.`))),
    ...cpuOrMemoryRestarts(rc, settings),
  ].sort();
  if (restart.length) {
    return {
      kind: "reboot",
      why:
        `${restart.join(", ")} cannot change while the VM runs: provider 0.112.0 shuts it down (forced off after ` +
        "timeout_shutdown_vm), applies the change and starts it again",
    };
  }
  if (settings.includes("started")) {
    const started = field(rc.change.after, "started");
    return {
      kind: "reboot",
      why: started === false ? "started = false shuts the VM down" : "started = true starts the VM",
    };
  }
  const pending = settings.filter((s) => s.startsWith("disk.") && s !== "disk.size" && s !== "disk.datastore_id");
  return {
    kind: "update-in-place",
    why: pending.length
      ? `${list} change while the VM runs (PVE keeps ${pending.join(", ")} pending until the VM's next restart)`
      : `${list} change while the VM runs`,
  };
}

function classifyMappingUpdate(rc: ResourceChangeView, attributes: readonly AttributeChange[]): ChangeReading {
  if (attributes.some((a) => a.path === "name")) {
    return {
      kind: "unsupported-update",
      why:
        "provider 0.112.0 updates a renamed mapping under its new name, which does not exist yet (the apply fails): " +
        `plan again with -replace=${rc.address}`,
    };
  }
  return {
    kind: "update-in-place",
    why: "the mapping changes in place; PVE checks it when a VM using it starts, so a running VM keeps its device until it restarts",
  };
}

/**
 * One part of a hostpci id in canonical form: `0b:00.1` → `0000:0b:00.1`; a device without a function
 * (`0000:0b:00`, all its functions) is named by function 0 and marked `wholeDevice`.
 */
export function hostpciAddress(part: string): { readonly address: string; readonly wholeDevice: boolean } | undefined {
  const m = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})(?:\.([0-7]))?$/.exec(part.trim().toLowerCase());
  return m
    ? { address: `${m[1] ?? "0000"}:${m[2]}:${m[3]}.${m[4] ?? "0"}`, wholeDevice: m[4] === undefined }
    : undefined;
}

/** The device a mapping this library names holds (`gpu-<node>-0000-0b-00`, see proxmox-backend.ts mappingName). */
function mappedDevice(name: string): string | undefined {
  const m = /-([0-9a-f]{4})-([0-9a-f]{2})-([0-9a-f]{2})$/.exec(name);
  return m ? `${m[1]}:${m[2]}:${m[3]}.0` : undefined;
}

/**
 * The PCI functions of a VM's hostpci devices: the library writes each GPU's functions into its id. A device given
 * without a function (the short id `0000:0b:00`, or a mapping, whose path is the whole device) passes every function
 * it has, which the plan does not list: it is named by its function 0, as a GPU is declared.
 */
function pciFunctions(values: unknown, unknown?: unknown): string[] | undefined {
  if (!isObject(values)) return undefined;
  if (hasTrue(field(unknown, "hostpci"))) return undefined;
  const hostpci = values.hostpci;
  if (!Array.isArray(hostpci)) return [];
  return sortedUnique(
    hostpci.flatMap((h) => {
      const id = field(h, "id");
      const mapping = field(h, "mapping");
      if (typeof id === "string" && id) return id.split(";").flatMap((part) => hostpciAddress(part)?.address ?? []);
      if (typeof mapping === "string" && mapping) return mappedDevice(mapping) ?? [];
      return [];
    }),
  );
}

const mappingReading = (type: string) => ({
  type,
  shownValues: ["name", "comment", "mediated_devices"],
  classifyUpdate: classifyMappingUpdate,
});

export const proxmoxPlanReading: PlanReading = {
  resources: [
    {
      type: PROXMOX_VM,
      // Plain settings only: description and tags are free text, and nothing here holds a secret.
      shownValues: [
        "name",
        "node_name",
        "vm_id",
        "machine",
        "bios",
        "kvm_arguments",
        "started",
        "on_boot",
        "scsi_hardware",
        "reboot_after_update",
      ],
      // hostpci[0].id, memory[0].dedicated, disk[0].size.
      blockDepth: 3,
      classifyUpdate: classifyVmUpdate,
      replaceReason,
      pciFunctions,
    },
    mappingReading(PCI_MAPPING),
    mappingReading(PCI_MAPPING_DEPRECATED),
  ],
  mmioSetting: (sizeGb) => `kvm_arguments ${ovmfApertureArgsOf(sizeGb).join(" ")}`,
  memoryWhy:
    "all guest memory dedicated, balloon off (memory.floating 0): VFIO pins every page for the GPU's DMA, so a balloon could not give any back",
};
