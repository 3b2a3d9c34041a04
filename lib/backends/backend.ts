/**
 * The seam between backend-neutral intent (hosts, GPUs, VMs and what they need) and a hypervisor's Terraform
 * provider. A backend turns a PassthroughHost and its GpuPassthroughVms into resources and adds the
 * rules only that hypervisor has. Adding a hypervisor means adding one implementation of these interfaces.
 */
import { TerraformResource } from "cdktf";
import type { IConstruct } from "constructs";
import { Problem } from "../problems";

/** A passthrough host as the core hands it to a backend (PassthroughHost implements it). */
export interface IPassthroughHost extends IConstruct {
  readonly hostName: string;
  /** How messages name it: `host "esx-01"`. */
  readonly subject: string;
}

/** A passthrough VM as the core hands it to a backend (GpuPassthroughVm implements it). */
export interface IGpuPassthroughVm extends IConstruct {
  readonly vmName: string;
  /** How messages name it: `VM "ws-01"`. */
  readonly subject: string;
}

/** Hard limits of the hypervisor, checked against every VM before deploy. */
export interface BackendLimits {
  readonly maxCpus: number;
  readonly maxMemoryMib: number;
  /** Memory must be a multiple of this many MiB. */
  readonly memoryGranularityMib: number;
  /** Passthrough PCI functions per VM. */
  readonly maxPciDevices: number;
}

/** A step outside Terraform that a host needs before its GPUs can be passed through. */
export interface HostStep {
  /** `bios` (a firmware setting), `command` (run on or against the host), `reboot`. */
  readonly kind: "bios" | "command" | "reboot";
  /** What the step does, for people. */
  readonly description: string;
  /** The exact command, for `command` steps. */
  readonly command?: string;
}

/** A step outside Terraform that one VM needs, shown with the VM in the report. */
export interface VmStep {
  /** Before the apply that creates the VM (e.g. in its template), or after it. */
  readonly when: "before-apply" | "after-apply";
  /** What to do and why, for people. */
  readonly description: string;
  /** The exact command, when there is one. */
  readonly command?: string;
}

/** A setting only this hypervisor derives for a VM, with why, for the report. */
export interface VmBackendSetting {
  readonly setting: string;
  readonly value: string;
  readonly why: string;
}

/**
 * A VM's settings for one hypervisor (vSphere's template, libvirt's base image), tagged with the hypervisor's kind
 * so that the backend can tell its own from another's.
 */
export interface HypervisorVmOptions {
  /** The backend's kind: `vsphere`, `libvirt`, `proxmox`. */
  readonly kind: string;
}

/** A hypervisor; `B` is the type of its host bindings, so `host.binding` gives the provider's own lookups. */
export interface HypervisorBackend<B extends HostBinding = HostBinding> {
  /** Short name used in reports and error messages: `vsphere`. */
  readonly kind: string;
  readonly limits: BackendLimits;
  /**
   * What follows for every VM with a passthrough device on this hypervisor (no snapshots, no live migration, ...),
   * for reviewers.
   */
  readonly constraints: readonly string[];
  /**
   * Identity of a host across all stacks of an app, so that one physical GPU given to two VMs in different
   * stacks is caught. Two hosts with the same key are the same machine.
   */
  hostKey(hostName: string): string;
  /** Creates the host's lookups in its stack. Called once, by the host's constructor. */
  bindHost(host: IPassthroughHost): B;
}

/**
 * A host in its hypervisor's terms; `R` is the provider's VM resource class (the VMs' typed escape hatch) and `O` the
 * hypervisor's VM options, so that a VM on this host is type-checked against them.
 */
export interface HostBinding<
  R extends TerraformResource = TerraformResource,
  O extends HypervisorVmOptions = HypervisorVmOptions,
> {
  /** Out-of-band steps the host needs for the GPUs it gives to guests, in the order to run them. */
  hostSteps(): HostStep[];
  /** Problems with the host that only this hypervisor has (e.g. a lookup its provider cannot do). */
  problems(): Problem[];
  /**
   * Renders one VM into the provider's resources. Called once, by the VM's constructor, with the VM's options when
   * they are this backend's (undefined when the VM gave none; a backend that needs them reports it).
   */
  renderVm(vm: IGpuPassthroughVm, options: O | undefined): VmRendering<R>;
  /**
   * Secure boot for an EFI VM that does not say, from its options (libvirt: on for Windows guests, which Windows 11
   * requires). Undefined: off, or what the backend does without the setting (vSphere: the template's).
   * @default - none
   */
  secureBootDefault?(options: O | undefined): boolean | undefined;
}

export interface VmRendering<R extends TerraformResource = TerraformResource> {
  /** The provider's VM resource: the escape hatch for settings this library does not model. */
  readonly resource: R;
  /**
   * Writes what follows from the VM's GPUs (devices, MMIO window, hidden hypervisor) into the resources. Called at
   * synth, once the app's GPU allocation is complete (see lib/allocation.ts), and again if it changed.
   */
  finalize(): void;
  /**
   * Rules of this hypervisor, checked on the rendered resource (so escape-hatch overrides are checked too).
   * Called at synth, after every construct exists.
   */
  validate(): Problem[];
  /** Settings only this hypervisor derives, beyond the common ones, for the report; read at synth. @default - none */
  settings?(): readonly VmBackendSetting[];
  /** Steps outside Terraform this VM needs; read at synth. @default - none */
  steps?(): readonly VmStep[];
}
