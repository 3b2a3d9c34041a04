/** vSphere settings of a {@link GpuPassthroughVm}: where it lives, what it is cloned from, how it is customized. */
import type { HypervisorVmOptions } from "../backend";

export interface VsphereVmOptions extends HypervisorVmOptions {
  /** These are vSphere settings. */
  readonly kind: "vsphere";
  /**
   * The template VM to clone: a guest installed in EFI mode, without GPUs. The provider cannot add PCI devices to
   * a VM it creates bare (the device step looks the VM up before it exists), and the seed's advice is the same:
   * install the OS first, then add the GPU.
   */
  readonly template: string;
  /**
   * Datastore for the VM's files.
   * @default - the backend's `datastore`
   */
  readonly datastore?: string;
  /**
   * Port group of the VM's network adapter.
   * @default - the backend's `network`
   */
  readonly network?: string;
  /**
   * VM folder, relative to the datacenter's VM folder.
   * @default - the datacenter's VM folder
   */
  readonly folder?: string;
  /**
   * Size of the first disk in GiB; at least the template's (checked at plan). Not with `linkedClone`, whose disks
   * are exactly the template's.
   * @default - the template's first disk size
   */
  readonly diskGib?: number;
  /**
   * The controller the template's disks are on (the first of its kind). The VM gets one disk per template disk on
   * it, read at plan; a template whose disks are on NVMe or SATA has no SCSI controller the provider can manage.
   * @default "scsi"
   */
  readonly diskController?: "scsi" | "nvme" | "sata";
  /**
   * Clone as a linked clone (a delta disk on the template's snapshot).
   * @default false
   */
  readonly linkedClone?: boolean;
  /**
   * A virtual TPM 2.0 (Windows 11 needs one). vSphere needs a key provider to add one; a template's vTPM is cloned
   * with the VM. The provider removes a cloned vTPM the configuration does not declare, so by default the VM has one
   * exactly when its template has one.
   * @default - the template's
   */
  readonly vtpm?: boolean;
  /** Guest customization of the clone (host name, network, first-logon commands). @default - none */
  readonly customize?: VsphereCustomization;
  /** Settings for a VMware Horizon desktop (seed 001). Needs `customize.windows`. @default - not a Horizon desktop */
  readonly horizon?: HorizonDesktopOptions;
  /**
   * The VM's devices are converted to Dynamic DirectPath I/O by hand after the first apply (vSphere 7+, lets HA/DRS
   * place the VM on any host with a matching GPU; the provider has no argument for it, #2352). The VM is cloned
   * with plain DirectPath devices, the conversion is listed as a step, and Terraform ignores pci_device_id and
   * host_system_id from then on: a converted device vanishes from pci_device_id on read, and adding it back makes
   * provider 2.15.0 panic.
   * @default false
   */
  readonly dynamicDirectPath?: boolean;
  /**
   * Expose hardware virtualization to the guest. ESXi refuses it on a VM with a passthrough device; this option
   * exists so that asking for it gets a clear error instead of a failed power-on.
   * @default false
   */
  readonly nestedVirtualization?: boolean;
  /** CPU hot add. vSphere forbids hot add with DirectPath devices. @default false */
  readonly cpuHotAdd?: boolean;
  /** Memory hot add. vSphere forbids hot add with DirectPath devices. @default false */
  readonly memoryHotAdd?: boolean;
  /** Notes shown in the vSphere Client. @default - none */
  readonly annotation?: string;
}

export interface VsphereIpv4 {
  /** e.g. `10.0.10.21` */
  readonly address: string;
  /** Prefix length, e.g. 24. */
  readonly netmask: number;
  readonly gateway: string;
  /**
   * Up to three DNS servers.
   * @default - none: the template's resolver settings
   */
  readonly dnsServers?: readonly string[];
}

export interface VsphereCustomization {
  /**
   * Linux guest: host name and domain. Give this or `windows`.
   * @default - none: a Windows guest
   */
  readonly linux?: { readonly hostName: string; readonly domain: string };
  /**
   * Windows guest: computer name, Administrator password, run-once commands. Give this or `linux`.
   * @default - none: a Linux guest
   */
  readonly windows?: VsphereWindowsCustomization;
  /** Static IPv4 for the first adapter. @default - DHCP */
  readonly ipv4?: VsphereIpv4;
}

export interface VsphereWindowsCustomization {
  /** NetBIOS computer name (at most 15 characters). */
  readonly computerName: string;
  /**
   * Local Administrator password. Pass a sensitive `TerraformVariable`'s value: a literal string would be written
   * into cdk.tf.json, so it is refused.
   * @default - no password set by customization
   */
  readonly adminPassword?: string;
  /**
   * Windows time zone index (sysprep's: 85 is GMT Standard Time, 35 Eastern, 110 W. Europe). Customization always
   * sets one, so the template's own zone is not kept.
   * @default 85 (GMT Standard Time, London: the provider's default, written out so that the plan shows it)
   */
  readonly timeZone?: number;
  /**
   * Commands run at the first logon, after the Horizon Tools install when there is one (with `horizon.toolsIso`).
   * @default - none
   */
  readonly runOnceCommands?: readonly string[];
  /**
   * Log the Administrator on automatically once, so that the run-once commands run without anyone logging on.
   * Needs `adminPassword`.
   * @default - true when there are run-once commands and an adminPassword, else false
   */
  readonly autoLogon?: boolean;
}

export interface HorizonDesktopOptions {
  /**
   * The VMware Tools ISO on a datastore, as the vSphere Client writes it: `[datastore1] iso/windows.iso`. The clone
   * gets a CD-ROM with it, the Tools install becomes its first run-once command, and the Administrator logs on
   * automatically once to run it (needs `customize.windows.adminPassword`).
   * @default - none: the Tools install is listed as a step in the template (the clone cannot run it)
   */
  readonly toolsIso?: string;
  /**
   * Path of the VMware Tools installer in the guest: on the Tools CD, whose drive letter follows the guest's disks.
   * @default "d:\\setup64.exe"
   */
  readonly toolsInstaller?: string;
  /**
   * The Horizon Agent will be installed after VMware Tools. It brings its own SVGA driver.
   * @default true
   */
  readonly horizonAgent?: boolean;
  /**
   * Remove the VMware SVGA driver from the Tools install (the Horizon Agent installs a newer one). Only with
   * `horizonAgent`: a desktop without the agent needs SVGA.
   * @default - false (the seed's command keeps SVGA)
   */
  readonly removeSvga?: boolean;
  /**
   * NSX is used: keep the NetworkIntrospection driver, which sends network events to NSX.
   * @default false
   */
  readonly nsx?: boolean;
}
