/**
 * A clone's disks are its template's: provider 2.15.0 refuses at plan a configuration with fewer disks than the
 * template (DiskCloneValidateOperation, virtual_machine_disk_subresource.go:755-759), matches them by order, and for
 * a linked clone wants each one's exact size, thin_provisioned and eagerly_scrub (:805-813). So the VM gets one disk
 * block per template disk, read from `data.vsphere_virtual_machine.disks` at plan, and preconditions that turn the
 * template mismatches the provider reports obscurely (or not at all) into messages that name the fleet setting.
 */
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { Fn, Op, Precondition, Token } from "cdktf";
import { DiskController, TemplateRefs } from "./inventory";

/** The SCSI types vsphere_virtual_machine takes (SCSIBusTypeAllowedValues); a template without SCSI reads "unknown". */
const SCSI_TYPES = ["lsilogic", "lsilogic-sas", "pvscsi"];

/** Controller counts the clone manages, beside the provider's defaults (1 SCSI, 0 SATA, 0 NVMe). */
export const CONTROLLER_COUNTS: Readonly<Record<DiskController, Record<string, number>>> = {
  scsi: {},
  nvme: { scsiControllerCount: 0, nvmeControllerCount: 1 },
  sata: { scsiControllerCount: 0, sataControllerCount: 1 },
};

/**
 * One `disk` block per template disk (a `dynamic` block through an override: its content refers to the iterator).
 * The first disk takes `diskGib` when given; unit numbers are the provider's (on SCSI the controller holds unit 7,
 * so a disk at unit 8 is the provider's 7: findControllerInfo).
 */
export function renderTemplateDisks(
  resource: VirtualMachine,
  template: TemplateRefs,
  controller: DiskController,
  diskGib: number | undefined,
): void {
  resource.addOverride("dynamic.disk", {
    for_each: Token.asString(template.disks),
    content: {
      label: "disk${disk.key}",
      size: diskGib === undefined ? "${disk.value.size}" : `\${disk.key == 0 ? ${diskGib} : disk.value.size}`,
      thin_provisioned: "${disk.value.thin_provisioned}",
      eagerly_scrub: "${disk.value.eagerly_scrub}",
      unit_number:
        controller === "scsi"
          ? "${disk.value.unit_number > 7 ? disk.value.unit_number - 1 : disk.value.unit_number}"
          : "${disk.value.unit_number}",
      controller_type: controller,
    },
  });
}

export interface TemplateCheck {
  /** The template's name, as the user wrote it. */
  readonly name: string;
  readonly controller: DiskController;
  readonly firmware: string;
  readonly diskGib?: number;
}

/**
 * Checks Terraform makes at plan, once the template is read, before the provider sees the VM. The messages hold the
 * user's names as written: the caller passes them through terraformLiteral.
 */
export function templatePreconditions(template: TemplateRefs, check: TemplateCheck): Precondition[] {
  const name = `template "${check.name}"`;
  const conditions: Precondition[] = [
    {
      condition: Op.gte(Fn.lengthOf(template.disks), 1), // Op.gt(x, 0) renders "> undefined" (cdktf 0.21)
      errorMessage:
        `${name} has no disk on its first ${check.controller.toUpperCase()} controller. ` +
        "Fix: set vsphere.diskController to the controller its disks are on (scsi, nvme or sata).",
    },
  ];
  if (check.controller === "scsi") {
    conditions.push({
      condition: Fn.contains(SCSI_TYPES, template.scsiType),
      errorMessage:
        `${name} has no SCSI controller the provider can manage (it takes ${SCSI_TYPES.join(", ")}; a template ` +
        'whose disks are on NVMe or SATA reads "unknown"). Fix: set vsphere.diskController: nvme (or sata).',
    });
  }
  if (check.diskGib !== undefined) {
    conditions.push({
      condition: Op.gte(check.diskGib, Fn.try([template.firstDiskSizeGib, 0])),
      errorMessage:
        `vsphere.diskGib ${check.diskGib} is smaller than the first disk of ${name}: a clone's disk can grow, ` +
        "not shrink. Fix: give at least the template's size, or leave diskGib out.",
    });
  }
  if (check.firmware === "efi") {
    conditions.push({
      condition: Op.eq(template.firmware, "efi"),
      errorMessage:
        `${name} boots with BIOS firmware, and its clone gets EFI: the guest would not find its boot loader. ` +
        'Fix: clone an EFI template (a guest installed in EFI mode), or set firmware: "bios" for GPUs that map 16 GB or less.',
    });
  }
  return conditions;
}
