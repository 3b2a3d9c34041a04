/** vSphere as a plug-in of the core: its fleet fragments, its limits and how the report reads its plans. */
import type { HypervisorPlugin } from "../plugin";
import { VSPHERE_FLEET } from "./fleet";
import { VSPHERE_LIMITS } from "./limits";
import { vspherePlanReading } from "./plan-reading";

export const VSPHERE: HypervisorPlugin = {
  kind: "vsphere",
  title: "vSphere",
  limits: VSPHERE_LIMITS,
  fleet: VSPHERE_FLEET,
  plan: vspherePlanReading,
};
