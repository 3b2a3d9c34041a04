import { Aspects, IAspect, TerraformResource, TerraformStack, Token } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { GpuLedger } from "./allocation";
import type {
  HostBinding,
  HypervisorVmOptions,
  IGpuPassthroughVm,
  VmBackendSetting,
  VmRendering,
  VmStep,
} from "./backends/backend";
import { DerivedVm, Firmware, VmIntent, deriveVm } from "./derive";
import { HostGpu, PassthroughHost } from "./host";
import { MmioRequirement } from "./mmio";
import { PciAddress } from "./pci/address";
import { Problem, formatProblem, markSelfDescribing } from "./problems";
import { withoutCreationStacks } from "./tokens";
import { checkedBeforeSynth } from "./validation/checked-once";
import { vmNameProblem } from "./validation/names";
import { vmProblems } from "./validation/vm-rules";

export type { Firmware } from "./derive";

/** A VM's props: its host, its GPUs, its hypervisor settings, and the intent every hypervisor derives from. */
export interface GpuPassthroughVmProps<
  R extends TerraformResource = TerraformResource,
  O extends HypervisorVmOptions = HypervisorVmOptions,
> extends VmIntent {
  /** The host whose GPUs the VM takes; the VM runs there. */
  readonly host: PassthroughHost<HostBinding<R, O>>;
  /**
   * The VM's name in the hypervisor.
   * @default - the construct id
   */
  readonly name?: string;
  /**
   * GPUs by the address of their first function, e.g. `["0000:3b:00.0"]`. Give this or `gpuCount`.
   * @default - none: the VM takes `gpuCount` GPUs
   */
  readonly gpus?: readonly (string | PciAddress)[];
  /**
   * How many of the host's free guest GPUs to take, lowest address first. The app allocates GPUs in one pass at
   * synth: VMs that name their GPUs by address first, then the others in construct-path order, whatever the order
   * they were defined in.
   * @default - none: the VM names its `gpus`
   */
  readonly gpuCount?: number;
  /**
   * The VM's settings for its host's hypervisor, e.g. `{ kind: "vsphere", template: "ubuntu-efi" }`
   * (VsphereVmOptions, LibvirtVmOptions, ProxmoxVmOptions).
   * @default - none; vSphere needs a template and libvirt a base image, and their backends say so
   */
  readonly hypervisor?: O;
}

/**
 * A virtual machine that takes whole GPUs from a {@link PassthroughHost} and gets every setting passthrough needs:
 * EFI firmware, a 64-bit MMIO window sized from the GPUs' BARs, all memory reserved, hot add off, the hypervisor
 * hidden when the GPU's driver needs it, and the PCI devices mapped. The hypervisor's resource is {@link resource}
 * (also `node.defaultChild`).
 *
 * Which GPUs the VM gets is decided for the whole app at synth (see allocation.ts): the GPU-dependent values below
 * are read then, and what the renderers write from them is resolved then too.
 */
export class GpuPassthroughVm<
  R extends TerraformResource = TerraformResource,
  O extends HypervisorVmOptions = HypervisorVmOptions,
