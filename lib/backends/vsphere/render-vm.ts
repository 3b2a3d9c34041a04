/**
 * Renders a {@link GpuPassthroughVm} to a `vsphere_virtual_machine`: a clone of an EFI template with the GPUs'
 * PCI functions, the MMIO window in `extra_config`, all memory reserved and locked, and hot add off.
 */
import {
  VirtualMachine,
  VirtualMachineCdrom,
  VirtualMachineClone,
  VirtualMachineCloneCustomize,
} from "@cdktf/provider-vsphere/lib/virtual-machine";
import { Fn, IResolvable, ITerraformDependable, Token } from "cdktf";
import type { DerivedVm } from "../../derive";
import type { VmBackendSetting } from "../backend";
import { TerraformData } from "../../terraform-data";
import { terraformLiteral } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import { DYNAMIC_DIRECTPATH_IGNORED, DYNAMIC_DIRECTPATH_SETTING } from "./directpath";
import { parseDatastorePath, toolsInstallCommand, toolsSetting } from "./horizon";
import { VsphereInventory } from "./inventory";
import { mmioExtraConfig } from "./mmio-config";
import { CONTROLLER_COUNTS, renderTemplateDisks, templatePreconditions } from "./template-disks";
import { VsphereCustomization, VsphereVmOptions } from "./vm-options";

export { mmioExtraConfig };

/** The `extra_config` keys passthrough needs, from the VM's derived settings. */
export function passthroughExtraConfig(
  derived: Pick<DerivedVm, "mmio" | "hideHypervisor">,
  opts?: Pick<VsphereVmOptions, "horizon">,
): Record<string, string> {
  const config: Record<string, string> = { ...mmioExtraConfig(derived.mmio) };
  if (derived.hideHypervisor) config["hypervisor.cpuid.v0"] = "FALSE";
  // Seed 001: a Horizon desktop with a passthrough GPU must not enable the virtual SVGA's 3D renderer.
  if (opts?.horizon) config["mks.enable3d"] = "FALSE";
  return config;
}

/** The provider's default `windows_options.time_zone` (GMT Standard Time): sysprep always sets a zone. */
export const DEFAULT_WINDOWS_TIME_ZONE = 85;

export interface VmPlacement {
  readonly inventory: VsphereInventory;
  /** Where the VM runs, by name: a change replaces the VM (see {@link renderPlacement}). */
  readonly where: { readonly datacenter: string; readonly host: string };
  readonly host: { readonly id: string; readonly resourcePoolId: string };
  /** Datastore and network names, after the backend's defaults. */
  readonly datastore: string;
  readonly network: string;
  /** Resources the VM waits for (the opt-in DirectPath toggle). */
  readonly dependsOn: ITerraformDependable[];
}

/** A VM without vSphere settings: only what the intent says, so the missing settings are the one problem reported. */
export function renderBareVirtualMachine(vm: GpuPassthroughVm): VirtualMachine {
  return new VirtualMachine(
    vm,
    "vm",
    terraformLiteral({ name: vm.vmName, resourcePoolId: "", numCpus: vm.cpus, memory: vm.memoryMib }),
  );
}

