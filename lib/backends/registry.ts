/**
 * The hypervisors this product knows. The fleet loader, the fleet stacks and the report iterate this list; a
 * hypervisor is a folder under lib/backends/ that exports one plug-in, and a line here.
 */
import { LIBVIRT } from "./libvirt/plugin";
import type { HypervisorPlugin } from "./plugin";
import { PROXMOX } from "./proxmox/plugin";
import { VSPHERE } from "./vsphere/plugin";

export const HYPERVISORS: readonly HypervisorPlugin[] = [VSPHERE, LIBVIRT, PROXMOX];

/** The plug-in of this kind (`vsphere`), if the product has it. */
export function hypervisorOf(kind: string): HypervisorPlugin | undefined {
  return HYPERVISORS.find((h) => h.kind === kind);
}
