/**
 * Enabling DirectPath I/O (passthrough) on an ESXi host's PCI devices. No Terraform resource does it
 * (hashicorp/terraform-provider-vsphere#1685), so the host lists the exact command per device, and runs them
 * through govc only when the user opts in.
 */
import { shellQuote } from "../../shell";
import { HostStep } from "../backend";

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
