/**
 * The Proxmox VE backend (bpg/proxmox 0.112.0): a host is a node of a PVE cluster, reached through the cluster's API
 * (one provider per site); VMs are `proxmox_virtual_environment_vm`s with one `hostpci` per GPU, assigned by PCI id
 * (root@pam) or through a `proxmox_hardware_mapping_pci` per GPU (any user with Mapping.Use). The node's preparation
 * (kernel arguments, vfio-pci, initramfs) is derived from the VMs that use it. Decisions: README.md beside this file.
 */
import { TerraformProvider } from "cdktf";
import type { HardwareMappingPci } from "../../../.gen/providers/proxmox/hardware-mapping-pci";
import type { VirtualEnvironmentVm } from "../../../.gen/providers/proxmox/virtual-environment-vm";
import type { HostGpu, PassthroughHost } from "../../host";
import type { CpuVendor } from "../../host-prep/cpu";
import type { HostPreparation } from "../../host-prep/plan";
import { IommuGroup, IommuGroupProps, groupOf, parseIommuGroups } from "../../pci/iommu";
import { Problem } from "../../problems";
import { cachedByItems, gpuUse, preparationFiles } from "../../host-prep/files";
import { preparationScript, preparationSteps } from "../../host-prep/script";
import { StackFile } from "../../stack-file";
import { terraformLiteral } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import { HostBinding, HostStep, HypervisorBackend, VmBackendSetting, VmRendering } from "../backend";
import { proxmoxPrepPlan } from "./host-prep";
import { PROXMOX_LIMITS } from "./limits";
import { DEFAULT_BRIDGE, DEFAULT_DATASTORE, isPrimaryGpu, ovmfMmioArguments, renderVm } from "./render-vm";
import { ProxmoxVmOptions } from "./vm-options";
import { ProxmoxAuth, ProxmoxDeviceMode, mappingId, proxmoxHostProblems, proxmoxVmProblems } from "./vm-rules";

export interface ProxmoxBackendProps {
  /**
   * The provider of the host's cluster (one per PVE API endpoint). Providers belong to stacks.
   * @default - the stack's default proxmox provider
   */
  readonly provider?: TerraformProvider;
  /**
   * The cluster's identity for telling hosts apart across stacks, e.g. its API host name: nodes of two clusters may
   * share a name (`pve`).
   * @default - "" (the node name alone)
   */
  readonly cluster?: string;
  /**
   * The node's name in the cluster (`pvecm nodes`).
   * @default - the host name
   */
  readonly node?: string;
  /** The node's CPU vendor: it decides the IOMMU kernel argument (`intel_iommu=on` or `amd_iommu=on`). */
  readonly cpuVendor: CpuVendor;
  /**
   * The IOMMU groups of the node's GPUs (and whatever shares a group with them), from `gpu-passthrough discover`.
   * With them, isolation is checked before deploy and PCI mappings carry their group.
   * @default - none: isolation is left to PVE at start, mappings have no IOMMU group
   */
  readonly iommuGroups?: readonly IommuGroupProps[];
  /**
   * How VMs get GPUs: `id` writes each GPU's PCI id into its hostpci (PVE allows that only to root@pam); `mapping`
   * creates a `proxmox_hardware_mapping_pci` per guest GPU and names it in the hostpci (any user or API token with
   * Mapping.Use on it and VM.Config.HWType).
   * @default "id"
   */
  readonly devices?: ProxmoxDeviceMode;
  /**
   * Subsystem ids of guest GPUs for their PCI mappings, by the GPU's address: `{ "0000:0b:00.0": "1458:4105" }`
   * (lspci -nnv, "Subsystem"). PVE checks them when a VM starts.
   * @default - none: mappings without subsystem ids
   */
  readonly subsystemIds?: Readonly<Record<string, string>>;
  /**
   * Storage for VM disks, EFI variables and TPM state that VMs do not name.
   * @default "local-lvm"
   */
  readonly datastore?: string;
  /**
   * Linux bridge for VMs that do not name one.
   * @default "vmbr0"
   */
  readonly bridge?: string;
  /**
   * How the provider authenticates, for the rules: with `token`, what PVE allows only root@pam (hostpci by id,
   * kvm_arguments, ROM files, huge pages) is refused before deploy.
   * @default "password"
   */
  readonly auth?: ProxmoxAuth;
}