export function renderVirtualMachine(
  vm: GpuPassthroughVm,
  opts: VsphereVmOptions,
  placement: VmPlacement,
): VirtualMachine {
  const { inventory, host } = placement;
  const controller = opts.diskController ?? "scsi";
  const template = inventory.templateRefs(opts.template, controller);
  const efi = vm.firmware === "efi";
  const placementData = renderPlacement(vm, placement.where);

  const resource = new VirtualMachine(
    vm,
    "vm",
    terraformLiteral({
      name: vm.vmName,
      annotation: opts.annotation,
      folder: opts.folder,
      resourcePoolId: host.resourcePoolId,
      hostSystemId: host.id,
      datastoreId: inventory.datastoreId(placement.datastore),
      numCpus: vm.cpus,
      numCoresPerSocket: vm.coresPerSocket,
      memory: vm.memoryMib,
      memoryReservation: vm.memoryReservationMib,
      memoryReservationLockedToMax: true,
      cpuHotAddEnabled: opts.cpuHotAdd ?? false,
      cpuHotRemoveEnabled: false,
      memoryHotAddEnabled: opts.memoryHotAdd ?? false,
      nestedHvEnabled: opts.nestedVirtualization ?? false,
      firmware: vm.firmware,
      // Unset, the provider sends false and turns the template's secure boot off (expandVirtualMachineBootOptions).
      efiSecureBootEnabled: efi ? (vm.userSecureBoot ?? template.efiSecureBootEnabled) : undefined,
      vtpm: opts.vtpm ? { version: "2.0" } : undefined,
      guestId: template.guestId,
      scsiType: controller === "scsi" ? template.scsiType : undefined,
      ...CONTROLLER_COUNTS[controller],
      networkInterface: [
        {
          networkId: inventory.networkId(placement.network),
          adapterType: template.adapterType,
        },
      ],
      cdrom: renderToolsCdrom(inventory, opts),
      clone: renderClone(template.uuid, opts),
      dependsOn: placement.dependsOn.length ? placement.dependsOn : undefined,
      // By address: cdktf writes a construct here as "${terraform_data.x}", which Terraform 1.11 refuses.
      lifecycle: {
        replaceTriggeredBy: [`${placementData.terraformResourceType}.${placementData.friendlyUniqueId}`],
        ignoreChanges: opts.dynamicDirectPath ? [...DYNAMIC_DIRECTPATH_IGNORED] : undefined,
        precondition: templatePreconditions(template, {
          name: opts.template,
          controller,
          firmware: vm.firmware,
          diskGib: opts.diskGib,
        }),
      },
    }),
  );
  renderTemplateDisks(resource, template, controller, opts.diskGib);
  if (opts.vtpm === undefined) keepTemplateVtpm(resource, template.vtpm);
  return resource;
}

/** Writes the PCI devices and the `extra_config` that follow from the VM's GPUs, as the allocation gives them now. */
export function renderGpus(
  vm: GpuPassthroughVm,
  opts: VsphereVmOptions,
  resource: VirtualMachine,
  ids: string[],
): void {
  resource.pciDeviceId = ids;
  const config = nonEmpty(passthroughExtraConfig(vm.derived, opts));
  if (config) resource.extraConfig = terraformLiteral(config);
  else resource.resetExtraConfig();
}

/**
 * A vtpm block exactly when the template has a vTPM. After a clone the provider removes a vTPM the configuration
 * does not declare (VtpmApplyOperation, virtual_machine_device_subresource.go:1170-1182), so a Windows 11
 * template's would be lost. A `dynamic` block through an override: the binding's vtpm setter drops an iterator.
 */
function keepTemplateVtpm(resource: VirtualMachine, templateHasVtpm: IResolvable): void {
  resource.addOverride("dynamic.vtpm", {
    for_each: Token.asString(Fn.conditional(templateHasVtpm, ["2.0"], [])),
    content: { version: "2.0" },
  });
}

/** What the report shows of the settings only vSphere derives. */
export function vsphereVmSettings(vm: GpuPassthroughVm, opts: VsphereVmOptions): VmBackendSetting[] {
  const settings: VmBackendSetting[] = [];
  if (vm.firmware === "efi") {
    settings.push({
      setting: "secure-boot",
      value: vm.userSecureBoot === undefined ? "as the template" : vm.userSecureBoot ? "on" : "off",
      why:
        vm.userSecureBoot === undefined
          ? "efi_secure_boot_enabled from the template: left unset, the provider sends false and turns it off on the clone"
          : "set for this VM",
    });
  }
  settings.push({
    setting: "vtpm",
    value: opts.vtpm === undefined ? "as the template" : opts.vtpm ? "TPM 2.0" : "none",
    why:
      opts.vtpm === undefined
        ? "a vtpm block when data.vsphere_virtual_machine says the template has one: the provider removes a cloned vTPM the configuration does not declare (Windows 11 needs it)"
        : "set for this VM",
  });
  if (opts.dynamicDirectPath) settings.push(DYNAMIC_DIRECTPATH_SETTING);
  if (opts.horizon) settings.push(toolsSetting(opts.template, opts.horizon));
  return settings;
}

