/**
 * The libvirt/KVM backend (dmacvicar/libvirt 0.9.7): a host is a Linux machine running libvirtd, reached through
 * its own provider (`qemu:///system` or `qemu+ssh://...`); VMs are `libvirt_domain`s with the GPUs' functions as
 * VFIO hostdevs. The host's IOMMU groups are declared, so isolation is checked before deploy, and the host's
 * preparation (kernel arguments, vfio-pci, initramfs) is derived from the VMs that use it.
 */
import { TerraformProvider } from "cdktf";
import type { Domain } from "../../../.gen/providers/libvirt/domain";
import type { CpuTopology, NumaNodeProps } from "../../cpu-topology";
import type { PassthroughHost } from "../../host";
import { IommuGroup, IommuGroupProps, parseIommuGroups } from "../../pci/iommu";
import { Problem } from "../../problems";
import { cachedByItems, gpuUse, preparationFiles } from "../../host-prep/files";
import { preparationSteps } from "../../host-prep/script";
import { StackFile } from "../../stack-file";
import { terraformValue } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import { HostBinding, HostStep, HypervisorBackend, VmRendering } from "../backend";
import { HostDistro, OvmfPaths, ovmfPaths } from "./distro";
import { KVM_LIMITS } from "./limits";
import { domainXml } from "./domain-xml";
import { CpuVendor, HostPrepPlan, hostPrepPlan, hostPrepScript } from "./host-prep";
import { guestHostNeeds, guestSettings, secureBootDefault } from "./guest";
import { NumaPlacement, numaPlacement, numaSettings } from "./numa";
import { numaHostProblems } from "./numa-rules";
import { RenderedDomain, apertureSettings, renderDomain } from "./render-domain";
import { LibvirtVmOptions } from "./vm-options";
import {
  libvirtHostProblems,
  libvirtVmProblems,
  missingOptionsProblem,
  numaProblems,
  unrenderedDomainProblems,
} from "./vm-rules";

export interface LibvirtBackendProps {
  /**
   * The libvirt provider of this host; each host has its own (its connection URI). Providers belong to stacks.
   * @default - the stack's default libvirt provider
   */
  readonly provider?: TerraformProvider;
  /** The host's CPU vendor: it decides the IOMMU kernel argument (`intel_iommu=on` or `amd_iommu=on`). */
  readonly cpuVendor: CpuVendor;
  /**
   * The host's Linux distribution: OVMF paths, initramfs and boot loader tools.
   * @default "debian"
   */
  readonly distro?: HostDistro;
  /**
   * OVMF firmware paths that differ from the distribution's packages.
   * @default - the distribution's (see distro.ts)
   */
  readonly ovmf?: Partial<OvmfPaths>;
  /**
   * The IOMMU groups of the host's GPUs (and whatever shares a group with them), from `gpu-passthrough discover`.
   * Every guest GPU's functions must be listed.
   */
  readonly iommuGroups: readonly IommuGroupProps[];
  /**
   * Storage pool for boot disks and cloud-init seeds.
   * @default "default"
   */
  readonly pool?: string;
  /**
   * libvirt network for VMs that do not name one.
   * @default "default"
   */
  readonly network?: string;
  /**
   * The host's NUMA nodes and their cores (SMT siblings together), from `gpu-passthrough discover --libvirt`.
   * @default - unknown: no NUMA placement
   */
  readonly numaNodes?: readonly NumaNodeProps[];
}

export class LibvirtBackend implements HypervisorBackend<LibvirtHostBinding> {
  public readonly kind = "libvirt";
  public readonly limits = KVM_LIMITS;
  public readonly constraints = [
    "no live migration and no memory snapshots: QEMU cannot save a VFIO device's state",
    "the domain's memory is locked on the host for as long as it runs",
    "every change to the domain stops and restarts it (provider 0.9.7 redefines it); a new name or type replaces it",
    "a change to the boot volume cannot be applied in place (provider 0.9.7): replace the volume",
    // Each on one line of the report (160 characters); host-prep.json and prepare-host.sh give the details.
    "a failed first start leaves the domain defined but not in the state (0.9.7): the next apply fails until `virsh undefine --nvram <vm>` on the host",
    "destroy stops the guest without a shutdown (0.9.7 cannot shut down, then force): for a clean stop, run `virsh shutdown <vm>` on the host first",
  ];

  private readonly props: LibvirtBackendProps;

  constructor(props: LibvirtBackendProps) {
    this.props = props;
  }

  /** KVM hosts are named by their host name alone: one libvirtd per machine. */
  public hostKey(hostName: string): string {
    return `libvirt:${hostName}`;
  }

  public bindHost(host: PassthroughHost): LibvirtHostBinding {
    return new LibvirtHostBinding(host, this.props);
  }
}

export class LibvirtHostBinding implements HostBinding<Domain, LibvirtVmOptions> {
  public readonly distro: HostDistro;
  public readonly ovmf: OvmfPaths;
  public readonly iommuGroups: readonly IommuGroup[];
  private readonly rendered = new Map<GpuPassthroughVm, RenderedDomain>();
  /** Each VM's libvirt options (those given): the host plan reads what its guests need of the host. */
  private readonly options = new Map<GpuPassthroughVm, LibvirtVmOptions>();

