/**
 * How the report reads libvirt's resources in a plan (dmacvicar/libvirt 0.9.7):
 *
 * - `libvirt_domain`: name and type force a replacement; the provider applies any other change by redefining the
 *   domain, which stops and restarts it.
 * - `libvirt_volume`: the provider has no update ("Update Not Supported" at apply); name and pool force a
 *   replacement, so any other changed setting in an update fails, and the plan must replace the volume instead.
 */
import { field, hasTrue, isObject, one, sortedUnique } from "../../plan-values";
import type { AttributeChange, ChangeReading, PlanReading, ResourceChangeView } from "../plan-reading";

const LIBVIRT_DOMAIN = "libvirt_domain";
const LIBVIRT_VOLUME = "libvirt_volume";

/**
 * libvirt_volume attributes with RequiresReplace: a change to one plans a replacement and never reaches the update
 * the provider lacks, so in an update they are not what fails.
 */
const VOLUME_REPLACED_ON_CHANGE: readonly string[] = ["name", "pool"];

function classifyVolumeUpdate(
  rc: ResourceChangeView,
  attributes: readonly AttributeChange[],
): ChangeReading | undefined {
  // Computed values (id, path) that become unknown follow from a rename; only set values decide.
  const set = attributes.filter((a) => !a.knownAfterApply).map((a) => a.path.split(".")[0]);
  const fixed = [...new Set(set)].filter((n) => !VOLUME_REPLACED_ON_CHANGE.includes(n));
  if (!fixed.length) return undefined;
  return {
    kind: "unsupported-update",
    why:
      `provider 0.9.7 cannot update ${fixed.join(", ")} of a volume ("Update Not Supported" at apply): ` +
      `plan again with -replace=${rc.address} (or terraform taint ${rc.address})`,
  };
}

/** The hostdevs' PCI source addresses of a domain. */
function pciFunctions(values: unknown, unknown?: unknown): string[] | undefined {
  if (!isObject(values)) return undefined;
  if (hasTrue(field(field(unknown, "devices"), "hostdevs"))) return undefined;
  const hostdevs = field(one(values.devices), "hostdevs");
  if (!Array.isArray(hostdevs)) return [];
  return sortedUnique(
    hostdevs.flatMap((h) => {
      const address = one(field(one(field(one(field(h, "subsys_pci")), "source")), "address"));
      const text = isObject(address) ? libvirtAddress(address) : undefined;
      return text ? [text] : [];
    }),
  );
}

/** `{domain: 0, bus: 11, slot: 0, function: 1}` → `0000:0b:00.1`. */
function libvirtAddress(a: Record<string, unknown>): string | undefined {
  const n = (k: string) =>
    typeof a[k] === "number" ? (a[k] as number) : typeof a[k] === "string" ? Number(a[k]) : NaN;
  const [domain, bus, slot, fn] = ["domain", "bus", "slot", "function"].map(n);
  if (![domain, bus, slot, fn].every((x) => Number.isInteger(x) && x >= 0)) return undefined;
  const hex = (x: number, w: number) => x.toString(16).padStart(w, "0");
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn}`;
}

export const libvirtPlanReading: PlanReading = {
  resources: [
    {
      type: LIBVIRT_DOMAIN,
      shownValues: ["name", "type", "vcpu", "memory", "memory_unit", "running", "autostart"],
      classifyUpdate: (_rc, _attributes, list) => ({
        kind: "reboot",
        why: `provider 0.9.7 applies any domain change (here ${list}) by redefining the domain: it stops and restarts it`,
      }),
      pciFunctions,
    },
    { type: LIBVIRT_VOLUME, shownValues: ["name", "pool", "capacity"], classifyUpdate: classifyVolumeUpdate },
  ],
  mmioSetting: (sizeGb) => `OVMF X-PciMmio64Mb=${sizeGb * 1024}`,
  memoryWhy:
    "all guest memory locked on the host: the GPU reads and writes guest memory by DMA, so VFIO pins all of it",
};