>
  extends Construct
  implements IGpuPassthroughVm
{
  public readonly vmName: string;
  public readonly host: PassthroughHost<HostBinding<R, O>>;
  public readonly cpus: number;
  public readonly coresPerSocket: number;
  public readonly memoryMib: number;
  /** Equal to {@link memoryMib}: passthrough needs the guest's memory reserved in full. */
  public readonly memoryReservationMib: number;
  public readonly firmware: Firmware;
  public readonly secureBoot: boolean;
  /**
   * The provider's VM resource, typed by the host's backend (`VirtualMachine` on vSphere, `Domain` on libvirt, ...);
   * also `node.defaultChild`. Escape hatch: its setters, or `addOverride`; the rules check the result.
   */
  public readonly resource: R;

  /** The props, with the backend's secure boot default filled in. */
  private readonly intent: GpuPassthroughVmProps<R, O>;
  private readonly userSecureBootWish: boolean | undefined;
  private readonly problems: Problem[] = [];
  private readonly rendering: VmRendering<R>;
  private derivedFor?: { readonly gpus: readonly HostGpu[]; readonly derived: DerivedVm };
  private finalizedFor?: readonly HostGpu[];

  constructor(scope: Construct, id: string, props: GpuPassthroughVmProps<R, O>) {
    super(scope, id);
    this.intent = props;
    this.userSecureBootWish = props.secureBoot;
    this.vmName = props.name ?? id;
    this.host = props.host;
    const nameProblem = vmNameProblem(this.vmName);
    if (nameProblem) this.problems.push({ subject: `VM name "${this.vmName}"`, message: nameProblem });
    if (TerraformStack.of(props.host) !== TerraformStack.of(this)) {
      this.problems.push({
        subject: this.subject,
        message: `is in stack "${TerraformStack.of(this).node.id}" but its ${props.host.subject} is in stack "${TerraformStack.of(props.host).node.id}"; cdktf would quietly read the host through the other stack's remote state`,
        fix: "define the VM in its host's stack (or a second PassthroughHost for the same host in this stack)",
      });
    }
    this.requestGpus();
    const options = props.hypervisor?.kind === props.host.backend.kind ? props.hypervisor : undefined;
    if (props.secureBoot === undefined && (props.firmware ?? "efi") === "efi") {
      const secureBoot = props.host.binding.secureBootDefault?.(options);
      if (secureBoot !== undefined) this.intent = { ...props, secureBoot };
    }
    const fixed = deriveVm(this.intent, []);
    this.cpus = fixed.cpus;
    this.coresPerSocket = fixed.coresPerSocket;
    this.memoryMib = fixed.memoryMib;
    this.memoryReservationMib = fixed.memoryReservationMib;
    this.firmware = fixed.firmware;
    this.secureBoot = fixed.secureBoot;

    if (props.hypervisor && !options) {
      this.problems.push({
        subject: this.subject,
        message: `has ${props.hypervisor.kind} settings, but ${props.host.subject} is ${props.host.backend.kind}`,
        fix: `give hypervisor: { kind: "${props.host.backend.kind}", ... } (its settings), or put the VM on a ${props.hypervisor.kind} host`,
      });
    }
    // Every backend's resources are built without cdktf's creation stack traces (see withoutCreationStacks).
    this.rendering = withoutCreationStacks(() => props.host.binding.renderVm(this, options));
    this.resource = this.rendering.resource;
    this.node.defaultChild = this.resource;
    finalizeAtSynth(TerraformStack.of(this));
    this.node.addValidation({
      validate: () => (checkedBeforeSynth(this) ? [] : this.validate().map(formatProblem)),
    });
    markSelfDescribing(this);
  }

  /** How this VM is named in messages. */
  public get subject(): string {
    return `VM "${this.vmName}"`;
  }

  /** The settings the user gave, for the backend that renders the VM (its hypervisor options, the secure boot wish). */
  public get userSecureBoot(): boolean | undefined {
    return this.userSecureBootWish;
  }

  /** Everything derived from the VM's intent and its GPUs (see derive.ts). */
  public get derived(): DerivedVm {
    const { gpus } = GpuLedger.of(this).allocationOf(this.node.path);
    if (this.derivedFor?.gpus !== gpus) this.derivedFor = { gpus, derived: deriveVm(this.intent, gpus) };
    return this.derivedFor.derived;
  }

  /** The GPUs this VM holds, in address order. */
  public get gpus(): readonly HostGpu[] {
    return this.derived.gpus;
  }

  /** Every PCI function passed to the VM by address (all functions of every GPU declared by address). */
  public get pciFunctions(): readonly PciAddress[] {
    return this.derived.pciFunctions;
  }

  /** How many PCI devices the VM gets: every function of addressed GPUs, one per matched GPU. */
  public get pciDeviceCount(): number {
    return this.derived.pciDeviceCount;
  }

  /** The 64-bit MMIO window and the figures it was computed from. */
  public get mmio(): MmioRequirement {
    return this.derived.mmio;
  }

  public get hideHypervisor(): boolean {
    return this.derived.hideHypervisor;
  }

  /** Why the hypervisor is hidden or not, for reports. */
  public get hideHypervisorReason(): string {
    return this.derived.hideHypervisorReason;
  }

  /** Settings only the hypervisor derives (vSphere: vTPM, secure boot from the template), for reports. */
  public get backendSettings(): readonly VmBackendSetting[] {
    return this.rendering.settings?.() ?? [];
  }

  /** Steps outside Terraform this VM needs (in its template, or after the apply), for reports. */
  public get steps(): readonly VmStep[] {
    return this.rendering.steps?.() ?? [];
  }

  /**
   * Writes what follows from the VM's GPUs into its resources, from the app's allocation as it is now. Called at
   * synth (by an aspect of the stack) and before validation; construct every VM of the app before it runs.
   */
  public finalize(): void {
    const { gpus } = this;
    if (this.finalizedFor === gpus) return;
    this.finalizedFor = gpus;
    withoutCreationStacks(() => this.rendering.finalize());
  }

  /** Every problem with this VM: its props, its GPUs' allocation across the app, and the hypervisor's rules. */
  public validate(): Problem[] {
    this.finalize();
    const { problems } = GpuLedger.of(this).allocationOf(this.node.path);
    const mmio = this.derived.mmioProblem;
    return [
      ...this.problems,
      ...problems,
      ...(mmio ? [{ subject: this.subject, message: mmio }] : []),
      ...vmProblems(this.subject, this.derived, this.host.backend),
      ...this.rendering.validate(),
    ];
  }

  private requestGpus(): void {
    const { gpus, gpuCount } = this.intent;
    const host = this.host;
    if ((gpus === undefined) === (gpuCount === undefined)) {
      this.problems.push({
        subject: this.subject,
        message:
          gpus === undefined ? "asks for no GPU" : "gives both gpus and gpuCount, which disagree about which GPUs",
        fix: `give gpus (addresses on ${host.subject}) or gpuCount, not both`,
      });
    }
    let count = gpuCount;
    if (gpus === undefined && gpuCount !== undefined && !Token.isUnresolved(gpuCount)) {
      if (!Number.isInteger(gpuCount) || gpuCount < 1) {
        this.problems.push({
          subject: this.subject,
          message: `gpuCount ${gpuCount} is not a whole number of GPUs ≥ 1`,
          fix: "give the number of GPUs to take, e.g. gpuCount: 1 (gpus: 1 in a fleet file)",
        });
        count = undefined;
      }
    } else if (gpuCount !== undefined && Token.isUnresolved(gpuCount)) {
      this.problems.push({
        subject: this.subject,
        message: "gpuCount is a Token (a value known only at deploy time); GPUs are allocated at synth",
        fix: "give gpuCount as a number",
      });
      count = undefined;
    }
    GpuLedger.of(this).request({
      vmName: this.vmName,
      vmPath: this.node.path,
      subject: this.subject,
      host,
      addresses: gpus,
      count: gpus === undefined ? count : undefined,
    });
  }
}

/** Finalizes every VM of a stack when cdktf synthesizes it (aspects run first, in app.synth and Testing.synth). */
export class FinalizeGpus implements IAspect {
  public visit(node: IConstruct): void {
    if (node instanceof GpuPassthroughVm) node.finalize();
  }
}

const FINALIZED_STACKS = new WeakSet<TerraformStack>();

function finalizeAtSynth(stack: TerraformStack): void {
  if (FINALIZED_STACKS.has(stack)) return;
  FINALIZED_STACKS.add(stack);
  Aspects.of(stack).add(new FinalizeGpus());
}
