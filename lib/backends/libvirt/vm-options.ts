/** libvirt/KVM settings of a {@link GpuPassthroughVm}: its boot disk, network, cloud-init and tuning. */
import type { HypervisorVmOptions } from "../backend";

/** A USB device passed to the guest by its ids, as `lsusb` shows them (`046d:c52b` → vendorId 046d, productId c52b). */
export interface UsbDevice {
  readonly vendorId: string;
  readonly productId: string;
  /** What it is, for reviewers, e.g. `keyboard`. @default - none */
  readonly description?: string;
}

export interface LibvirtCloudInit {
  /**
   * The guest's host name.
   * @default - the VM name
   */
  readonly hostName?: string;
  /**
   * SSH public keys of the default user.
   * @default - none
   */
  readonly sshAuthorizedKeys?: readonly string[];
  /**
   * A complete `#cloud-config` document instead of the one built from `hostName` and `sshAuthorizedKeys`.
   * @default - built from the fields above
   */
  readonly userData?: string;
}

/** The guest's operating system: it decides the clock, the Hyper-V enlightenments, the TPM and the disk bus. */
export type LibvirtGuestOs = "linux" | "windows";

export interface LibvirtVmOptions extends HypervisorVmOptions {
  /** These are libvirt settings. */
  readonly kind: "libvirt";
  /**
   * The guest's operating system. Windows guests get a TPM 2.0 and secure boot (Windows 11 requires both), the
   * Hyper-V enlightenments and hypervclock, a clock in local time, and SATA/e1000e unless `virtioDrivers`.
   * @default "linux"
   */
  readonly guestOs?: LibvirtGuestOs;
  /**
   * The base image has the virtio drivers (virtio-win's viostor and NetKVM on Windows; every Linux has them): the
   * boot disk is virtio-blk and the NIC virtio-net. Without them Windows cannot find its boot disk (INACCESSIBLE_BOOT_DEVICE).
   * @default - true on Linux, false on Windows (SATA disk, e1000e NIC)
   */
  readonly virtioDrivers?: boolean;
  /**
   * A software TPM 2.0 (swtpm, which the host preparation installs), CRB interface.
   * @default - true on Windows, false on Linux
   */
  readonly tpm?: boolean;
  /**
   * The domain's memory hard limit (`memtune hard_limit`) in MiB: with locked memory, libvirt otherwise lets QEMU
   * lock without limit. Guest memory plus what QEMU itself uses.
   * @default - guest memory + 1024 MiB (libvirt's own allowance for a VFIO guest's locked memory)
   */
  readonly memoryHardLimitMib?: number;
  /**
   * Absolute path, on the host, of the qcow2 base image the boot disk is layered on (a backing store: the image
   * is never written). E.g. `/var/lib/libvirt/images/noble-server-cloudimg-amd64.img`.
   */
  readonly baseImage: string;
  /**
   * Size of the boot disk in GiB; at least the base image's virtual size.
   * @default 40
   */
  readonly diskGib?: number;
  /**
   * The libvirt network of the VM's interface.
   * @default - the backend's `network`
   */
  readonly network?: string;
  /**
   * cloud-init seed attached as a CD-ROM (a NoCloud `cidata` ISO). Linux cloud images run cloud-init and need an SSH
   * key (they have no password); on Windows the seed is attached only when this is given, for cloudbase-init's
   * NoCloud service in the base image.
   * @default - Linux: host name = VM name (an SSH key must be given); Windows: no seed
   */
  readonly cloudInit?: LibvirtCloudInit;
  /**
   * Host CPUs to pin each vCPU to, one entry per vCPU (`"4"` or `"4,20"` for a core and its sibling thread).
   * @default - not pinned
   */
  readonly vcpuPins?: readonly string[];
  /**
   * Back guest memory with huge pages of this size, reserved on the host beforehand (`hugepages=` kernel argument).
   * @default - none: normal pages, locked
   */
  readonly hugepages?: "2M" | "1G";
  /**
   * ROM settings of each GPU's display function: `file` is an absolute path to a clean vBIOS dump (for GPUs whose
   * ROM the host firmware shadowed); `bar: false` hides the ROM BAR from the guest.
   * @default - the device's own ROM, visible
   */
  readonly gpuRom?: { readonly file?: string; readonly bar?: boolean };
  /**
   * USB devices passed through, e.g. the guest's own keyboard and mouse (seed 000's separate peripherals). Each is
   * optional at start (`startupPolicy='optional'`): an unplugged receiver does not keep the VM from starting.
   * @default - none
   */
  readonly usbDevices?: readonly UsbDevice[];
  /**
   * The Hyper-V vendor id the guest sees when the hypervisor is hidden (at most 12 characters).
   * @default "0123456789ab"
   */
  readonly hypervisorVendorId?: string;
  /**
   * Start the domain when the host boots.
   * @default false
   */
  readonly autostart?: boolean;
}
