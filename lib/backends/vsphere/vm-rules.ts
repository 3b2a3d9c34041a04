/**
 * vSphere's own rules for a passthrough VM. They read the rendered `vsphere_virtual_machine` (after any
 * escape-hatch override), so a setting vSphere forbids is caught however it got there.
 */
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { VirtualMachineSnapshot } from "@cdktf/provider-vsphere/lib/virtual-machine-snapshot";
import { TerraformStack, Token } from "cdktf";
import { Problem } from "../../problems";
import { resolveIn, resolvedAttributes } from "../../tokens";
import type { GpuPassthroughVm } from "../../vm";
import { parseDatastorePath } from "./horizon";
import { renderedDeviceProblems } from "../rendered-devices";
import { vspherePlanReading } from "./plan-reading";
import { VsphereVmOptions } from "./vm-options";

/** Settings ESXi refuses, or silently breaks, on a VM with a DirectPath device. */
const FORBIDDEN_WITH_PASSTHROUGH: readonly { attr: string; prop: string; why: string }[] = [
  {
    attr: "nested_hv_enabled",
    prop: "vsphere.nestedVirtualization",
    why: "ESXi does not power on a VM with a passthrough device and nested virtualization",
  },
  {
    attr: "cpu_hot_add_enabled",
    prop: "vsphere.cpuHotAdd",
    why: "vSphere forbids hot add on a VM with DirectPath I/O devices",
  },
  {
    attr: "memory_hot_add_enabled",
    prop: "vsphere.memoryHotAdd",
    why: "vSphere forbids hot add on a VM with DirectPath I/O devices",
  },
  {
    attr: "cpu_hot_remove_enabled",
    prop: "(override)",
    why: "vSphere forbids hot remove on a VM with DirectPath I/O devices",
  },
];

type Rendered = Record<string, unknown> & { extra_config?: Record<string, string> };

/** The attributes the rules read, as they will be written (after overrides). */
const CHECKED_ATTRIBUTES = [
  ...FORBIDDEN_WITH_PASSTHROUGH.map((f) => f.attr),
  "memory",
  "memory_reservation",
  "memory_reservation_locked_to_max",
  "firmware",
  "extra_config",
  "pci_device_id",
];

/** Resolves only the checked attributes: resolving whole resources was most of the validation time of a large fleet. */
function renderedAttributes(resource: VirtualMachine): Rendered {
  return resolvedAttributes(resource, CHECKED_ATTRIBUTES) as Rendered;
}

/**
 * vSphere cannot snapshot a VM with a passthrough device. Checked once per stack (a walk of the whole stack per VM
 * made validation quadratic in the fleet size), naming each GPU VM that a `vsphere_virtual_machine_snapshot` targets.
 */
export function snapshotProblems(stack: TerraformStack, vms: readonly GpuPassthroughVm[]): Problem[] {
  const snapshots = stack.node
    .findAll()
    .filter((c): c is VirtualMachineSnapshot => c instanceof VirtualMachineSnapshot);
  if (snapshots.length === 0) return [];
  const targets = new Map(snapshots.map((s) => [resolveIn(stack, s.virtualMachineUuidInput), s]));
  return vms.flatMap((vm) => {
    const snapshot = targets.get(resolveIn(stack, (vm.resource as VirtualMachine).uuid));
    if (!snapshot) return [];
    return [
      {
        subject: vm.subject,
        message: `has a snapshot resource (${snapshot.node.path}): vSphere cannot snapshot a VM with a passthrough device`,
        fix: "remove the vsphere_virtual_machine_snapshot; back up the guest's data from inside the guest",
      },
    ];
  });
}

/** Names the VM will be placed with, after the backend's defaults. */
export interface VspherePlacementNames {
  readonly datastore?: string;
  readonly network?: string;
}

