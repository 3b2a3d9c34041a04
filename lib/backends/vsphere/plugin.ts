/** vSphere as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import type { FleetFragments, HypervisorPlugin } from "../plugin";
import { VSPHERE_FLEET, VsphereFleetHost, VsphereFleetSite, VsphereFleetVm } from "./fleet";
import { VSPHERE_LIMITS } from "./limits";
import { vspherePlanReading } from "./plan-reading";

/** The site binding, loaded on first use: it loads cdktf and the provider bindings, which reading a fleet does not need. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = () => require("./site") as typeof import("./site");

const fleet: FleetFragments<VsphereFleetSite, VsphereFleetHost, VsphereFleetVm> = {
  ...VSPHERE_FLEET,
  bindSite: (scope, s) => site().bindVsphereSite(scope, s),
};

export const VSPHERE: HypervisorPlugin = {
  kind: "vsphere",
  title: "vSphere",
  limits: VSPHERE_LIMITS,
  fleet,
  plan: vspherePlanReading,
};
