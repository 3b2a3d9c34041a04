/**
 * The hypervisors' plan readings (lib/backends/<kind>/plan-reading.ts) from the registry, by resource type and by
 * backend kind: the report asks them what a provider decides, and names no hypervisor itself.
 */
import type { PlanReading, ResourceReading } from "../backends/plan-reading";
import { HYPERVISORS, hypervisorOf } from "../backends/registry";

const BY_TYPE: ReadonlyMap<string, { kind: string; reading: ResourceReading }> = (() => {
  const byType = new Map<string, { kind: string; reading: ResourceReading }>();
  for (const { kind, plan } of HYPERVISORS) {
    for (const reading of plan.resources) {
      const other = byType.get(reading.type);
      // Two readings of one type would make the report's answer depend on the registry's order.
      if (other) {
        throw new Error(
          `resource type ${reading.type} is read by both the ${other.kind} and the ${kind} plug-in: ` +
            "keep it in the plan reading of the hypervisor whose provider defines it",
        );
      }
      byType.set(reading.type, { kind, reading });
    }
  }
  return byType;
})();

/** What a hypervisor's rules say of a resource type; undefined for a type no plug-in knows. */
export function resourceReading(type: string): ResourceReading | undefined {
  return BY_TYPE.get(type)?.reading;
}

/** Whether instances of `type` are GPU VMs. */
export function isVmType(type: string): boolean {
  return !!resourceReading(type)?.pciFunctions;
}

/** The plan reading of a backend kind (the manifest's `backend`); undefined for a kind no plug-in has. */
export function planReadingOf(kind: string): PlanReading | undefined {
  return hypervisorOf(kind)?.plan;
}

/**
 * The PCI functions a VM resource holds in a plan's before or after values, as `0000:3b:00.0`; undefined when the
 * values are absent (create/delete), not known until apply, or of a type that is no GPU VM.
 */
export function vmPciFunctions(type: string, values: unknown, unknown?: unknown): string[] | undefined {
  return resourceReading(type)?.pciFunctions?.(values, unknown);
}
