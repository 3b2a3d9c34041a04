/** Proxmox VE as a plug-in of the core: its fleet fragments, its limits and how the report reads its plans. */
import type { HypervisorPlugin } from "../plugin";
import { PROXMOX_FLEET } from "./fleet";
import { PROXMOX_LIMITS } from "./limits";
import { proxmoxPlanReading } from "./plan-reading";

export const PROXMOX: HypervisorPlugin = {
  kind: "proxmox",
  title: "Proxmox VE",
  limits: PROXMOX_LIMITS,
  fleet: PROXMOX_FLEET,
  plan: proxmoxPlanReading,
};