export class ProxmoxBackend implements HypervisorBackend<ProxmoxHostBinding> {
  public readonly kind = "proxmox";
  public readonly limits = PROXMOX_LIMITS;
  public readonly constraints = [
    "no live migration and no snapshots with RAM: QEMU cannot save a VFIO device's state",
    "all guest memory is allocated and pinned while the VM runs (no ballooning)",
    "a change to hostpci, cpu, memory, bios, machine, the EFI disk or kvm_arguments shuts the VM down and starts it again (reboot_after_update)",
    "a new node (without migrate), vm_id, clone setting, EFI disk type or TPM version replaces the VM",
    "hostpci by PCI id, kvm_arguments, ROM files and huge pages need root@pam with a password: PVE refuses them to API tokens",
  ];

  private readonly props: ProxmoxBackendProps;

  constructor(props: ProxmoxBackendProps) {
    this.props = props;
  }

  /** A node is one machine of one cluster. */
  public hostKey(hostName: string): string {
    return `proxmox:${this.props.cluster ?? ""}/${this.props.node ?? hostName}`;
  }

  public bindHost(host: PassthroughHost): ProxmoxHostBinding {
    return new ProxmoxHostBinding(host, this.props);
  }
}

/** `gpu-<node>-0000-0b-00`: a cluster-wide PCI mapping name, unique per node and device, stable across plans. */
export function mappingName(node: string, gpu: HostGpu): string {
  const device = (gpu.address?.deviceKey ?? gpu.key).replace(/:/g, "-");
  return `gpu-${node.toLowerCase().replace(/[^a-z0-9_-]/g, "-")}-${device}`;
}

/** The generated class, loaded on first use (only hosts with devices: mapping need it). */
function mappingClass(): typeof HardwareMappingPci {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return (
    require("../../../.gen/providers/proxmox/hardware-mapping-pci") as {
      HardwareMappingPci: typeof HardwareMappingPci;
    }
  ).HardwareMappingPci;
  /* eslint-enable @typescript-eslint/no-require-imports */
}

export class ProxmoxHostBinding implements HostBinding<VirtualEnvironmentVm, ProxmoxVmOptions> {
  /** The node's name in the cluster. */
  public readonly node: string;
  public readonly devices: ProxmoxDeviceMode;
  public readonly iommuGroups: readonly IommuGroup[];
  /** `proxmox_hardware_mapping_pci` of each guest GPU declared by address, by the GPU's key (devices: mapping). */
  public readonly mappings = new Map<string, HardwareMappingPci>();
  /** The VMs rendered on this host, in definition order: the preparation plan names them. */
  public readonly vms: GpuPassthroughVm[] = [];
  /** `prepare-host.sh` and `host-prep.json` in the stack's output, under `hosts/<host>/`. */
  public readonly prepFiles: readonly StackFile[];

  private readonly iommuProblems: readonly string[];

  constructor(
    private readonly host: PassthroughHost,
    private readonly props: ProxmoxBackendProps,
  ) {
    this.node = props.node ?? host.hostName;
    this.devices = props.devices ?? "id";
    const parsed = parseIommuGroups(props.iommuGroups ?? [], `${host.subject} iommuGroups`);
    this.iommuGroups = parsed.groups;
    this.iommuProblems = parsed.problems;
    if (this.devices === "mapping") this.createMappings();
    this.prepFiles = preparationFiles(host, () => this.prepPlan(), preparationScript);
  }

  /** The node's preparation, from its guest GPUs and the VMs holding them; computed again only when those change. */
  public readonly prepPlan: () => HostPreparation = cachedByItems(
    () => this.vms.map((vm) => vm.gpus),
    () =>
      proxmoxPrepPlan({
        host: this.host.hostName,
        cpuVendor: this.props.cpuVendor,
        ...gpuUse(this.host, this.vms),
      }),
  );

  public hostSteps(): HostStep[] {
    return preparationSteps(this.prepPlan());
  }

  public problems(): Problem[] {
    return proxmoxHostProblems(this.host, {
      iommuProblems: this.iommuProblems,
      devices: this.devices,
      subsystemIds: this.props.subsystemIds ?? {},
      node: this.node,
    });
  }

  public renderVm(vm: GpuPassthroughVm, options: ProxmoxVmOptions | undefined): VmRendering<VirtualEnvironmentVm> {
    this.vms.push(vm);
    // Without settings the VM is a new, empty one on the backend's defaults: every setting has one.
    const opts: ProxmoxVmOptions = options ?? { kind: "proxmox" };
    const { resource, finalize } = renderVm(vm, opts, {
      provider: this.props.provider,
      node: this.node,
      datastore: this.props.datastore ?? DEFAULT_DATASTORE,
      bridge: this.props.bridge ?? DEFAULT_BRIDGE,
      mappingOf: this.devices === "mapping" ? (gpu) => this.mappings.get(gpu.key)?.name : undefined,
    });
    return {
      resource,
      finalize,
      validate: () =>
        proxmoxVmProblems(vm, opts, resource, {
          auth: this.props.auth ?? "password",
          devices: this.devices,
          groups: this.iommuGroups,
          mappings: this.mappingsByReference(),
        }),
      settings: () => this.vmSettings(vm, opts),
    };
  }

