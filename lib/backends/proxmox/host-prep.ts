/**
 * The preparation plan of a Proxmox VE node, from the GPUs its VMs take: lib/host-prep's planner for the `proxmox`
 * distribution (Debian underneath; kernel arguments through GRUB or systemd-boot and `proxmox-boot-tool refresh`,
 * vfio modules through initramfs-tools). Written beside the stack as `hosts/<host>/host-prep.json` (data) and
 * `hosts/<host>/prepare-host.sh` (a commented script to read, then run as root on the node).
 */
import type { HostGpu } from "../../host";
import type { CpuVendor } from "../../host-prep/cpu";
import { HostPreparation, planHostPreparation } from "../../host-prep/plan";
import { preparationScript, preparationSteps } from "../../host-prep/script";
import type { HostStep } from "../backend";

export interface ProxmoxPrepInput {
  readonly host: string;
  readonly cpuVendor: CpuVendor;
  /** Guest GPUs given to VMs, with the VM that holds each. */
  readonly assigned: readonly { readonly gpu: HostGpu; readonly vm: string }[];
  /** GPUs the node keeps (role host): vfio-pci must leave them alone. */
  readonly kept: readonly HostGpu[];
}

export function proxmoxPrepPlan(input: ProxmoxPrepInput): HostPreparation {
  return planHostPreparation({ ...input, distro: "proxmox" });
}

/** The plan as host steps: the same list every backend gives for outputs and reports. */
export function proxmoxPrepSteps(plan: HostPreparation): HostStep[] {
  return preparationSteps(plan);
}

/** The plan as a shell script to read, then run as root on the node. */
export function proxmoxPrepScript(plan: HostPreparation): string {
  return preparationScript(plan);
}
