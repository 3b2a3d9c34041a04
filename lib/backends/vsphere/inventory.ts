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
import { freeId } from "../../construct-ids";
import { terraformLiteral } from "../../terraform-literal";

/** Each stack's inventories by datacenter name (names that differ only in "/" and "_" get distinct ids). */
const inventoriesOf = new WeakMap<TerraformStack, Map<string, VsphereInventory>>();

export class VsphereInventory extends Construct {
  /** The inventory of this datacenter in the stack that holds `scope`. */
  public static of(scope: Construct, datacenter: string): VsphereInventory {
    const stack = TerraformStack.of(scope);
    const inventories = inventoriesOf.get(stack) ?? new Map<string, VsphereInventory>();
    inventoriesOf.set(stack, inventories);
    const existing = inventories.get(datacenter);
    if (existing) return existing;
    const inventory = new VsphereInventory(stack, freeId(stack, `vsphere-${safeId(datacenter)}`), datacenter);
    inventories.set(datacenter, inventory);
    return inventory;
  }

  public readonly datacenter: DataVsphereDatacenter;

  private constructor(scope: Construct, id: string, datacenterName: string) {
    super(scope, id);
    this.datacenter = new DataVsphereDatacenter(this, "datacenter", terraformLiteral({ name: datacenterName }));
  }

  public host(name: string): DataVsphereHost {
    return this.lookup(
      "host",
      name,
      (id) => new DataVsphereHost(this, id, terraformLiteral({ name, datacenterId: this.datacenter.id })),
    );
  }

  public datastore(name: string): DataVsphereDatastore {
    return this.lookup(
      "datastore",
      name,
      (id) => new DataVsphereDatastore(this, id, terraformLiteral({ name, datacenterId: this.datacenter.id })),
    );
  }

  public network(name: string): DataVsphereNetwork {
    return this.lookup(
      "network",
      name,
      (id) => new DataVsphereNetwork(this, id, terraformLiteral({ name, datacenterId: this.datacenter.id })),
    );
  }

  /**
   * The template, read with the disk controllers its clones manage: the data source lists the disks of the
   * controllers it scans, and the clone must declare exactly those (DiskCloneValidateOperation).
   */
  public template(name: string, controller: DiskController = "scsi"): DataVsphereVirtualMachine {
    return this.lookup(
      "template",
      controller === "scsi" ? name : `${name}-${controller}`,
      (id) =>
        new DataVsphereVirtualMachine(
          this,
          id,
          terraformLiteral({ name, datacenterId: this.datacenter.id, ...SCAN_COUNTS[controller] }),
        ),
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

  /**
   * What a clone takes from its template: its id, guest OS, SCSI type, first adapter type, disks, firmware, and the
   * vTPM and secure boot the provider would otherwise drop.
   */
  public templateRefs(name: string, controller: DiskController = "scsi"): TemplateRefs {
    return this.memo(`template:${controller}:${name}`, () => {
      const template = this.template(name, controller);
      return {
        uuid: template.id,
        guestId: template.guestId,
        scsiType: template.scsiType,
        adapterType: Fn.element(template.networkInterfaceTypes, 0),
        disks: template.interpolationForAttribute("disks"),
        firstDiskSizeGib: template.disks.get(0).size,
        firmware: template.firmware,
        vtpm: template.vtpm,
        efiSecureBootEnabled: template.efiSecureBootEnabled,
      };
    });
  }

  private readonly refs = new Map<string, unknown>();

  private memo<T>(key: string, make: () => T): T {
    if (!this.refs.has(key)) this.refs.set(key, make());
    return this.refs.get(key) as T;
  }

  private readonly lookups = new Map<string, Construct>();

  /** One lookup per kind and name, with the id `<kind>-<name>` unless another name already took it. */
  private lookup<T extends Construct>(kind: string, name: string, create: (id: string) => T): T {
    const key = `${kind}:${name}`;
    const existing = this.lookups.get(key);
    if (existing) return existing as T;
    const made = create(freeId(this, `${kind}-${safeId(name)}`));
    this.lookups.set(key, made);
    return made;
  }
}

/** The controller a template's disks are on (the first of its kind, bus 0). */
export type DiskController = "scsi" | "nvme" | "sata";

/**
 * Controllers the template lookup scans: the ones its clone manages (scsi/sata/nvme_controller_count), so that both
 * list the same disks. IDE is not scanned: no GPU template boots from IDE.
 */
const SCAN_COUNTS: Readonly<Record<DiskController, Record<string, number>>> = {
  scsi: {
    scsiControllerScanCount: 1,
    sataControllerScanCount: 0,
    nvmeControllerScanCount: 0,
    ideControllerScanCount: 0,
  },
  nvme: {
    scsiControllerScanCount: 0,
    sataControllerScanCount: 0,
    nvmeControllerScanCount: 1,
    ideControllerScanCount: 0,
  },
  sata: {
    scsiControllerScanCount: 0,
    sataControllerScanCount: 1,
    nvmeControllerScanCount: 0,
    ideControllerScanCount: 0,
  },
};

export interface TemplateRefs {
  readonly uuid: string;
  readonly guestId: string;
  readonly scsiType: string;
  readonly adapterType: string;
  /** The template's disks on the scanned controller, in unit order (a list of objects). */
  readonly disks: IResolvable;
  readonly firstDiskSizeGib: number;
  readonly firmware: string;
  /** Whether the template has a vTPM (a boolean). */
  readonly vtpm: IResolvable;
  readonly efiSecureBootEnabled: boolean | IResolvable;
}

/** Construct ids may not contain "/"; inventory names (folders, port groups) may. */
function safeId(name: string): string {
  return name.replace(/\//g, "_");
}
