/**
 * The fleet's declared IOMMU groups against the host's real ones. A KVM host's entry declares its groups
 * (`libvirt.iommuGroups`, `proxmox.iommuGroups`) because synth cannot see the host: the isolation rule
 * (lib/pci/iommu.ts) judges each VM's GPUs by them. A declaration that differs from /sys/kernel/iommu_groups makes
 * that judgement wrong, so each difference is reported with the host's group to paste instead.
 */
import { PciAddress } from "../pci/address";
import type { IommuGroupProps } from "../pci/iommu";
import { Finding } from "./checks";
import { HostDevice, HostInventory, describeDevice } from "./inventory";
import { isBridge } from "./pci-class";

/** Where an entry declares its groups (`libvirt.iommuGroups`), and the groups. */
export interface DeclaredGroups {
  readonly field: string;
  readonly groups: readonly IommuGroupProps[];
}

/** The host entry's declared groups, under whichever hypervisor block holds them; undefined when it has none. */
export function declaredGroupsOf(host: Readonly<Record<string, unknown>>): DeclaredGroups | undefined {
  for (const [key, value] of Object.entries(host)) {
    const groups = (value as { iommuGroups?: unknown } | null)?.iommuGroups;
    if (typeof value === "object" && Array.isArray(groups)) {
      return { field: `${key}.iommuGroups`, groups: groups as IommuGroupProps[] };
    }
  }
  return undefined;
}

interface RealGroup {
  readonly id: number;
  readonly members: readonly string[];
}

/**
 * Compares each declared group with the host's, and looks for guest GPU functions whose group is not declared.
 * @param guestFunctions the functions of the entry's guest GPUs found on the host
 */
export function declaredGroupFindings(
  inv: HostInventory,
  declared: DeclaredGroups,
  guestFunctions: readonly HostDevice[],
): Finding[] {
  if (!inv.iommu.active) {
    return [
      {
        severity: "info",
        code: "iommu-groups-unchecked",
        subject: declared.field,
        message: "the declared IOMMU groups were not compared with the host's: the host has no IOMMU groups",
        fix: "turn the IOMMU on (see the iommu-off finding), then run preflight again",
      },
    ];
  }
  const real: RealGroup[] = inv.groups.map((g) => ({ id: g.id, members: g.devices }));
  const byAddress = new Map(inv.devices.map((d) => [d.address, d]));
  const homeOf = new Map(real.flatMap((g) => g.members.map((a) => [a, g.id] as const)));
  const findings = declared.groups.flatMap((group, i) =>
    groupFindings(`${declared.field}[${i}]`, group, real, byAddress, homeOf),
  );

  // A real group counts as declared when a declared group has its number or one of its members (a declaration that
  // differs is reported above, not again here).
  const declaredMembers = declared.groups.flatMap((g) => [...g.devices, ...(g.bridges ?? [])].map(canonical));
  const covered = new Set([...declared.groups.map((g) => g.id), ...declaredMembers.map((a) => homeOf.get(a))]);
  const undeclared = [
    ...new Set(guestFunctions.map((f) => homeOf.get(f.address)).filter((id) => id !== undefined && !covered.has(id))),
  ];
  for (const id of undeclared) {
    const group = real.find((g) => g.id === id);
    if (!group) continue;
    const fns = guestFunctions.filter((f) => homeOf.get(f.address) === id).map((f) => f.address);
    findings.push({
      severity: "warning",
      code: "iommu-group-undeclared",
      subject: declared.field,
      message:
        `the host's IOMMU group ${id} holds ${fns.join(", ")} of a guest GPU, but ${declared.field} does not ` +
        "declare it: synth cannot judge the GPU's isolation",
      fix: `add ${entryText(group, byAddress)} to ${declared.field} (gpu-passthrough discover --libvirt prints it)`,
    });
  }
  return findings;
}

