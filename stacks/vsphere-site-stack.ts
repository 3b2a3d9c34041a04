/** A vSphere site's stack: the provider for its vCenter, its ESXi hosts and their GPU VMs. */
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { Annotations } from "cdktf";
import { Construct } from "constructs";
import { VsphereBackend } from "../lib/backends/vsphere/vsphere-backend";
import { VsphereVmOptions } from "../lib/backends/vsphere/vm-options";
import { FleetHost, FleetVm } from "../lib/fleet/schema";
import { escapeTemplate } from "../lib/terraform-literal";
import { SiteStack, SiteStackProps } from "./site-stack";

export class VsphereSiteStack extends SiteStack {
  public readonly provider: VsphereProvider;
  private readonly datacenter: string;

  constructor(scope: Construct, props: SiteStackProps) {
    super(scope, props);
    const { site } = props.plan;
    const vsphere = site.vsphere ?? { server: "", datacenter: "" }; // the loader guarantees it for vSphere sites
    this.datacenter = vsphere.datacenter;
    this.provider = new VsphereProvider(this, "vsphere", {
      vsphereServer: escapeTemplate(vsphere.server),
      user: this.credential("vsphere_user", "vCenter user name; unset, the provider reads VSPHERE_USER"),
      password: this.credential("vsphere_password", "vCenter password; unset, the provider reads VSPHERE_PASSWORD"),
      allowUnverifiedSsl: vsphere.allowUnverifiedSsl,
    });
    if (vsphere.allowUnverifiedSsl) {
      Annotations.of(this.provider).addWarning(
        `site "${site.name}": allowUnverifiedSsl is on, so the vCenter certificate of ${vsphere.server} is not checked; turn it off once vCenter has a trusted certificate`,
      );
    }
    this.build(props);
  }

  protected backendFor(h: FleetHost): VsphereBackend {
    return new VsphereBackend({
      datacenter: this.datacenter,
      datastore: h.datastore,
      network: h.network,
      enableDirectPath: h.enableDirectPath,
    });
  }

  protected vmOptions(v: FleetVm): { vsphere: VsphereVmOptions } {
    const { customize, ...rest } = v.vsphere ?? { template: "" };
    if (!customize?.windows) return { vsphere: { ...rest, customize } };
    const { adminPasswordVariable, ...windows } = customize.windows;
    return {
      vsphere: {
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
      },
    };
  }
}
