/**
 * Lookups of existing vSphere objects (datacenter, hosts, datastores, networks, templates), each made once per
 * stack and datacenter however many hosts and VMs use it, so that a fleet of 1000 VMs cloned from one template
 * reads the template once. The references VMs take from them are made once too: every cdktf attribute reference
 * is a new token that records a stack trace, which was a third of the synth time of a large fleet.
 */
import { DataVsphereDatacenter } from "@cdktf/provider-vsphere/lib/data-vsphere-datacenter";
import { DataVsphereDatastore } from "@cdktf/provider-vsphere/lib/data-vsphere-datastore";
import { DataVsphereHost } from "@cdktf/provider-vsphere/lib/data-vsphere-host";
import { DataVsphereNetwork } from "@cdktf/provider-vsphere/lib/data-vsphere-network";
import { DataVsphereVirtualMachine } from "@cdktf/provider-vsphere/lib/data-vsphere-virtual-machine";
import { Fn, IResolvable, TerraformStack } from "cdktf";
import { Construct } from "constructs";

export class VsphereInventory extends Construct {
  /** The inventory of this datacenter in the stack that holds `scope`. */
  public static of(scope: Construct, datacenter: string): VsphereInventory {
    const stack = TerraformStack.of(scope);
    const id = `vsphere-${safeId(datacenter)}`;
    return (stack.node.tryFindChild(id) as VsphereInventory | undefined) ?? new VsphereInventory(stack, id, datacenter);
  }

  public readonly datacenter: DataVsphereDatacenter;

  private constructor(scope: Construct, id: string, datacenterName: string) {
    super(scope, id);
    this.datacenter = new DataVsphereDatacenter(this, "datacenter", { name: datacenterName });
  }

  public host(name: string): DataVsphereHost {
    return this.lookup(
      `host-${safeId(name)}`,
      (id) => new DataVsphereHost(this, id, { name, datacenterId: this.datacenter.id }),
    );
  }

  public datastore(name: string): DataVsphereDatastore {
    return this.lookup(
      `datastore-${safeId(name)}`,
      (id) => new DataVsphereDatastore(this, id, { name, datacenterId: this.datacenter.id }),
    );
  }

  public network(name: string): DataVsphereNetwork {
    return this.lookup(
      `network-${safeId(name)}`,
      (id) => new DataVsphereNetwork(this, id, { name, datacenterId: this.datacenter.id }),
    );
  }

  public template(name: string): DataVsphereVirtualMachine {
    return this.lookup(
      `template-${safeId(name)}`,
      (id) => new DataVsphereVirtualMachine(this, id, { name, datacenterId: this.datacenter.id }),
    );
  }

  /** The host's id and root resource pool, as attribute references. */
  public hostRefs(name: string): { readonly id: string; readonly resourcePoolId: string } {
    return this.memo(`host:${name}`, () => {
      const host = this.host(name);
      return { id: host.id, resourcePoolId: host.resourcePoolId };
    });
  }

  public datastoreId(name: string): string {
    return this.memo(`datastore:${name}`, () => this.datastore(name).id);
  }

  public networkId(name: string): string {
    return this.memo(`network:${name}`, () => this.network(name).id);
  }

  /** What a clone takes from its template: its id, guest OS, SCSI type, first adapter type and first disk. */
  public templateRefs(name: string): TemplateRefs {
    return this.memo(`template:${name}`, () => {
      const template = this.template(name);
      const disk = template.disks.get(0);
      return {
        uuid: template.id,
        guestId: template.guestId,
        scsiType: template.scsiType,
        adapterType: Fn.element(template.networkInterfaceTypes, 0),
        diskSizeGib: disk.size,
        diskThinProvisioned: disk.thinProvisioned,
      };
    });
  }

  private readonly refs = new Map<string, unknown>();

  private memo<T>(key: string, make: () => T): T {
    if (!this.refs.has(key)) this.refs.set(key, make());
    return this.refs.get(key) as T;
  }

  private lookup<T extends Construct>(id: string, create: (id: string) => T): T {
    return (this.node.tryFindChild(id) as T | undefined) ?? create(id);
  }
}

export interface TemplateRefs {
  readonly uuid: string;
  readonly guestId: string;
  readonly scsiType: string;
  readonly adapterType: string;
  readonly diskSizeGib: number;
  readonly diskThinProvisioned: IResolvable;
}

/** Construct ids may not contain "/"; inventory names (folders, port groups) may. */
function safeId(name: string): string {
  return name.replace(/\//g, "_");
}
