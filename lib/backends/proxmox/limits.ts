/** What a Proxmox VE VM can have; a light module, so the fleet schema need not load the provider's bindings. */
import type { BackendLimits } from "../backend";

/**
 * Proxmox VE 8/9 with bpg/proxmox 0.112.0, as this library renders VMs (q35, one `hostpci` per GPU):
 *
 * - 16 passthrough devices: qemu-server has hostpci0 to hostpci15 ($MAX_HOSTPCI_DEVICES) and the provider takes 16
 *   hostpci blocks. The core counts functions against this limit, so a GPU with its audio function counts twice,
 *   although one hostpci passes both (`0000:0b:00.0;0000:0b:00.1`): stricter than PVE for VMs with more than 8
 *   multi-function GPUs, never looser (vm-rules.ts checks the 16 blocks themselves).
 * - 288 vCPUs: QEMU's q35 limit without an emulated IOMMU for interrupt remapping, as on libvirt.
 * - 4 TiB: the most qemu-server plans a VM's memory map for (Memory.pm get_max_mem), in whole MiB.
 */
export const PROXMOX_LIMITS: BackendLimits = {
  maxCpus: 288,
  maxMemoryMib: 4 * 1024 * 1024,
  memoryGranularityMib: 1,
  maxPciDevices: 16,
};

/** PVE's hostpci slots, hostpci0 to hostpci15; also the provider's MaxItems. */
export const MAX_HOSTPCI = 16;

/** The provider's bound on cpu.sockets (1 to 16). */
export const MAX_SOCKETS = 16;
