/**
 * Enabling DirectPath I/O (passthrough) on an ESXi host's PCI devices. No Terraform resource does it
 * (hashicorp/terraform-provider-vsphere#1685), so the host lists the exact command per device, and runs them
 * through govc only when the user opts in.
 */
import { shellQuote } from "../../shell";
import { HostStep, VmBackendSetting, VmStep } from "../backend";

/**
 * The command that enables passthrough for one PCI function, through govc (which reads GOVC_URL,
 * GOVC_USERNAME and GOVC_PASSWORD from the environment, so no secret is in the command). `-a` applies it at once
 * on ESXi 7.0 and later; older releases need a host reboot.
 */
export function enablePassthroughCommand(datacenter: string, hostName: string, pciId: string): string {
  return [
    "govc host.esxcli",
    `-dc=${shellQuote(datacenter)}`,
    `-host=${shellQuote(hostName)}`,
    `hardware pci pcipassthru set -d ${pciId} -e true -a`,
  ].join(" ");
}

export interface DirectPathGpu {
  readonly functions: readonly string[];
  readonly modelName: string;
  readonly largeBar: boolean;
}

/** Every step an ESXi host needs before its guest GPUs can be passed through, in order. */
export function esxiHostSteps(datacenter: string, hostName: string, gpus: readonly DirectPathGpu[]): HostStep[] {
  if (gpus.length === 0) return [];
  const steps: HostStep[] = [
    {
      kind: "bios",
      description: "Enable Intel VT-d or AMD IOMMU (AMD-Vi) in the host's BIOS/UEFI setup.",
    },
  ];
  const large = gpus.filter((g) => g.largeBar).map((g) => g.modelName);
  if (large.length) {
    steps.push({
      kind: "bios",
      description: `Enable "Above 4G decoding" (also "Memory mapped I/O above 4GB") in the host's BIOS: ${[...new Set(large)].join(", ")} map more than 16 GB.`,
    });
  }
  for (const gpu of gpus) {
    for (const fn of gpu.functions) {
      steps.push({
        kind: "command",
        description: `Enable DirectPath I/O for ${fn} (${gpu.modelName}).`,
        command: enablePassthroughCommand(datacenter, hostName, fn),
      });
    }
  }
  steps.push({
    kind: "reboot",
    description: "ESXi 7.0 and later apply the passthrough toggle at once; on ESXi 6.x reboot the host after it.",
  });
  return steps;
}

/**
 * Attributes Terraform must ignore on a VM whose devices were converted to Dynamic DirectPath I/O by hand (the
 * provider has no argument for it, #2352). A converted device vanishes from pci_device_id on read (it has no
 * device backing: resource_vsphere_virtual_machine.go:562-571), so the next plan would add it back and provider
 * 2.15.0 panics on the dynamic backing (virtual_machine_device_subresource.go:1058-1063); HA/DRS may then start the
 * VM on another host, which host_system_id would try to undo with a migration vCenter refuses.
 */
export const DYNAMIC_DIRECTPATH_IGNORED = ["pci_device_id", "host_system_id"];

/** The manual conversion, after the apply that clones the VM with plain DirectPath devices. */
export function dynamicDirectPathStep(devices: readonly string[]): VmStep {
  return {
    when: "after-apply",
    description:
      `Convert the VM's PCI devices to Dynamic DirectPath I/O (no provider argument: hashicorp/terraform-provider-vsphere#2352): ` +
      `power it off; in the vSphere Client, Edit Settings, remove each PCI device (${devices.join(", ")}) and add it ` +
      `back as "Dynamic DirectPath I/O" with the same device model; power it on. Terraform ignores pci_device_id and ` +
      `host_system_id on this VM from the first apply on: change its GPUs in the vSphere Client.`,
  };
}

export const DYNAMIC_DIRECTPATH_SETTING: VmBackendSetting = {
  setting: "dynamic-directpath",
  value: `by hand after apply; lifecycle.ignore_changes = [${DYNAMIC_DIRECTPATH_IGNORED.join(", ")}]`,
  why: "a converted device vanishes from pci_device_id on read and re-adding it makes provider 2.15.0 panic; HA/DRS may start the VM on another host",
};