function groupFindings(
  subject: string,
  group: IommuGroupProps,
  real: readonly RealGroup[],
  byAddress: ReadonlyMap<string, HostDevice>,
  homeOf: ReadonlyMap<string, number>,
): Finding[] {
  const devices = group.devices.map(canonical);
  const bridges = (group.bridges ?? []).map(canonical);
  const members = [...devices, ...bridges];
  // The host's group to compare with: the one with the declared number, unless the declared members live elsewhere.
  const homes = [...new Set(members.map((a) => homeOf.get(a)).filter((id): id is number => id !== undefined))];
  const sameId = real.find((g) => g.id === group.id);
  const target =
    sameId && members.some((a) => homeOf.get(a) === sameId.id)
      ? sameId
      : homes.length === 1
        ? real.find((g) => g.id === homes[0])
        : sameId;
  const describe = (a: string) => {
    const d = byAddress.get(a);
    return d ? describeDevice(d) : a;
  };
  const bridgeOnHost = (a: string) => isBridge(byAddress.get(a)?.classCode);

  const blocking: string[] = [];
  const minor: string[] = [];
  for (const a of members) {
    const home = homeOf.get(a);
    const list = bridgeOnHost(a) ? minor : blocking;
    if (home === undefined) {
      (byAddress.has(a) ? list : blocking).push(
        byAddress.has(a)
          ? `${describe(a)} is declared, but the host puts it in no IOMMU group`
          : `${a} is declared, but the host has no PCI device at that address`,
      );
    } else if (home !== target?.id) list.push(`${describe(a)} is declared here, but the host has it in group ${home}`);
  }
  for (const a of target?.members ?? []) {
    if (members.includes(a)) continue;
    (bridgeOnHost(a) ? minor : blocking).push(
      `${describe(a)} is in the host's group ${target?.id} but not declared${bridgeOnHost(a) ? " (a bridge)" : ""}`,
    );
  }
  for (const a of devices.filter((d) => byAddress.has(d) && bridgeOnHost(d))) {
    minor.push(`${describe(a)} is declared under devices, but it is a bridge (bridges stay with the host)`);
  }
  for (const a of bridges.filter((b) => byAddress.has(b) && !bridgeOnHost(b))) {
    blocking.push(
      `${describe(a)} is declared under bridges, but it is not a bridge: it must go to the VM with the GPU`,
    );
  }

  const renumbered = target && target.id !== group.id;
  if (!blocking.length && !minor.length && !renumbered) return [];
  const hostEntry = target ? entryText(target, byAddress) : undefined;
  const fix = hostEntry
    ? `replace it with the host's group: ${hostEntry} (gpu-passthrough discover --libvirt prints the groups of the ` +
      "host's GPUs)"
    : "remove the group, or correct its addresses (lspci -D lists the host's devices; gpu-passthrough discover " +
      "--libvirt prints the groups of the host's GPUs)";
  const declaredText = `declared as ${entryText({ id: group.id, members }, byAddress, { devices, bridges })}`;
  if (!blocking.length && !minor.length) {
    return [
      {
        severity: "warning",
        code: "iommu-group-renumbered",
        subject,
        message: `group ${group.id} has the same members on the host, which numbers it ${target?.id}`,
        fix: `set id: ${target?.id} (group numbers change with the firmware, the kernel and the slots in use)`,
      },
    ];
  }
  const differences = [...blocking, ...minor, ...(renumbered ? [`the host numbers the group ${target?.id}`] : [])];
  return [
    {
      severity: blocking.length ? "blocker" : "warning",
      code: "iommu-group-mismatch",
      subject,
      message:
        `group ${group.id} differs from the host's ${target ? `group ${target.id}` : "groups"}: ` +
        `${differences.join("; ")}. ${declaredText}; ` +
        (blocking.length
          ? "the isolation check at synth reads the declared groups, so it judged this GPU wrongly"
          : "only bridges differ, which the isolation check lets stay with the host"),
      fix,
    },
  ];
}

/** `{ id: 14, devices: ["0000:0b:00.0"], bridges: ["0000:00:01.0"] }`, the fleet file's flow form. */
function entryText(
  group: RealGroup,
  byAddress: ReadonlyMap<string, HostDevice>,
  split?: { devices: readonly string[]; bridges: readonly string[] },
): string {
  const bridges = split?.bridges ?? group.members.filter((a) => isBridge(byAddress.get(a)?.classCode));
  const devices = split?.devices ?? group.members.filter((a) => !bridges.includes(a));
  const list = (xs: readonly string[]) => `[${xs.map((x) => `"${x}"`).join(", ")}]`;
  return `{ id: ${group.id}, devices: ${list(devices)}${bridges.length ? `, bridges: ${list(bridges)}` : ""} }`;
}

function canonical(address: string | PciAddress): string {
  const parsed = typeof address === "string" ? PciAddress.tryParse(address) : address;
  return typeof parsed === "string" ? String(address) : parsed.toString();
}
