/** vSphere as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import { FleetFragments, HypervisorPlugin, loadedOnUse } from "../plugin";
import type { VsphereFleetHost, VsphereFleetSite, VsphereFleetVm } from "./fleet";
import { VSPHERE_LIMITS } from "./limits";
import { vspherePlanReading } from "./plan-reading";

// Loaded on first use (see loadedOnUse): the fleet fragments need zod, the site binding cdktf and the provider bindings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = loadedOnUse(() => require("./site") as typeof import("./site"));

const fleet = loadedOnUse((): FleetFragments<VsphereFleetSite, VsphereFleetHost, VsphereFleetVm> => ({
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ...(require("./fleet") as typeof import("./fleet")).VSPHERE_FLEET,
  bindSite: (scope, s) => site().bindVsphereSite(scope, s),
}));

export const VSPHERE: HypervisorPlugin = {
  kind: "vsphere",
  title: "vSphere",
  limits: VSPHERE_LIMITS,
  get fleet() {
    return fleet();
  },
  plan: vspherePlanReading,
};
