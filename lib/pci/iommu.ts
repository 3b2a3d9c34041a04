/**
 * IOMMU groups: the smallest sets of PCI functions the IOMMU can isolate from each other. VFIO hands a guest whole
 * groups, so every function in a passed GPU's group must go to the same VM, except PCI bridges, which stay with
 * the host. `ls /sys/kernel/iommu_groups/<n>/devices` (or `gpu-passthrough discover`) lists them.
 */
import { PciAddress } from "./address";

/** One IOMMU group as the host reports it. */
export interface IommuGroupProps {
  /** The group number, the directory name under /sys/kernel/iommu_groups. */
  readonly id: number;
  /** Every PCI function in the group that is not a bridge, e.g. `["0000:0b:00.0", "0000:0b:00.1"]`. */
  readonly devices: readonly string[];
  /**
   * PCI bridges (class 0604) in the group; they stay with the host and do not break isolation.
   * @default []
   */
  readonly bridges?: readonly string[];
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
    const parse = (texts: readonly string[] | undefined, field: string): PciAddress[] =>
      (texts ?? []).flatMap((text, j) => {
        const address = PciAddress.tryParse(text);
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
  const unknown = passed.filter((a) => !groupOf(groups, a));
  const touched = groups.filter((g) => passed.some((a) => g.devices.some((d) => d.equals(a))));
  const siblings = touched
    .map((g) => ({ group: g.id, devices: g.devices.filter((d) => !passed.some((a) => a.equals(d))) }))
    .filter((s) => s.devices.length > 0);
  return { unknown, siblings };
}
