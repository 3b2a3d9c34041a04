import { TerraformResource, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { GpuLedger } from "./allocation";
import type { VmBackendSetting, VmStep } from "./backends/backend";
import type { LibvirtVmOptions } from "./backends/libvirt/vm-options";
import type { VsphereVmOptions } from "./backends/vsphere/vm-options";
import { HostGpu, PassthroughHost } from "./host";
import { MmioRequirement, requiredMmio, withOverride } from "./mmio";
import { PciAddress } from "./pci/address";
import { Problem, formatProblem, markSelfDescribing } from "./problems";
import { withoutCreationStacks } from "./tokens";
import { vmNameProblem } from "./validation/names";
import { vmProblems } from "./validation/vm-rules";

export type Firmware = "efi" | "bios";

export interface GpuPassthroughVmProps {
  /** The host whose GPUs the VM takes; the VM runs there. */
  readonly host: PassthroughHost;
  /**
   * The VM's name in the hypervisor.
   * @default the construct id
   */
  readonly name?: string;
  /** GPUs by the address of their first function, e.g. `["0000:3b:00.0"]`. Give this or `gpuCount`. */
  readonly gpus?: readonly string[];
  /**
   * How many of the host's free guest GPUs to take, lowest address first. GPUs are taken in the order VMs are
   * defined, so define VMs that name their GPUs by address first.
   */
  readonly gpuCount?: number;
  /** Virtual CPUs. */
  readonly cpus: number;
  /**
   * Cores per virtual socket; must divide `cpus`.
   * @default cpus (one socket)
   */
  readonly coresPerSocket?: number;
  /** Guest memory in GiB. All of it is reserved: a passthrough VM cannot power on otherwise. */
  readonly memoryGib: number;
  /**
   * Guest firmware. GPUs that map more than 16 GB need EFI; BIOS is only allowed for small-BAR GPUs.
   * @default "efi"
   */
  readonly firmware?: Firmware;
  /**
   * UEFI secure boot (EFI only).
   * @default false; on vSphere, the template's (a clone without the setting would have it turned off)
   */
  readonly secureBoot?: boolean;
  /**
   * The 64-bit MMIO window in GB. Must be a power of two and at least what the GPUs map.
   * @default computed from the GPU models' BAR sizes (see `mmio.ts`)
   */
  readonly mmioSizeGb?: number;
  /**
   * Hide the hypervisor from the guest (consumer NVIDIA drivers stop with error 43 when they see one).
   * @default true when any of the VM's GPU models has the `hideHypervisor` quirk
   */
  readonly hideHypervisor?: boolean;
  /** vSphere settings; required when the host's backend is vSphere. */
  readonly vsphere?: VsphereVmOptions;
  /** libvirt/KVM settings; required when the host's backend is libvirt. */
  readonly libvirt?: LibvirtVmOptions;
}

/**
 * A virtual machine that takes whole GPUs from a {@link PassthroughHost} and gets every setting passthrough needs:
 * EFI firmware, a 64-bit MMIO window sized from the GPUs' BARs, all memory reserved, hot add off, the hypervisor
 * hidden when the GPU's driver needs it, and the PCI devices mapped. The hypervisor-specific resource is
 * {@link resource}.
 */
export class GpuPassthroughVm extends Construct {
  public readonly vmName: string;
  public readonly host: PassthroughHost;
  /** The GPUs this VM holds, in address order. */
  public readonly gpus: readonly HostGpu[];
  /** Every PCI function passed to the VM by address (all functions of every GPU declared by address). */
  public readonly pciFunctions: readonly PciAddress[];
  /** How many PCI devices the VM gets: every function of addressed GPUs, one per matched GPU. */
  public readonly pciDeviceCount: number;
  public readonly cpus: number;
  public readonly coresPerSocket: number;
  public readonly memoryMib: number;
  /** Equal to {@link memoryMib}: passthrough needs the guest's memory reserved in full. */
  public readonly memoryReservationMib: number;
  public readonly firmware: Firmware;
  public readonly secureBoot: boolean;
  /** The 64-bit MMIO window and the figures it was computed from. */
  public readonly mmio: MmioRequirement;
  public readonly hideHypervisor: boolean;
  /** Why the hypervisor is hidden or not, for reports. */
  public readonly hideHypervisorReason: string;
  /** The props as given, for the backend that renders the VM. */
  public readonly props: GpuPassthroughVmProps;
  /** The provider's VM resource (`vsphere_virtual_machine` on vSphere, `libvirt_domain` on KVM). Escape hatch: `addOverride`. */
  public readonly resource: TerraformResource;
  /** Settings only the hypervisor derives (vSphere: vTPM, secure boot from the template), for reports. */
  public readonly backendSettings: readonly VmBackendSetting[];
  /** Steps outside Terraform this VM needs (in its template, or after the apply), for reports. */
  public readonly steps: readonly VmStep[];

  private readonly problems: Problem[] = [];
  private readonly renderingProblems: () => Problem[];

  constructor(scope: Construct, id: string, props: GpuPassthroughVmProps) {
    super(scope, id);
    this.props = props;
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
    this.gpus = this.takeGpus();
    this.pciFunctions = this.gpus.flatMap((g) => g.functions);
    this.pciDeviceCount = this.gpus.reduce((n, g) => n + Math.max(1, g.functions.length), 0);
    this.cpus = props.cpus;
    this.coresPerSocket = props.coresPerSocket ?? props.cpus;
    this.memoryMib = props.memoryGib * 1024;
    this.memoryReservationMib = this.memoryMib;
    this.firmware = props.firmware ?? "efi";
    this.secureBoot = props.secureBoot ?? false;
    this.mmio = this.sizeMmio();
    const needsHiding = this.gpus.filter((g) => g.model.quirks.hideHypervisor).map((g) => g.model.name);
    this.hideHypervisor = props.hideHypervisor ?? needsHiding.length > 0;
    this.hideHypervisorReason =
      props.hideHypervisor !== undefined
        ? `set by the user (${props.hideHypervisor})`
        : needsHiding.length
          ? `${[...new Set(needsHiding)].join(", ")}: consumer driver refuses to run under a hypervisor (error 43)`
          : "no GPU of this VM needs it";

    // Every backend's resources are built without cdktf's creation stack traces (see withoutCreationStacks).
    const rendering = withoutCreationStacks(() => props.host.binding.renderVm(this));
    this.resource = rendering.resource;
    this.backendSettings = rendering.settings ?? [];
    this.steps = rendering.steps ?? [];
    this.renderingProblems = () => rendering.validate();
    this.node.addValidation({ validate: () => this.validate().map(formatProblem) });
    markSelfDescribing(this);
  }

  /** How this VM is named in messages. */
  public get subject(): string {
    return `VM "${this.vmName}"`;
  }

  /** Every problem with this VM: its props, its GPUs' allocation across the app, and the hypervisor's rules. */
  public validate(): Problem[] {
    return [...this.problems, ...vmProblems(this), ...this.allocationProblems(), ...this.renderingProblems()];
  }

  private takeGpus(): HostGpu[] {
    const { gpus, gpuCount } = this.props;
    const host = this.host;
    if ((gpus === undefined) === (gpuCount === undefined)) {
      this.problems.push({
        subject: this.subject,
        message:
          gpus === undefined ? "asks for no GPU" : "gives both gpus and gpuCount, which disagree about which GPUs",
        fix: `give gpus (addresses on ${host.subject}) or gpuCount, not both`,
      });
    }
    const taken =
      gpus !== undefined ? this.gpusByAddress(gpus) : gpuCount !== undefined ? this.gpusByCount(gpuCount) : [];
    const ledger = GpuLedger.of(this);
    for (const gpu of taken) ledger.claim(host.gpuKey(gpu), { vmName: this.vmName, vmPath: this.node.path });
    return taken.sort((a, b) => host.gpus.indexOf(a) - host.gpus.indexOf(b));
  }

  private gpusByAddress(addresses: readonly string[]): HostGpu[] {
    const host = this.host;
    const taken: HostGpu[] = [];
    addresses.forEach((text, i) => {
      const where = `${this.subject} gpus[${i}]`;
      const address = PciAddress.tryParse(text);
      if (typeof address === "string") {
        this.problems.push({ subject: where, message: address });
        return;
      }
      const gpu = host.findGpu(address);
      const guestList = host
        .guestGpus()
        .map((g) => `${g.label} (${g.model.name})`)
        .join(", ");
      if (!gpu) {
        this.problems.push({
          subject: where,
          message: `${host.subject} has no GPU at ${address}`,
          fix: guestList ? `use one of its guest GPUs: ${guestList}` : `declare the GPU in ${host.subject}'s gpus`,
        });
      } else if (!gpu.address?.equals(address)) {
        this.problems.push({
          subject: where,
          message: `${address} is function ${address.fn} of GPU ${gpu.label}; VMs take whole GPUs`,
          fix: `write "${gpu.label}" (all its functions are passed together)`,
        });
      } else if (gpu.role === "host") {
        this.problems.push({
          subject: where,
          message: `GPU ${address} (${gpu.model.name}) is kept by ${host.subject} (role: host)`,
          fix: guestList ? `use one of its guest GPUs: ${guestList}` : `give ${host.subject} a guest GPU`,
        });
      } else if (taken.includes(gpu)) {
        this.problems.push({ subject: where, message: `GPU ${address} is listed twice`, fix: "list each GPU once" });
      } else {
        taken.push(gpu);
      }
    });
    return taken;
  }

  private gpusByCount(count: number): HostGpu[] {
    const host = this.host;
    if (!Number.isInteger(count) || count < 1) {
      this.problems.push({
        subject: this.subject,
        message: `gpuCount ${count} is not a whole number of GPUs ≥ 1`,
        fix: "give the number of GPUs to take, e.g. gpuCount: 1 (gpus: 1 in a fleet file)",
      });
      return [];
    }
    const free = host.freeGuestGpus();
    if (free.length < count) {
      const ledger = GpuLedger.of(this);
      const held = host
        .guestGpus()
        .filter((g) => !free.includes(g))
        .map((g) => `${g.label} → ${ledger.claimants(host.gpuKey(g))[0]?.vmName}`);
      this.problems.push({
        subject: this.subject,
        message:
          `asks for ${count} GPU(s) but ${host.subject} has ${free.length} free of ${host.guestGpus().length} guest GPU(s)` +
          (held.length ? ` (taken: ${held.join(", ")})` : ""),
        fix: `${free.length ? `ask for ${free.length} GPU(s) or fewer (gpus: ${free.length} in a fleet file, gpuCount in code), ` : ""}free a GPU, or move the VM to another host`,
      });
    }
    return free.slice(0, count);
  }

  private sizeMmio(): MmioRequirement {
    const required = requiredMmio(this.gpus.map((g) => ({ gpu: g.label, model: g.model })));
    const result = withOverride(required, this.props.mmioSizeGb);
    if (typeof result === "string") {
      this.problems.push({ subject: this.subject, message: result });
      return required;
    }
    return result;
  }

  private allocationProblems(): Problem[] {
    const ledger = GpuLedger.of(this);
    return this.gpus.flatMap((gpu) => {
      const [first] = ledger.claimants(this.host.gpuKey(gpu));
      if (!first || first.vmPath === this.node.path) return [];
      return [
        {
          subject: this.subject,
          message: `GPU ${gpu.label} on ${this.host.subject} is already given to VM "${first.vmName}" (${first.vmPath})`,
          fix: "a GPU can belong to one VM only: give this VM another GPU or remove it from the other VM",
        },
      ];
    });
  }
}
