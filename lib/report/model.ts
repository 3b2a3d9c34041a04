/**
 * The report's JSON shape (`gpu-passthrough report --json FILE`): the same content as the Markdown, for bots and
 * scripts. It is stable: fields are only ever added, and `format` changes if one is renamed or removed. Lists are
 * sorted (stacks, hosts and VMs by name, GPUs by address, changes by address) and paths are relative to the synth
 * output directory, so two runs on the same input give the same bytes.
 */
import type { HostStep } from "../backends/backend";
import type { ManifestVm } from "./manifest";
import type { AttributeChange, ChangeKind } from "../backends/plan-reading";

export type { AttributeChange, ChangeKind } from "../backends/plan-reading";

export const REPORT_FORMAT = 1;

export interface PassthroughReport {
  readonly format: typeof REPORT_FORMAT;
  readonly summary: ReportSummary;
  /** Every synthesized stack, with or without GPU hosts, by name. */
  readonly stacks: readonly StackReport[];
  /** Every GPU host, by stack then name. */
  readonly hosts: readonly HostReport[];
  /** Every GPU VM, by stack then name. */
  readonly vms: readonly VmReport[];
  /** What follows for the VMs on each hypervisor: VMs with the same constraints share a group. */
  readonly constraints: readonly ConstraintGroup[];
  /** Present when plans were given. */
  readonly plan?: PlanReport;
}

export interface ReportSummary {
  readonly stacks: number;
  /** Physical hosts: a host declared in two stacks counts once. */
  readonly hosts: number;
  readonly vms: number;
  readonly gpus: { readonly given: number; readonly free: number; readonly kept: number };
  readonly plan?: PlanSummary;
}

export interface PlanSummary {
  /** Stacks whose plan was given. */
  readonly stacks: readonly string[];
  /** Changes to GPU VMs, by kind (changes to their disks and cloud-init are not counted here). */
  readonly create: number;
  readonly delete: number;
  readonly updateInPlace: number;
  readonly reboot: number;
  readonly replace: number;
  readonly gpuMoves: number;
  /** Changes the provider fails to apply (kind `unsupported-update`), to GPU VMs and their resources. */
  readonly errors: number;
}

export interface StackReport {
  readonly name: string;
  /** Whether the stack has GPU hosts (a passthrough.json). */
  readonly hasGpuHosts: boolean;
  readonly hosts: readonly string[];
  readonly vms: readonly string[];
}

export type GpuState = "given" | "free" | "kept";

export interface HostGpuReport {
  readonly gpu: string;
  readonly model: string;
  readonly functions: readonly string[];
  /** given: a VM holds it; free: a guest GPU no VM holds; kept: the host's own (role host). */
  readonly state: GpuState;
  readonly vm?: string;
  /** The stack of the VM, when it is not the host's stack (the same host declared in two stacks). */
  readonly vmStack?: string;
}

export interface HostReport {
  readonly stack: string;
  readonly name: string;
  readonly backend: string;
  /** Identity across stacks: the backend's `hostKey`, e.g. `<backend>:<host>`. */
  readonly key: string;
  readonly gpus: readonly HostGpuReport[];
  /** Steps outside Terraform, in the order to run them. */
  readonly steps: readonly HostStep[];
  /** Files of the host's preparation, relative to the synth output directory. */
  readonly files: readonly string[];
  /** Hosts with a host-prep.json (KVM): the kernel command line and vfio-pci binding. */
  readonly kvm?: KvmHostPrep;
}

export interface KvmHostPrep {
  readonly kernelArgs: readonly string[];
  readonly vfioPciIds: readonly string[];
  readonly bindBy: "ids" | "address";
  readonly bindReason: string;
  readonly script?: string;
}

/** One derived setting of a VM, with what it was derived from. */
export interface VmSetting {
  /** firmware, mmio, memory, hide-hypervisor, devices, then the hypervisor's own (vtpm, secure-boot, ...). */
  readonly setting: string;
  readonly value: string;
  readonly why: string;
}

/** A VM as the manifest describes it (its constraints are grouped in {@link ConstraintGroup}), with its settings. */
export interface VmReport extends Omit<ManifestVm, "constraints" | "backendSettings"> {
  readonly stack: string;
  /** The settings passthrough derives, each with why (the hypervisor's own last). */
  readonly settings: readonly VmSetting[];
}

export interface ConstraintGroup {
  readonly backend: string;
  readonly constraints: readonly string[];
  /** `stack/vm`, sorted. */
  readonly vms: readonly string[];
}

export interface PlanReport {
  /** Per stack with a plan, by stack name. */
  readonly stacks: readonly StackPlanReport[];
  readonly gpuMoves: readonly GpuMove[];
}

export interface StackPlanReport {
  readonly stack: string;
  readonly terraformVersion?: string;
  /** Changes to GPU VMs (including VMs the plan deletes that synth no longer has), by VM address. */
  readonly vms: readonly VmChange[];
  /** Changes to resources that are neither a GPU VM nor one of its resources. */
  readonly otherChanges: number;
}

export interface ResourceChangeReport {
  readonly address: string;
  readonly type: string;
  readonly actions: readonly string[];
  readonly kind: ChangeKind;
  readonly why: string;
  readonly attributes: readonly AttributeChange[];
  /** Terraform's action_reason, verbatim. */
  readonly actionReason?: string;
}

/** A GPU VM the plan touches: the VM resource itself, its disks and cloud-init, or both. */
export interface VmChange {
  /** The VM's name: from synth, or the plan's `name` attribute for a VM synth no longer has. */
  readonly vm: string;
  /** Terraform address of the VM resource. */
  readonly address: string;
  /** Whether the VM is in the synthesized output (false: the plan deletes a VM the code removed). */
  readonly inSynth: boolean;
  readonly host?: string;
  /** The change to the VM resource; absent when only its other resources change. */
  readonly change?: ResourceChangeReport;
  /** PCI functions before and after; absent when not known (created, deleted, or known only after apply). */
  readonly gpusBefore?: readonly string[];
  readonly gpusAfter?: readonly string[];
  /** The VM's disks and cloud-init that change, by address; each has its own kind. */
  readonly resources: readonly ResourceChangeReport[];
}

/** PCI functions that one VM releases and another takes in the same set of plans. */
export interface GpuMove {
  readonly host: string;
  readonly functions: readonly string[];
  readonly from: { readonly stack: string; readonly vm: string; readonly address: string };
  readonly to: { readonly stack: string; readonly vm: string; readonly address: string };
  /** Both VMs in one stack: Terraform does not order the two changes, so the apply may fail with "device busy". */
  readonly sameStack: boolean;
  /** What to do, for people. */
  readonly advice: string;
}
