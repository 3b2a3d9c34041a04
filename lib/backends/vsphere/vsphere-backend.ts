/**
 * The vSphere backend: hosts are ESXi hosts in a vCenter datacenter, VMs are `vsphere_virtual_machine` clones.
 */
import { DataVsphereHost } from "@cdktf/provider-vsphere/lib/data-vsphere-host";
import { DataResource } from "cdktf";
import type { PassthroughHost } from "../../host";
import { LARGE_BAR_THRESHOLD_MIB } from "../../mmio";
import { mappedMib } from "../../gpu/model";
import type { GpuPassthroughVm } from "../../vm";
import { BackendLimits, HostBinding, HostStep, HypervisorBackend, VmRendering } from "../backend";
import { esxiHostSteps } from "./directpath";
import { VsphereInventory } from "./inventory";
import { renderVirtualMachine } from "./render-vm";
import { vsphereVmProblems } from "./vm-rules";

export interface VsphereBackendProps {
  /** The vCenter datacenter that holds the host. */
  readonly datacenter: string;
  /** Datastore for VMs that do not name one. @default none: each VM must give `vsphere.datastore` */
  readonly datastore?: string;
  /** Port group for VMs that do not name one. @default none: each VM must give `vsphere.network` */
  readonly network?: string;
  /**
   * How DirectPath I/O gets enabled on the host's guest GPUs: `manual` lists the commands (host steps) for an
   * operator; `govc` also runs them from `terraform apply` (a `terraform_data` with a local-exec provisioner,
   * which needs govc and GOVC_URL/GOVC_USERNAME/GOVC_PASSWORD on the machine that applies).
   * @default "manual"
   */
  readonly enableDirectPath?: "manual" | "govc";
}

/** vSphere 8 (VM hardware 20+) limits; 16 passthrough devices per VM since vSphere 7. */
const VSPHERE_LIMITS: BackendLimits = {
  maxCpus: 768,
  maxMemoryMib: 24 * 1024 * 1024,
  memoryGranularityMib: 4,
  maxPciDevices: 16,
};

export class VsphereBackend implements HypervisorBackend {
  public readonly kind = "vsphere";
  public readonly limits = VSPHERE_LIMITS;

  constructor(public readonly props: VsphereBackendProps) {}

  public hostKey(hostName: string): string {
    return `vsphere:${this.props.datacenter}/${hostName}`;
  }

  public bindHost(host: PassthroughHost): VsphereHostBinding {
    return new VsphereHostBinding(host, this.props);
  }
}

export class VsphereHostBinding implements HostBinding {
  /** The datacenter's lookups in the host's stack. */
  public readonly inventory: VsphereInventory;
  /** `data.vsphere_host` for the ESXi host: its id and root resource pool. */
  public readonly hostData: DataVsphereHost;
  /** The opt-in `terraform_data` that runs the DirectPath toggles, when `enableDirectPath` is `govc`. */
  public readonly directPathRunner?: DataResource;

  constructor(
    private readonly host: PassthroughHost,
    private readonly props: VsphereBackendProps,
  ) {
    this.inventory = VsphereInventory.of(host, props.datacenter);
    this.hostData = this.inventory.host(host.hostName);
    if (props.enableDirectPath === "govc") {
      const commands = this.hostSteps().flatMap((s) => (s.command ? [s.command] : []));
      if (commands.length) {
        this.directPathRunner = new DataResource(host, "enable-directpath", {
          triggersReplace: { commands: commands.join("\n") },
          provisioners: [{ type: "local-exec", command: `set -e\n${commands.join("\n")}` }],
        });
      }
    }
  }

  public hostSteps(): HostStep[] {
    return esxiHostSteps(
      this.props.datacenter,
      this.host.hostName,
      this.host.guestGpus().map((g) => ({
        functions: g.functions.map((f) => f.toString()),
        modelName: g.model.name,
        largeBar: mappedMib(g.model) > LARGE_BAR_THRESHOLD_MIB,
      })),
    );
  }

  public renderVm(vm: GpuPassthroughVm): VmRendering {
    const names = {
      datastore: vm.props.vsphere?.datastore ?? this.props.datastore,
      network: vm.props.vsphere?.network ?? this.props.network,
    };
    const resource = renderVirtualMachine(vm, {
      inventory: this.inventory,
      host: this.hostData,
      datastore: names.datastore ?? "",
      network: names.network ?? "",
      dependsOn: this.directPathRunner ? [this.directPathRunner] : [],
    });
    return { resource, validate: () => vsphereVmProblems(vm, resource, names) };
  }
}
