/** Proxmox VE as a plug-in of the core: its fleet fragments, its limits, how the report reads its plans, and its site binding (loaded when used). */
import type { FleetFragments, HypervisorPlugin } from "../plugin";
import { PROXMOX_FLEET, ProxmoxFleetHost, ProxmoxFleetSite, ProxmoxFleetVm } from "./fleet";
import { PROXMOX_LIMITS } from "./limits";
import { proxmoxPlanReading } from "./plan-reading";

/** The site binding, loaded on first use: it loads cdktf and the provider bindings, which reading a fleet does not need. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const site = () => require("./site") as typeof import("./site");

const fleet: FleetFragments<ProxmoxFleetSite, ProxmoxFleetHost, ProxmoxFleetVm> = {
  ...PROXMOX_FLEET,
  bindSite: (scope, s) => site().bindProxmoxSite(scope, s),
};

export const PROXMOX: HypervisorPlugin = {
  kind: "proxmox",
  title: "Proxmox VE",
  limits: PROXMOX_LIMITS,
  fleet,
  plan: proxmoxPlanReading,
};
