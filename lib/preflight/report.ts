/**
 * Preflight as a whole: read the host, run the host-wide checks and, given a fleet host entry, the fleet checks, and
 * return one plain, JSON-ready report. `--json` prints it as is; the table is drawn from it.
 */
import { FleetHost, FleetVm } from "../fleet/schema";
import { Finding, Severity, hostFindings, unplannedGpuFindings } from "./checks";
import { fleetFindings } from "./fleet-checks";
import { HostPrep } from "./host-prep";
import { HostDevice, HostInventory } from "./inventory";
import { Bar } from "./sysfs";

export interface DeviceReport {
  readonly address: string;
  readonly class: string;
  readonly classCode: string | null;
  readonly vendorId: string | null;
  readonly deviceId: string | null;
  readonly driver: string | null;
  /** The device's `driver` link does not resolve to a PCI driver: `driver` null means unknown, not none. */
  readonly driverUnreadable: boolean;
  readonly bootVga: boolean | null;
  readonly resetMethods: readonly string[] | null;
  readonly bars: readonly Bar[] | null;
  readonly iommuGroup: number | null;
}

export interface GpuReport {
  readonly address: string;
  readonly vendorId: string | null;
  readonly deviceId: string | null;
  readonly model: { readonly id: string; readonly name: string } | null;
  readonly alsoMatches: readonly string[];
  readonly functions: readonly string[];
  readonly iommuGroups: readonly number[];
  readonly isolation: "isolated" | "shared" | "unknown";
  /** Devices of its groups that stop it from being passed alone. */
  readonly sharedWith: readonly string[];
  readonly driver: string | null;
  readonly bootVga: boolean;
  /** The NUMA node of its PCIe root; null where sysfs reads -1 or nothing. */
  readonly numaNode: number | null;
  readonly barsMib: readonly number[] | null;
  readonly mmio: { readonly mappedMib: number; readonly needs64BitMmio: boolean; readonly sizeGb: number };
}

export interface PreflightReport {
  readonly root: string;
  /** The fleet host entry the host was checked against, if any. */
  readonly fleetHost: string | null;
  /** False when any finding is a blocker. */
  readonly ready: boolean;
  readonly summary: { readonly blockers: number; readonly warnings: number; readonly info: number };
  readonly host: {
    readonly hostname: string | null;
    readonly kernelRelease: string | null;
    readonly cpu: HostInventory["cpu"];
    readonly cmdline: string | null;
    readonly iommu: HostInventory["iommu"];
    readonly vfioPciLoaded: boolean;
  };
  readonly groups: readonly { readonly id: number; readonly devices: readonly DeviceReport[] }[];
  /** Every PCI device, in address order, whether or not it has a group. */
  readonly devices: readonly DeviceReport[];
  readonly gpus: readonly GpuReport[];
  /** With a fleet: kernel arguments and modprobe lines for the guest GPUs. */
  readonly hostPrep: HostPrep | null;
  /** Blockers first, then warnings, then info. */
  readonly findings: readonly Finding[];
}

const ORDER: Record<Severity, number> = { blocker: 0, warning: 1, info: 2 };

/** @param vms the fleet's VMs, with `fleetHost`: what they need of the host (huge pages, NUMA, boot VGA) is checked */
export function preflightReport(
  inv: HostInventory,
  fleetHost?: FleetHost,
  vms: readonly FleetVm[] = [],
): PreflightReport {
  const fleet = fleetHost ? fleetFindings(inv, fleetHost, vms) : undefined;
  const findings = [...hostFindings(inv), ...(fleet ? fleet.findings : unplannedGpuFindings(inv))]
    .map((f, i) => ({ f, i }))
    .sort((a, b) => ORDER[a.f.severity] - ORDER[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const devices = inv.devices.map(deviceReport);
  const byAddress = new Map(devices.map((d) => [d.address, d]));

  return {
    root: inv.root,
    fleetHost: fleetHost?.name ?? null,
    ready: count("blocker") === 0,
    summary: { blockers: count("blocker"), warnings: count("warning"), info: count("info") },
    host: {
      hostname: inv.hostname ?? null,
      kernelRelease: inv.kernelRelease ?? null,
      cpu: inv.cpu,
      cmdline: inv.kernel.cmdline ?? null,
      iommu: inv.iommu,
      vfioPciLoaded: inv.vfioPciLoaded,
    },
    groups: inv.groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((a) => byAddress.get(a) ?? deviceReport({ address: a, className: "not in /sys/bus/pci" })),
    })),
    devices,
    gpus: inv.gpus.map((g) => ({
      address: g.address,
      vendorId: g.vendorId ?? null,
      deviceId: g.deviceId ?? null,
      model: g.model ?? null,
      alsoMatches: g.alsoMatches,
      functions: g.functions.map((f) => f.address),
      iommuGroups: g.isolation.groups,
      isolation: g.isolation.verdict,
      sharedWith: g.isolation.blockers.map((b) => b.address),
      driver: g.driver ?? null,
      bootVga: g.bootVga,
      numaNode: g.numaNode ?? null,
      barsMib: g.barsMib ?? null,
      mmio: { mappedMib: g.mmio.totalMib, needs64BitMmio: g.mmio.needs64BitMmio, sizeGb: g.mmio.sizeGb },
    })),
    hostPrep: fleet?.hostPrep ?? null,
    findings,
  };
}

function deviceReport(d: HostDevice): DeviceReport {
  return {
    address: d.address,
    class: d.className,
    classCode: d.classCode ?? null,
    vendorId: d.vendorId ?? null,
    deviceId: d.deviceId ?? null,
    driver: d.driver ?? null,
    driverUnreadable: d.driverUnreadable === true,
    bootVga: d.bootVga ?? null,
    resetMethods: d.resetMethods ?? null,
    bars: d.bars ?? null,
    iommuGroup: d.iommuGroup ?? null,
  };
}
