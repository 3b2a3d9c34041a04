/**
 * IOMMU groups: the smallest sets of PCI functions the IOMMU can isolate from each other. VFIO hands a guest whole
 * groups, so every function in a passed GPU's group must go to the same VM, except PCI bridges, which stay with
 * the host. `ls /sys/kernel/iommu_groups/<n>/devices` (or `gpu-passthrough discover`) lists them. The rule is here
 * once: the backends check declared groups with it, preflight the host's own.
 */
import { PciAddress } from "./address";

/** One IOMMU group as the host reports it. */
export interface IommuGroupProps {
  /** The group number, the directory name under /sys/kernel/iommu_groups. */
  readonly id: number;
  /** Every PCI function in the group that is not a bridge, e.g. `["0000:0b:00.0", "0000:0b:00.1"]`. */
  readonly devices: readonly (string | PciAddress)[];
  /**
   * PCI bridges (class 0604) in the group; they stay with the host and do not break isolation.
   * @default []
   */
  readonly bridges?: readonly (string | PciAddress)[];
}

export interface IommuGroup {
  readonly id: number;
  readonly devices: readonly PciAddress[];
  readonly bridges: readonly PciAddress[];
}

/** What passing a set of functions to one VM would leave behind. */
export interface IsolationResult {
  /** Passed functions that are in no declared group: the inventory does not know them. */
  readonly unknown: readonly PciAddress[];
  /** Per group a passed function belongs to, its other non-bridge functions that the VM does not get. */
  readonly siblings: readonly { readonly group: number; readonly devices: readonly PciAddress[] }[];
}

/**
 * Parses declared groups; problems name the group and the bad value.
 * @param where how messages name the inventory, e.g. `host "ws-01" iommuGroups`
 */
export function parseIommuGroups(
  declared: readonly IommuGroupProps[],
  where: string,
): { groups: IommuGroup[]; problems: string[] } {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const groups = declared.map((g, i) => {
    const at = `${where}[${i}] (group ${g.id})`;
    if (!Number.isInteger(g.id) || g.id < 0) problems.push(`${at}: id ${g.id} is not a group number (0 or more)`);
    const parse = (given: readonly (string | PciAddress)[] | undefined, field: string): PciAddress[] =>
      (given ?? []).flatMap((text, j) => {
        const address = typeof text === "string" ? PciAddress.tryParse(text) : text;
        if (typeof address === "string") {
          problems.push(`${at}.${field}[${j}]: ${address}`);
          return [];
        }
        const other = seen.get(address.toString());
        if (other !== undefined) problems.push(`${at}: ${address} is also in group ${other}; a function has one group`);
        seen.set(address.toString(), g.id);
        return [address];
      });
    return { id: g.id, devices: parse(g.devices, "devices"), bridges: parse(g.bridges, "bridges") };
  });
  return { groups, problems };
}

/** The group holding this function, as a device or a bridge. */
export function groupOf(groups: readonly IommuGroup[], address: PciAddress): IommuGroup | undefined {
  return groups.find((g) => [...g.devices, ...g.bridges].some((d) => d.equals(address)));
}

/** Checks that passing `passed` to one VM hands over whole groups (bridges aside). */
export function checkIsolation(groups: readonly IommuGroup[], passed: readonly PciAddress[]): IsolationResult {
  const named = groups.map((g) => ({ id: g.id, devices: g.devices.map(String), bridges: g.bridges.map(String) }));
  const { unknown, siblings } = isolationOf(named, passed.map(String));
  const devices = new Map(groups.flatMap((g) => g.devices).map((a) => [a.toString(), a]));
  return {
    unknown: passed.filter((a) => unknown.includes(a.toString())),
    siblings: siblings.map((s) => ({ group: s.group, devices: s.devices.map((d) => devices.get(d) as PciAddress) })),
  };
}

/** One IOMMU group by device name: canonical addresses, or whatever sysfs calls a device whose name is not one. */
export interface NamedGroup {
  readonly id: number;
  /** Its functions that are not bridges. */
  readonly devices: readonly string[];
  readonly bridges: readonly string[];
}

/**
 * The isolation rule: a group is viable for a VM when every endpoint device in it (PCI bridges aside) goes to that
 * VM. Returns the passed functions no group holds, and per group a passed function is in, its other endpoint devices.
 */
export function isolationOf(
  groups: readonly NamedGroup[],
  passed: readonly string[],
): { unknown: string[]; siblings: { group: number; devices: string[] }[] } {
  const unknown = passed.filter((a) => !groups.some((g) => g.devices.includes(a) || g.bridges.includes(a)));
  const siblings = groups
    .filter((g) => passed.some((a) => g.devices.includes(a)))
    .map((g) => ({ group: g.id, devices: g.devices.filter((d) => !passed.includes(d)) }))
    .filter((s) => s.devices.length > 0);
  return { unknown, siblings };
}

/** How to fix a group that holds devices the VM does not get (`others`), in the order to try. */
export function isolationFix(others: readonly string[]): string {
  return (
    "move the card to a slot wired to the CPU (chipset slots share one group), or enable ACS in the BIOS if it offers " +
    `it; otherwise give ${others.join(", ")} to the same VM. pcie_acs_override=downstream,multifunction (patched ` +
    "kernels) splits the group but not the hardware: a last resort, at your own risk"
  );
}