/**
 * The VM's host as a `terraform_data` whose change replaces the VM (`replace_triggered_by`). Provider 2.15.0 cannot
 * move a passthrough VM: its update reconfigures the PCI devices against an empty host_system_id, and vCenter
 * refuses to migrate a powered-on VM with a DirectPath device. The provider's own `replace_trigger` argument would
 * do the same but also replaces every VM deployed or imported without it (ForceNew from unset to set); a new
 * terraform_data is only created, which triggers nothing (checked with Terraform 1.11).
 */
function renderPlacement(vm: GpuPassthroughVm, where: VmPlacement["where"]): TerraformData {
  return new TerraformData(vm, "placement", terraformLiteral({ input: { ...where } }));
}

function renderClone(templateUuid: string, opts: VsphereVmOptions): VirtualMachineClone {
  return {
    templateUuid,
    linkedClone: opts.linkedClone,
    customize: opts.customize ? renderCustomize(opts.customize, opts) : undefined,
  };
}

/** The Tools ISO of a Horizon desktop, on a CD-ROM the provider keeps because the configuration declares it. */
function renderToolsCdrom(inventory: VsphereInventory, opts: VsphereVmOptions): VirtualMachineCdrom[] | undefined {
  const iso = opts.horizon?.toolsIso === undefined ? undefined : parseDatastorePath(opts.horizon.toolsIso);
  return iso ? [{ datastoreId: inventory.datastoreId(iso.datastore), path: iso.path }] : undefined;
}

/** Whether the Administrator logs on once by itself: run-once commands run only at a logon. */
export function autoLogon(c: VsphereCustomization, opts: VsphereVmOptions): boolean {
  return c.windows?.autoLogon ?? (runOnceCommands(c, opts).length > 0 && c.windows?.adminPassword !== undefined);
}

function runOnceCommands(c: VsphereCustomization, opts: VsphereVmOptions): string[] {
  const tools = opts.horizon?.toolsIso !== undefined ? [toolsInstallCommand(opts.horizon)] : [];
  return [...tools, ...(c.windows?.runOnceCommands ?? [])];
}

function renderCustomize(c: VsphereCustomization, opts: VsphereVmOptions): VirtualMachineCloneCustomize {
  const ip = c.ipv4;
  const runOnce = runOnceCommands(c, opts);
  const logon = autoLogon(c, opts);
  return {
    linuxOptions: c.linux ? { hostName: c.linux.hostName, domain: c.linux.domain } : undefined,
    windowsOptions: c.windows
      ? {
          computerName: c.windows.computerName,
          adminPassword: c.windows.adminPassword,
          timeZone: c.windows.timeZone ?? DEFAULT_WINDOWS_TIME_ZONE,
          runOnceCommandList: runOnce.length ? runOnce : undefined,
          autoLogon: logon || undefined,
          autoLogonCount: logon ? 1 : undefined,
        }
      : undefined,
    networkInterface: [ip ? { ipv4Address: ip.address, ipv4Netmask: ip.netmask } : {}],
    ipv4Gateway: ip?.gateway,
    dnsServerList: ip?.dnsServers ? [...ip.dnsServers] : undefined,
  };
}

/** An empty map is left out of the output rather than written as `{}`. */
function nonEmpty(map: Record<string, string>): Record<string, string> | undefined {
  return Object.keys(map).length ? map : undefined;
}
