/**
 * The preparation plan of a Proxmox VE node: lib/host-prep's planner for the `proxmox` distribution (Debian
 * underneath; kernel arguments through GRUB or systemd-boot and `proxmox-boot-tool refresh`, vfio modules through
 * initramfs-tools). Written beside the stack as `hosts/<host>/host-prep.json` and `hosts/<host>/prepare-host.sh`.
 */
import { HostPreparation, HostPrepInput, planHostPreparation } from "../../host-prep/plan";

export function proxmoxPrepPlan(input: Omit<HostPrepInput, "distro">): HostPreparation {
  return planHostPreparation({ ...input, distro: "proxmox" });
}