  /** The host's mappings by how a hostpci names them: the reference to the mapping's name, and the name itself. */
  private mappingsByReference(): Map<string, HostGpu> {
    const byReference = new Map<string, HostGpu>();
    for (const gpu of this.host.gpus) {
      const mapping = this.mappings.get(gpu.key);
      if (!mapping) continue;
      byReference.set(`${mapping.terraformResourceType}.${mapping.friendlyUniqueId}.name`, gpu);
      byReference.set(mappingName(this.node, gpu), gpu);
    }
    return byReference;
  }

  /** One mapping per guest GPU declared by address: its node, path (all functions), id, group and subsystem id. */
  private createMappings(): void {
    const Mapping = mappingClass();
    const subsystemIds = new Map(
      Object.entries(this.props.subsystemIds ?? {}).map(([address, id]) => [address.toLowerCase(), id]),
    );
    for (const gpu of this.host.guestGpus()) {
      const address = gpu.address;
      const id = mappingId(gpu.model);
      // Matched GPUs and models without ids are reported by the host's problems.
      if (!address || !id) continue;
      const group = this.iommuGroups.length ? groupOf(this.iommuGroups, address)?.id : undefined;
      const subsystemId =
        subsystemIds.get(address.toString()) ?? subsystemIds.get(address.toString().replace(/^0000:/, ""));
      this.mappings.set(
        gpu.key,
        new Mapping(
          this.host,
          `pci-mapping-${address.deviceKey.replace(/:/g, "-")}`,
          terraformLiteral({
            provider: this.props.provider,
            name: mappingName(this.node, gpu),
            comment: `${gpu.model.name} ${address.deviceKey} on ${this.node} (cdktf-gpu-passthrough)`,
            map: [
              {
                id,
                nodeAttribute: this.node,
                path: address.deviceKey,
                iommuGroup: group,
                subsystemId,
              },
            ],
          }),
        ),
      );
    }
  }

  /** What the report shows of the settings only Proxmox VE derives. */
  private vmSettings(vm: GpuPassthroughVm, opts: ProxmoxVmOptions): VmBackendSetting[] {
    const primary = isPrimaryGpu(vm, opts) && vm.gpus.length > 0;
    const settings: VmBackendSetting[] = [
      {
        setting: "hostpci",
        value:
          vm.gpus
            .filter((g) => g.address)
            .map(
              (g, i) =>
                `hostpci${i} ${this.devices === "mapping" ? `mapping ${mappingName(this.node, g)}` : g.functions.join(";")}`,
            )
            .join(", ") || "none",
        why:
          this.devices === "mapping"
            ? "one hostpci per GPU through its PCI mapping, whose path passes every function of the device; pcie on q35, ROM BAR on"
            : "one hostpci per GPU with the PCI ids of all its functions, one multifunction device in the guest; pcie on q35, ROM BAR on",
      },
      {
        setting: "primary-gpu",
        value: primary ? "x-vga on hostpci0" : "none",
        why: primary
          ? "PVE makes an x-vga device the primary display and hides KVM for it (kvm=off, hv_vendor_id=proxmox on Windows): " +
            (vm.hideHypervisor
              ? "the hypervisor must be hidden, and the provider has no CPU hidden option"
              : "asked for with primaryGpu (PVE hides the hypervisor with it)")
          : "the hypervisor need not be hidden",
      },
    ];
    const rootOnly = [
      ...(this.devices === "id" && vm.gpus.length ? ["hostpci by PCI id"] : []),
      ...(ovmfMmioArguments(vm.mmio) ? ["kvm_arguments (the 64-bit MMIO aperture)"] : []),
      ...(opts.gpuRom?.file !== undefined ? ["a ROM file"] : []),
      ...(opts.hugepages ? ["huge pages"] : []),
    ];
    if (rootOnly.length) {
      settings.push({
        setting: "credentials",
        value: "root@pam with a password",
        why: `${rootOnly.join(", ")}: PVE allows these only to root@pam, and never to an API token`,
      });
    }
    return settings;
  }
}
