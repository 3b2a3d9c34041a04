/** libvirt/KVM as a plug-in of the core: its fleet fragments, its limits and how the report reads its plans. */
import type { HypervisorPlugin } from "../plugin";
import { LIBVIRT_FLEET } from "./fleet";
import { KVM_LIMITS } from "./libvirt-backend";
import { libvirtPlanReading } from "./plan-reading";

export const LIBVIRT: HypervisorPlugin = {
  kind: "libvirt",
  title: "libvirt",
  limits: KVM_LIMITS,
  fleet: LIBVIRT_FLEET,
  plan: libvirtPlanReading,
};
