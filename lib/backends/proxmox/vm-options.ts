/** Proxmox VE settings of a {@link GpuPassthroughVm}: what it is cloned from, where its disks go, its guest type. */
import type { HypervisorVmOptions } from "../backend";

/** PVE's guest types (`ostype`): Windows types turn on Hyper-V enlightenments, `win11` also a TPM here. */
export type ProxmoxOsType =
  | "l26"
  | "l24"
  | "win11"
  | "win10"
  | "win8"
  | "win7"
  | "wvista"
  | "w2k8"
  | "w2k3"
  | "w2k"
  | "wxp"
  | "solaris"
  | "other";

/** The emulated display beside the GPUs (`vga.type`). */
export type ProxmoxVga = "std" | "virtio" | "qxl" | "vmware" | "serial0" | "none";

export interface ProxmoxVmOptions extends HypervisorVmOptions {
  /** These are Proxmox VE settings. */
  readonly kind: "proxmox";
  /**
   * The VM id of a template to clone (a guest installed with OVMF, without PCI devices), on the same node or on
   * storage the node shares. Any change to it replaces the VM.
   * @default - none: a new VM with an empty boot disk (give `iso` to install from)
   */
  readonly template?: number;
  /**
   * Clone as a linked clone (needs a template on storage with snapshots).
   * @default - false (a full clone)
   */
  readonly linkedClone?: boolean;
  /**
   * The VM's id, 100 to 999999999. A change replaces the VM.
   * @default - the next free id, chosen by PVE at apply
   */
  readonly vmId?: number;
  /**
   * Storage of the boot disk, the EFI variables and the TPM state, e.g. `local-zfs`.
   * @default - the backend's `datastore`
   */
  readonly datastore?: string;
  /**
   * Size of the boot disk in GiB. A clone's disk grows to it; disks do not shrink.
   * @default - 64 for a new VM; a clone keeps its template's size
   */
  readonly diskGib?: number;
  /**
   * The boot disk's bus and index, as in the template (`scsi0`, `virtio0`, `sata0`): another name adds a second disk.
   * @default "scsi0"
   */
  readonly diskInterface?: string;
  /**
   * The Linux bridge of the VM's network device.
   * @default - the backend's `bridge`
   */
  readonly bridge?: string;
  /**
   * The guest's type: Windows types get Hyper-V enlightenments (and, with a primary GPU, PVE's hv_vendor_id).
   * @default "l26"
   */
  readonly osType?: ProxmoxOsType;
  /**
   * An installer ISO on a CD-ROM, as PVE names the file: `local:iso/Win11_24H2.iso`.
   * @default - no CD-ROM
   */
  readonly iso?: string;
  /**
   * Mark the first GPU as the VM's primary display (`xvga`). PVE then hides KVM from the guest (`kvm=off`, and
   * `hv_vendor_id=proxmox` for Windows): this is how the hypervisor is hidden on Proxmox VE (README.md here).
   * @default - the VM's hideHypervisor
   */
  readonly primaryGpu?: boolean;
  /**
   * The emulated display (`vga.type`); `none` leaves the GPU as the only one.
   * @default - "none" with a primary GPU (what PVE does for x-vga), else "std"
   */
  readonly vga?: ProxmoxVga;
  /**
   * ROM settings of each GPU: `file` is a vBIOS file name under /usr/share/kvm/ on the node (root@pam only, even with
   * a mapping); `bar: false` hides the ROM BAR from the guest.
   * @default - the device's own ROM, visible (`rombar = true`)
   */
  readonly gpuRom?: { readonly file?: string; readonly bar?: boolean };
  /**
   * A TPM 2.0 state disk (Windows 11 needs one).
   * @default - true for osType win11, else false
   */
  readonly tpm?: boolean;
  /**
   * The QEMU guest agent. Only with the agent installed in the guest: the provider waits for it at create.
   * @default false
   */
  readonly agent?: boolean;
  /**
   * Back guest memory with huge pages of this size, reserved on the node beforehand (root@pam only).
   * @default - none: normal pages
   */
  readonly hugepages?: "2M" | "1G";
  /**
   * Start the VM when the node boots.
   * @default false
   */
  readonly onBoot?: boolean;
  /**
   * PVE tags (letters, digits, `_ + . -`); `gpu-passthrough` is always added.
   * @default - ["gpu-passthrough"]
   */
  readonly tags?: readonly string[];
}
