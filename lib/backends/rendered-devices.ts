/**
 * The rule every backend applies to its rendered VM resource, after escape-hatch overrides: the PCI functions the
 * resource passes are the ones the VM holds. An override that empties or edits the device list would deploy a VM
 * without its GPU (or with another VM's) while the manifest and the report still show the allocation.
 */
import type { DerivedVm } from "../derive";
import type { Problem } from "../problems";

const ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/**
 * `rendered` is what the backend's plan reading finds in the resource's values (sorted addresses, plus entries it
 * cannot name, such as a vSphere lookup's id); `attribute` names where the devices are, for the fix.
 */
export function renderedDeviceProblems(
  subject: string,
  derived: Pick<DerivedVm, "pciFunctions" | "pciDeviceCount">,
  rendered: readonly string[] | undefined,
  attribute: string,
): Problem[] {
  if (rendered === undefined) return [];
  const held = derived.pciFunctions.map(String);
  const addresses = rendered.filter((r) => ADDRESS.test(r));
  const missing = held.filter((a) => !addresses.includes(a));
  const extra = addresses.filter((a) => !held.includes(a));
  if (!missing.length && !extra.length && rendered.length === derived.pciDeviceCount) return [];
  const what = [
    missing.length ? `lacks ${missing.join(", ")}` : "",
    extra.length ? `passes ${extra.join(", ")}, which it does not hold` : "",
    !missing.length && !extra.length ? `passes ${rendered.length} device(s) for ${derived.pciDeviceCount}` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  return [
    {
      subject,
      message: `its ${attribute} ${what}: an escape-hatch override changed the PCI devices the VM's GPUs give it`,
      fix: `remove the override of ${attribute}; choose GPUs with gpus or gpuCount (all functions of a GPU go together)`,
    },
  ];
}
