/** Proxmox VE as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import { FleetFragments, HypervisorPlugin, loadedOnUse } from "../plugin";
import type { ProxmoxFleetHost, ProxmoxFleetSite, ProxmoxFleetVm } from "./fleet";
import { PROXMOX_LIMITS } from "./limits";
import { proxmoxPlanReading } from "./plan-reading";

// Loaded on first use (see loadedOnUse): the fleet fragments need zod, the site binding cdktf and the provider bindings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = loadedOnUse(() => require("./site") as typeof import("./site"));

const fleet = loadedOnUse((): FleetFragments<ProxmoxFleetSite, ProxmoxFleetHost, ProxmoxFleetVm> => ({
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ...(require("./fleet") as typeof import("./fleet")).PROXMOX_FLEET,
  bindSite: (scope, s) => site().bindProxmoxSite(scope, s),
}));

export const PROXMOX: HypervisorPlugin = {
  kind: "proxmox",
  title: "Proxmox VE",
  limits: PROXMOX_LIMITS,
  get fleet() {
    return fleet();
  },
  plan: proxmoxPlanReading,
};
