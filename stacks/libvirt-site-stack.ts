/**
 * A libvirt site's stack: one libvirt provider per KVM host (its own connection URI), the hosts with their IOMMU
 * groups, and their GPU domains. Each host's preparation plan is written beside the stack (hosts/<host>/).
 */
import { Construct } from "constructs";
import { LibvirtProvider } from "../.gen/providers/libvirt/provider";
import { LibvirtBackend } from "../lib/backends/libvirt/libvirt-backend";
import { LibvirtVmOptions } from "../lib/backends/libvirt/vm-options";
import { FleetHost, FleetVm } from "../lib/fleet/schema";
import { terraformName } from "../lib/fleet/layout";
import { SiteStack, SiteStackProps } from "./site-stack";

export const DEFAULT_LIBVIRT_URI = "qemu:///system";

export class LibvirtSiteStack extends SiteStack {
  /** The provider of each host, by host name. */
  public readonly providers = new Map<string, LibvirtProvider>();

  constructor(scope: Construct, props: SiteStackProps) {
    super(scope, props);
    for (const h of props.plan.hosts) {
      const name = terraformName(h.name);
      this.providers.set(
        h.name,
        new LibvirtProvider(this, `libvirt-${name}`, {
          alias: name,
          // A variable, so a URI with credentials can be given as TF_VAR_libvirt_uri_<host> and never be written.
          uri: this.credential(
            `libvirt_uri_${name}`,
            `libvirt connection URI of ${h.name} (TF_VAR_libvirt_uri_${name})`,
            h.libvirt?.uri ?? DEFAULT_LIBVIRT_URI,
          ),
        }),
      );
    }
    this.build(props);
  }

  protected backendFor(h: FleetHost): LibvirtBackend {
    const l = h.libvirt ?? { cpuVendor: "intel" as const, iommuGroups: [] }; // the loader guarantees it
    return new LibvirtBackend({
      provider: this.providers.get(h.name),
      cpuVendor: l.cpuVendor,
      distro: l.distro,
      ovmf: l.ovmf,
      pool: l.pool,
      network: l.network,
      iommuGroups: l.iommuGroups,
    });
  }

  protected vmOptions(v: FleetVm): { libvirt: LibvirtVmOptions } {
    return { libvirt: v.libvirt ?? { baseImage: "" } };
  }
}