  /** The VMs rendered on this host, in definition order: the preparation plan follows from them. */
  public get vms(): GpuPassthroughVm[] {
    return [...this.rendered.keys()];
  }
  /** `prepare-host.sh` and `host-prep.json` in the stack's output, under `hosts/<host>/`. */
  public readonly prepFiles: readonly StackFile[];

  private readonly iommuProblems: readonly string[];
  /** The declared NUMA nodes, when they are declared and sound. */
  public readonly topology?: CpuTopology;
  private readonly numaProblems: readonly Problem[];

  constructor(
    private readonly host: PassthroughHost,
    private readonly props: LibvirtBackendProps,
  ) {
    this.distro = props.distro ?? "debian";
    this.ovmf = ovmfPaths(this.distro, props.ovmf);
    const parsed = parseIommuGroups(props.iommuGroups, `${host.subject} iommuGroups`);
    this.iommuGroups = parsed.groups;
    this.iommuProblems = parsed.problems;
    const numa = numaHostProblems(host, props.numaNodes);
    this.topology = numa.topology;
    this.numaProblems = numa.problems;
    this.prepFiles = preparationFiles(host, () => this.prepPlan(), hostPrepScript);
  }

  /** The host's preparation, from its guest GPUs and the VMs holding them; computed again only when those change. */
  public readonly prepPlan: () => HostPrepPlan = cachedByItems(
    () => this.vms.map((vm) => vm.gpus),
    () =>
      hostPrepPlan({
        host: this.host.hostName,
        cpuVendor: this.props.cpuVendor,
        distro: this.distro,
        ...gpuUse(this.host, this.vms),
        // BIOS domains have no NVRAM: libvirt undefines them after a failed start.
        nvramVms: this.vms.filter((vm) => vm.firmware === "efi").map((vm) => vm.vmName),
        // Read here, after the allocation: huge pages go to the nodes of the GPUs each VM gets.
        guests: this.vms.flatMap((vm) => {
          const o = this.options.get(vm);
          return o ? [guestHostNeeds(vm, o)] : [];
        }),
      }),
  );

  public hostSteps(): HostStep[] {
    return preparationSteps(this.prepPlan());
  }

  public problems(): Problem[] {
    const problems = [...libvirtHostProblems(this.host, this.ovmf, this.iommuProblems), ...this.numaProblems];
    for (const gpu of this.host.gpus) {
      if (gpu.match) {
        problems.push({
          subject: `${this.host.subject} GPU ${gpu.label}`,
          message: "libvirt hosts declare GPUs by address (a hostdev names its PCI address)",
          fix: "give address: (gpu-passthrough discover prints it)",
        });
      }
    }
    return problems;
  }

  /**
   * Every resource a VM of this host has, typed: the domain (also `vm.resource`), its boot volume, its cloud-init
   * disk and the volume that holds it. The escape hatch for the VM's other resources.
   */
  public resourcesOf(vm: GpuPassthroughVm): RenderedDomain | undefined {
    return this.rendered.get(vm);
  }

  /** Where the VM runs on this host's NUMA nodes (from its GPUs as allocated now). */
  public placementOf(vm: GpuPassthroughVm, opts: LibvirtVmOptions): NumaPlacement {
    return numaPlacement(vm, opts.vcpuPins, this.topology);
  }

  public secureBootDefault(options: LibvirtVmOptions | undefined): boolean | undefined {
    return secureBootDefault(options);
  }

  public renderVm(vm: GpuPassthroughVm, options: LibvirtVmOptions | undefined): VmRendering<Domain> {
    // Without settings there is no base image to boot: a domain with the VM's intent alone, and the one problem.
    const opts: LibvirtVmOptions = options ?? { kind: "libvirt", baseImage: "" };
    if (options) this.options.set(vm, options);
    const rendered = renderDomain(vm, opts, {
      provider: this.props.provider,
      pool: this.props.pool ?? "default",
      network: this.props.network ?? "default",
      ovmf: this.ovmf,
      topology: this.topology,
    });
    this.rendered.set(vm, rendered);
    const { domain } = rendered;
    new StackFile(vm, "domain-xml", {
      path: `domains/${vm.vmName}.xml`,
      content: (synthesized) =>
        // What libvirt receives: Terraform has read the escaped literals back to the user's text.
        domainXml(
          terraformValue(synthesized.resource?.[domain.terraformResourceType]?.[domain.friendlyUniqueId] ?? {}),
        ),
    });
    return {
      resource: domain,
      finalize: rendered.finalize,
      settings: () => [
        ...apertureSettings(vm),
        ...(options ? guestSettings(vm, opts) : []),
        ...(options ? numaSettings(this.placementOf(vm, opts), this.topology !== undefined) : []),
      ],
      validate: () =>
        options
          ? [
              ...libvirtVmProblems(vm, opts, this.iommuGroups),
              ...numaProblems(vm, this.placementOf(vm, opts)),
              ...unrenderedDomainProblems(vm, domain),
            ]
          : [missingOptionsProblem(vm)],
    };
  }
}