export function vsphereVmProblems(
  vm: GpuPassthroughVm,
  opts: VsphereVmOptions,
  resource: VirtualMachine,
  names: VspherePlacementNames,
): Problem[] {
  const subject = vm.subject;
  const problems: Problem[] = [];
  const add = (message: string, fix?: string) => problems.push({ subject, message, fix });
  if (!names.datastore) add("has no datastore", "give vsphere.datastore, or a default datastore on the host's backend");
  if (!names.network) add("has no network", "give vsphere.network, or a default network on the host's backend");
  if (!opts.template) add("vsphere.template is empty", "name the EFI template VM to clone (installed without GPUs)");
  if (opts.diskGib !== undefined && !(Number.isInteger(opts.diskGib) && opts.diskGib > 0)) {
    add(
      `vsphere.diskGib ${opts.diskGib} is not a whole number of GiB above 0`,
      "give the disk size in GiB, or leave it out to keep the template's",
    );
  }
  if (opts.linkedClone && opts.diskGib !== undefined) {
    add(
      `vsphere.diskGib ${opts.diskGib} with linkedClone: a linked clone's disks are deltas on the template's snapshot, exactly its size (the provider refuses any other)`,
      "leave diskGib out, or make a full clone (linkedClone: false) to grow the disk",
    );
  }
  if (opts.horizon && !opts.customize?.windows) {
    add(
      "is a Horizon desktop without customize.windows: each cloned Windows desktop needs its own computer name",
      "add customize: { windows: { computerName: ... } }",
    );
  }
  const iso = opts.horizon?.toolsIso;
  if (iso !== undefined && !parseDatastorePath(iso)) {
    add(
      `horizon.toolsIso "${iso}" is not a datastore path`,
      'write it as the vSphere Client shows it: "[datastore1] iso/VMware-tools-windows.iso"',
    );
  }
  const windows = opts.customize?.windows;
  if (
    windows &&
    windows.adminPassword === undefined &&
    (windows.autoLogon || (iso !== undefined && windows.autoLogon !== false))
  ) {
    add(
      iso !== undefined
        ? "horizon.toolsIso runs the Tools install at the first logon, but without an Administrator password the desktop cannot log on by itself"
        : "customize.windows.autoLogon needs an Administrator password to log on with",
      "give customize.windows.adminPassword (adminPasswordVariable in a fleet file)",
    );
  }
  if (opts.horizon?.removeSvga && opts.horizon.horizonAgent === false) {
    add(
      "horizon.removeSvga without the Horizon Agent would leave the desktop without a display driver",
      "keep SVGA (drop removeSvga) when no Horizon Agent is installed",
    );
  }
  if (opts.customize?.linux && opts.customize.windows) {
    add("customize gives both linux and windows", "keep the one that matches the template's guest OS");
  }
  const password = opts.customize?.windows?.adminPassword;
  if (password !== undefined && !Token.isUnresolved(password)) {
    add(
      "customize.windows.adminPassword is a literal string: it would be written into cdk.tf.json",
      "pass the value of a sensitive TerraformVariable (TF_VAR_...) instead",
    );
  }
  const computerName = opts.customize?.windows?.computerName;
  if (computerName !== undefined && !/^[A-Za-z0-9-]{1,15}$/.test(computerName)) {
    add(
      `customize.windows.computerName "${computerName}" is not a NetBIOS name`,
      "use at most 15 letters, digits or dashes",
    );
  }

  const rendered = renderedAttributes(resource);
  for (const f of FORBIDDEN_WITH_PASSTHROUGH) {
    if (rendered[f.attr] === true) add(`${f.attr} = true (${f.prop}): ${f.why}`, `set ${f.prop} to false or remove it`);
  }
  if (rendered.memory_reservation !== rendered.memory || rendered.memory_reservation_locked_to_max !== true) {
    add(
      `memory_reservation ${String(rendered.memory_reservation)} MB does not lock all ${String(rendered.memory)} MB: a VM with a passthrough device does not power on without a full reservation`,
      "remove the override of memory_reservation / memory_reservation_locked_to_max",
    );
  }
  if (rendered.extra_config?.["pciPassthru.use64bitMMIO"] === "TRUE" && rendered.firmware !== "efi") {
    add(`firmware is "${String(rendered.firmware)}" but the 64-bit MMIO window needs EFI`, 'use firmware "efi"');
  }
  problems.push(...renderedGpuProblems(vm, rendered));
  return problems;
}

/** What the VM's GPUs need, as the resource will really have it after overrides. */
function renderedGpuProblems(vm: GpuPassthroughVm, rendered: Rendered): Problem[] {
  const { derived } = vm;
  const problems: Problem[] = [];
  const config = rendered.extra_config ?? {};
  const size = Number(config["pciPassthru.64bitMMIOSizeGB"]);
  if (
    derived.mmio.needs64BitMmio &&
    (config["pciPassthru.use64bitMMIO"] !== "TRUE" || !(size >= derived.mmio.sizeGb))
  ) {
    problems.push({
      subject: vm.subject,
      message: `extra_config lacks the 64-bit MMIO window of ${derived.mmio.sizeGb} GB its GPUs need (pciPassthru.use64bitMMIO TRUE, pciPassthru.64bitMMIOSizeGB ≥ ${derived.mmio.sizeGb}): the VM would not power on`,
      fix: "remove the override of extra_config, or keep those two keys in it (mmioSizeGb sets the size)",
    });
  }
  if (derived.hideHypervisor && config["hypervisor.cpuid.v0"] !== "FALSE") {
    problems.push({
      subject: vm.subject,
      message: `extra_config lacks hypervisor.cpuid.v0 = FALSE, but the hypervisor must be hidden (${derived.hideHypervisorReason})`,
      fix: "remove the override of extra_config, or set hideHypervisor: false if the guest's driver does not need it",
    });
  }
  const reading = vspherePlanReading.resources.find((r) => r.type === "vsphere_virtual_machine");
  problems.push(...renderedDeviceProblems(vm.subject, derived, reading?.pciFunctions?.(rendered), "pci_device_id"));
  return problems;
}
