/**
 * The vSphere backend: hosts are ESXi hosts in a vCenter datacenter, VMs are `vsphere_virtual_machine` clones.
 */
import { createHash } from "crypto";
import { DataVsphereHost } from "@cdktf/provider-vsphere/lib/data-vsphere-host";
import { DataVsphereHostPciDevice } from "@cdktf/provider-vsphere/lib/data-vsphere-host-pci-device";
import type { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import type { HostGpu, PassthroughHost } from "../../host";
import { isLargeBar } from "../../mmio";
import { mappedMib } from "../../gpu/model";
import { TerraformData } from "../../terraform-data";
import { terraformLiteral } from "../../terraform-literal";
import type { GpuPassthroughVm } from "../../vm";
import { Problem } from "../../problems";
import { HostBinding, HostStep, HypervisorBackend, VmRendering, VmStep } from "../backend";
import { dynamicDirectPathStep, esxiHostSteps } from "./directpath";
import { toolsTemplateStep } from "./horizon";
import { re2Problem } from "./re2";
import { VSPHERE_LIMITS } from "./limits";
import { VsphereInventory } from "./inventory";
import { renderBareVirtualMachine, renderGpus, renderVirtualMachine, vsphereVmSettings } from "./render-vm";
import { VsphereSnapshotRule } from "./snapshot-rule";
import { VsphereVmOptions } from "./vm-options";
import { vsphereVmProblems } from "./vm-rules";

export interface VsphereBackendProps {
  /** The vCenter datacenter that holds the host. */
  readonly datacenter: string;
  /** Datastore for VMs that do not name one. @default - none: each VM must give `vsphere.datastore` */
  readonly datastore?: string;
  /** Port group for VMs that do not name one. @default - none: each VM must give `vsphere.network` */
  readonly network?: string;
  /**
   * How DirectPath I/O gets enabled on the host's guest GPUs: `manual` lists the commands (host steps) for an
   * operator; `govc` also runs them from `terraform apply` (a `terraform_data` with a local-exec provisioner,
   * which needs govc and GOVC_URL/GOVC_USERNAME/GOVC_PASSWORD on the machine that applies).
   * @default "manual"
   */
  readonly enableDirectPath?: "manual" | "govc";
}

export class VsphereBackend implements HypervisorBackend<VsphereHostBinding> {
  public readonly kind = "vsphere";
  public readonly limits = VSPHERE_LIMITS;
  public readonly constraints = [
    "no snapshots: vSphere cannot snapshot a VM with a DirectPath I/O device",
    "no vMotion and no DRS moves: the VM is bound to its host's physical GPU",
    "no suspend and no hot add of CPU or memory",
    "a change to the VM's PCI devices or MMIO settings needs the VM powered off (a reboot of the guest)",
  ];

  private readonly props: VsphereBackendProps;

  constructor(props: VsphereBackendProps) {
    this.props = props;
  }

  /** The vCenter datacenter that holds the host. */
  public get datacenter(): string {
    return this.props.datacenter;
  }

  public hostKey(hostName: string): string {
    return `vsphere:${this.props.datacenter}/${hostName}`;
  }

  public bindHost(host: PassthroughHost): VsphereHostBinding {
    return new VsphereHostBinding(host, this.props);
  }
}

export class VsphereHostBinding implements HostBinding<VirtualMachine, VsphereVmOptions> {
  /** The datacenter's lookups in the host's stack. */
  public readonly inventory: VsphereInventory;
  /** `data.vsphere_host` for the ESXi host: its id and root resource pool. */
  public readonly hostData: DataVsphereHost;
  /** The opt-in `terraform_data` that runs the DirectPath toggles, when `enableDirectPath` is `govc`. */
  public readonly directPathRunner?: TerraformData;
  /** `data.vsphere_host_pci_device` of each GPU declared by match, by the GPU's key. */
  public readonly pciDeviceLookups = new Map<string, DataVsphereHostPciDevice>();

  constructor(
    private readonly host: PassthroughHost,
    private readonly props: VsphereBackendProps,
  ) {
    this.inventory = VsphereInventory.of(host, props.datacenter);
    this.hostData = this.inventory.host(host.hostName);
    host.gpus.forEach((gpu) => {
      if (!gpu.match) return;
      const { vendorId, classId, nameRegex } = gpu.match;
      this.pciDeviceLookups.set(
        gpu.key,
        new DataVsphereHostPciDevice(
          host,
          // Named by what it matches, not by its position: another GPU declared before it renames nothing.
          `pci-device-${createHash("sha256").update(gpu.key).digest("hex").slice(0, 8)}`,
          terraformLiteral({ hostId: this.hostData.id, vendorId, classId, nameRegex }),
        ),
      );
    });
    if (props.enableDirectPath === "govc") {
      const commands = this.hostSteps().flatMap((s) => (s.command ? [s.command] : []));
      if (commands.length) {
        this.directPathRunner = new TerraformData(
          host,
          "enable-directpath",
          terraformLiteral({
            triggersReplace: { commands: commands.join("\n") },
            provisioners: [{ type: "local-exec" as const, command: `set -e\n${commands.join("\n")}` }],
          }),
        );
      }
    }
  }

  /** The `pci_device_id` entries of a GPU: its functions' addresses, or the id its lookup finds. */
  public pciDeviceIds(gpu: HostGpu): string[] {
    const lookup = this.pciDeviceLookups.get(gpu.key);
    return lookup ? [lookup.id] : gpu.functions.map((f) => f.toString());
  }

  public problems(): Problem[] {
    const subject = this.host.subject;
    return this.host.gpus.flatMap((gpu) => {
      const problems: Problem[] = [];
      const vendor = gpu.match?.vendorId;
      // The provider parses vendor_id as a signed 16-bit number (data_source_vsphere_host_pci_device.go), so
      // Intel's 8086 and any id above 7fff fail at plan time.
      if (vendor !== undefined && parseInt(vendor, 16) > 0x7fff) {
        problems.push({
          subject: `${subject} GPU ${gpu.label}`,
          message: `vendorId ${vendor} is above 7fff, which vsphere_host_pci_device cannot parse (it reads a signed 16-bit number)`,
          fix: "declare the GPU by address, or match it by classId and nameRegex only",
        });
      }
      const nameRegex = gpu.match?.nameRegex;
      const syntax = nameRegex === undefined ? undefined : re2Problem(nameRegex);
      if (syntax) {
        problems.push({
          subject: `${subject} GPU ${gpu.label}`,
          message: `match.nameRegex "${nameRegex}" ${syntax}; vsphere_host_pci_device compiles it with Go's regexp (RE2) and fails at plan`,
          fix: "write it without lookaround or backreferences (RE2 has neither): match a distinct part of the device name instead, e.g. A100.*80GB",
        });
      }
      if (gpu.match && gpu.model.functions.length) {
        problems.push({
          subject: `${subject} GPU ${gpu.label}`,
          message: `${gpu.model.name} has ${gpu.model.functions.length} more PCI function(s) that a match cannot find (vsphere_host_pci_device returns one device)`,
          fix: "declare the GPU by address so all its functions are passed",
        });
      }
      return problems;
    });
  }

  public hostSteps(): HostStep[] {
    return esxiHostSteps(
      this.props.datacenter,
      this.host.hostName,
      this.host.guestGpus().map((g) => ({
        functions: this.pciDeviceIds(g),
        modelName: g.model.name,
        largeBar: isLargeBar(mappedMib(g.model)),
      })),
    );
  }

  public renderVm(vm: GpuPassthroughVm, options: VsphereVmOptions | undefined): VmRendering<VirtualMachine> {
    const opts = options;
    if (!opts) {
      const resource = renderBareVirtualMachine(vm);
      return {
        resource,
        finalize: () => undefined,
        validate: () => [
          {
            subject: vm.subject,
            message: `runs on ${vm.host.subject}, a vSphere host, but has no vSphere settings`,
            fix: 'give hypervisor: { kind: "vsphere", template: ... } (vsphere: { template } in a fleet file)',
          },
        ],
      };
    }
    const names = {
      datastore: opts.datastore ?? this.props.datastore,
      network: opts.network ?? this.props.network,
    };
    const resource = renderVirtualMachine(vm, opts, {
      inventory: this.inventory,
      where: { datacenter: this.props.datacenter, host: this.host.hostName },
      host: this.inventory.hostRefs(this.host.hostName),
      datastore: names.datastore ?? "",
      network: names.network ?? "",
      dependsOn: this.directPathRunner ? [this.directPathRunner] : [],
    });
    VsphereSnapshotRule.of(this.host).watch(vm);
    // The devices and extra_config follow from the GPUs: written at synth, from the final allocation. Reading the
    // allocation while VMs are still being defined would make the app allocate again for every VM.
    const finalize = () =>
      renderGpus(
        vm,
        opts,
        resource,
        vm.gpus.flatMap((g) => this.pciDeviceIds(g)),
      );
    return {
      resource,
      finalize,
      validate: () => vsphereVmProblems(vm, opts, resource, names),
      settings: () => vsphereVmSettings(vm, opts),
      steps: () => vsphereVmSteps(vm, opts),
    };
  }
}

/** The VM's steps outside Terraform: the Horizon Tools install in its template, the Dynamic DirectPath conversion. */
function vsphereVmSteps(vm: GpuPassthroughVm, opts: VsphereVmOptions): VmStep[] {
  const steps: VmStep[] = [];
  if (opts.horizon && opts.horizon.toolsIso === undefined) steps.push(toolsTemplateStep(opts.template, opts.horizon));
  if (opts.dynamicDirectPath) {
    steps.push(
      dynamicDirectPathStep(vm.gpus.flatMap((g) => (g.functions.length ? g.functions.map(String) : [g.label]))),
    );
  }
  return steps;
}
