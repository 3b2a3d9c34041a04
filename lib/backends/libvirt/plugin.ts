/** libvirt/KVM as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import { FleetFragments, HypervisorPlugin, loadedOnUse } from "../plugin";
import type { LibvirtFleetHost, LibvirtFleetSite, LibvirtFleetVm } from "./fleet";
import { KVM_LIMITS } from "./limits";
import { libvirtPlanReading } from "./plan-reading";

// Loaded on first use (see loadedOnUse): the fleet fragments need zod, the site binding cdktf and the provider bindings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = loadedOnUse(() => require("./site") as typeof import("./site"));

const fleet = loadedOnUse((): FleetFragments<LibvirtFleetSite, LibvirtFleetHost, LibvirtFleetVm> => ({
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ...(require("./fleet") as typeof import("./fleet")).LIBVIRT_FLEET,
  bindSite: (scope, _site, hosts) => site().bindLibvirtSite(scope, hosts),
}));

export const LIBVIRT: HypervisorPlugin = {
  kind: "libvirt",
  title: "libvirt",
  limits: KVM_LIMITS,
  get fleet() {
    return fleet();
  },
  plan: libvirtPlanReading,
};
