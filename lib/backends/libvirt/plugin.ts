/** libvirt/KVM as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import type { FleetFragments, HypervisorPlugin } from "../plugin";
import { LIBVIRT_FLEET, LibvirtFleetHost, LibvirtFleetSite, LibvirtFleetVm } from "./fleet";
import { KVM_LIMITS } from "./limits";
import { libvirtPlanReading } from "./plan-reading";

/** The site binding, loaded on first use: it loads cdktf and the provider bindings, which reading a fleet does not need. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = () => require("./site") as typeof import("./site");

const fleet: FleetFragments<LibvirtFleetSite, LibvirtFleetHost, LibvirtFleetVm> = {
  ...LIBVIRT_FLEET,
  bindSite: (scope, _site, hosts) => site().bindLibvirtSite(scope, hosts),
};

export const LIBVIRT: HypervisorPlugin = {
  kind: "libvirt",
  title: "libvirt",
  limits: KVM_LIMITS,
  fleet,
  plan: libvirtPlanReading,
};
