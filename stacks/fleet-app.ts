/** Builds the fleet's stacks: one per site, or one per host where a site asks for it (see lib/fleet/layout.ts). */
import { Construct } from "constructs";
import { stackLayout } from "../lib/fleet/layout";
import { Fleet } from "../lib/fleet/schema";
import { LibvirtSiteStack } from "./libvirt-site-stack";
import { SiteStack } from "./site-stack";
import { VsphereSiteStack } from "./vsphere-site-stack";

export function buildFleetStacks(scope: Construct, fleet: Fleet): SiteStack[] {
  const built = new Set<string>();
  // A second stack of one name is skipped: the fleet loader has reported the clash, and cdktf would throw.
  return stackLayout(fleet).flatMap((plan) => {
    if (built.has(plan.name)) return [];
    built.add(plan.name);
    const names = new Set(plan.hosts.map((h) => h.name));
    const props = { plan, vms: fleet.vms.filter((v) => names.has(v.host)) };
    return [plan.site.libvirt ? new LibvirtSiteStack(scope, props) : new VsphereSiteStack(scope, props)];
  });
}
