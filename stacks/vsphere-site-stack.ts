/**
 * One stack per fleet site: the vSphere provider for its vCenter, its hosts and their GPU VMs.
 */
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { Annotations, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { VsphereBackend } from "../lib/backends/vsphere/vsphere-backend";
import { VsphereVmOptions } from "../lib/backends/vsphere/vm-options";
import { FleetHost, FleetSite, FleetVm } from "../lib/fleet/schema";
import { PassthroughHost } from "../lib/host";
import { GpuPassthroughVm } from "../lib/vm";

export interface VsphereSiteStackProps {
  readonly site: FleetSite;
  readonly hosts: readonly FleetHost[];
  readonly vms: readonly FleetVm[];
}

export class VsphereSiteStack extends TerraformStack {
  public readonly provider: VsphereProvider;
  public readonly hosts = new Map<string, PassthroughHost>();
  public readonly vms: GpuPassthroughVm[] = [];

  constructor(scope: Construct, props: VsphereSiteStackProps) {
    const { site } = props;
    super(scope, site.name);
    // cdktf's default local backend writes the absolute working directory into the output; this path is the
    // same file (the project root, seen from cdktf.out/stacks/<site>) without it.
    new LocalBackend(this, { path: `../../../terraform.${site.name}.tfstate` });

    this.provider = new VsphereProvider(this, "vsphere", {
      vsphereServer: site.vsphere.server,
      user: this.credential("vsphere_user", "vCenter user name; unset, the provider reads VSPHERE_USER"),
      password: this.credential("vsphere_password", "vCenter password; unset, the provider reads VSPHERE_PASSWORD"),
      allowUnverifiedSsl: site.vsphere.allowUnverifiedSsl,
    });
    if (site.vsphere.allowUnverifiedSsl) {
      Annotations.of(this.provider).addWarning(
        `site "${site.name}": allowUnverifiedSsl is on, so the vCenter certificate of ${site.vsphere.server} is not checked; turn it off once vCenter has a trusted certificate`,
      );
    }

    for (const h of props.hosts) {
      const host = new PassthroughHost(this, h.name, {
        hostName: h.name,
        backend: new VsphereBackend({
          datacenter: site.vsphere.datacenter,
          datastore: h.datastore,
          network: h.network,
          enableDirectPath: h.enableDirectPath,
        }),
        gpus: h.gpus,
      });
      this.hosts.set(h.name, host);
      const steps = host.hostSteps();
      if (steps.length) {
        new TerraformOutput(this, `host_steps_${h.name.replace(/[^A-Za-z0-9]/g, "_")}`, {
          description: `Steps outside Terraform that ${h.name} needs before its GPUs can be passed through`,
          value: steps.map((s) => s.command ?? `${s.kind}: ${s.description}`),
        });
      }
    }

    // VMs that name their GPUs take them first, so that count-based VMs get what is left.
    const ordered = [...props.vms].sort(
      (a, b) => Number(typeof a.gpus === "number") - Number(typeof b.gpus === "number"),
    );
    for (const v of ordered) {
      const host = this.hosts.get(v.host);
      if (!host) continue; // the fleet loader has already rejected unknown hosts
      this.vms.push(
        new GpuPassthroughVm(this, v.name, {
          host,
          name: v.name,
          gpus: typeof v.gpus === "number" ? undefined : v.gpus,
          gpuCount: typeof v.gpus === "number" ? v.gpus : undefined,
          cpus: v.cpus,
          coresPerSocket: v.coresPerSocket,
          memoryGib: v.memoryGib,
          firmware: v.firmware,
          secureBoot: v.secureBoot,
          mmioSizeGb: v.mmioSizeGb,
          hideHypervisor: v.hideHypervisor,
          vsphere: this.vsphereOptions(v),
        }),
      );
    }
  }

  private vsphereOptions(v: FleetVm): VsphereVmOptions {
    const { customize, ...rest } = v.vsphere;
    if (!customize?.windows) return { ...rest, customize };
    const { adminPasswordVariable, ...windows } = customize.windows;
    return {
      ...rest,
      customize: {
        ...customize,
        windows: {
          ...windows,
          adminPassword: adminPasswordVariable
            ? this.credential(
                adminPasswordVariable,
                `Administrator password of Windows VMs (TF_VAR_${adminPasswordVariable})`,
              )
            : undefined,
        },
      },
    };
  }

  /** A sensitive variable with no value in the output: set by TF_VAR_<name>, or left null for the provider's env. */
  private credential(name: string, description: string): string {
    const existing = this.node.tryFindChild(name) as TerraformVariable | undefined;
    if (existing) return existing.stringValue;
    const variable = new TerraformVariable(this, name, {
      type: "string",
      sensitive: true,
      nullable: true,
      description,
    });
    variable.addOverride("default", null);
    return variable.stringValue;
  }
}
