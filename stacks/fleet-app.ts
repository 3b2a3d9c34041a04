/** Builds one stack per fleet site. */
import { Construct } from "constructs";
import { Fleet } from "../lib/fleet/schema";
import { VsphereSiteStack } from "./vsphere-site-stack";

export function buildFleetStacks(scope: Construct, fleet: Fleet): VsphereSiteStack[] {
  return fleet.sites.map((site) => {
    const hosts = fleet.hosts.filter((h) => h.site === site.name);
    const names = new Set(hosts.map((h) => h.name));
    return new VsphereSiteStack(scope, { site, hosts, vms: fleet.vms.filter((v) => names.has(v.host)) });
  });
}
