/**
 * The host model preflight reasons about: CPU, IOMMU, every PCI function with its IOMMU group, and the GPUs, each
 * grouped with its functions, matched against the catalog, and judged for isolation.
 */
import { GPU_CATALOG } from "../gpu/catalog";
import { GpuModel, mibFromBytes, modelDeviceIds } from "../gpu/model";
import { CpuVendor, cpuVendorOf } from "../host-prep/cpu";
import { MmioRequirement, requiredMmio } from "../mmio";
import { PciAddress } from "../pci/address";
import { isolationOf } from "../pci/iommu";
import { className, isBridge, isDisplay } from "./pci-class";
import { CpuTopology, NumaNode } from "../cpu-topology";
import {
  HostSnapshot,
  HugePageCounts,
  InterruptRemappingFacts,
  RawNumaNode,
  RawPciDevice,
  ReadProblem,
  readHostSnapshot,
} from "./sysfs";
import { compareText } from "../text";

export interface HostDevice extends RawPciDevice {
  /** `VGA controller`, `SATA controller`, ... */
  readonly className: string;
}

export interface GpuIsolation {
  /** `unknown` when the IOMMU is off: there are no groups to judge. */
  readonly verdict: "isolated" | "shared" | "unknown";
  readonly groups: readonly number[];
  /** Devices in the GPU's groups that are neither its functions nor bridges: they would have to go to the VM too. */
  readonly blockers: readonly HostDevice[];
}

export interface DetectedGpu {
  /** Address of the GPU's display function (function 0 on every card in the catalog). */
  readonly address: string;
  readonly vendorId?: string;
  readonly deviceId?: string;
  /** The catalog model with this vendor:device, when there is one. */
  readonly model?: { readonly id: string; readonly name: string };
  /** Other catalog models with the same ids (the A2 and the A16 share 10de:25b6). */
  readonly alsoMatches: readonly string[];
  /** Every function of the device on this host, function 0 first. */
  readonly functions: readonly HostDevice[];
  readonly isolation: GpuIsolation;
  readonly driver?: string;
  readonly bootVga: boolean;
  /** The NUMA node of its PCIe root; undefined where sysfs says -1 or nothing. */
  readonly numaNode?: number;
  /** Memory BARs of the display function in MiB (rounded up, as in the catalog), from sysfs. */
  readonly barsMib?: readonly number[];
  /** BARs the firmware left without an address (see {@link Bar.assigned}). */
  readonly unassignedBars: readonly number[];
  /** What this GPU alone asks of its VM's MMIO window, from the sysfs BARs (or the catalog's if unreadable). */
  readonly mmio: MmioRequirement;
}

export interface HostInventory {
  readonly root: string;
  readonly hostname?: string;
  readonly kernelRelease?: string;
  readonly cpu: {
    /** `other`: a vendor without a known IOMMU argument; `unknown`: /proc/cpuinfo gave none. */
    readonly vendor: CpuVendor | "other" | "unknown";
    readonly vendorId?: string;
    readonly modelName?: string;
    /** `vmx` (Intel VT-x) or `svm` (AMD-V); undefined when the CPU reports neither. */
    readonly virtualization?: "vmx" | "svm";
    /** The `hypervisor` flag: this "host" is itself a virtual machine. */
    readonly isVirtualMachine: boolean;
    /** The `pdpe1gb` flag: the CPU maps 1 GiB pages. */
    readonly gigabytePages: boolean;
  };
  readonly kernel: { readonly cmdline?: string; readonly args: readonly string[] };
  readonly iommu: { readonly active: boolean; readonly units: readonly string[]; readonly groupCount: number };
  readonly groups: readonly { readonly id: number; readonly devices: readonly string[] }[];
  readonly devices: readonly HostDevice[];
  readonly gpus: readonly DetectedGpu[];
  /** Whether the vfio-pci driver is registered (module loaded or built in). */
  readonly vfioPciLoaded: boolean;
  /** Driver name → kernel module, for modprobe.d lines (built-in drivers are absent). */
  readonly driverModules: Readonly<Record<string, string>>;
  readonly vendorResetLoaded: boolean;
  /**
   * NUMA nodes with their cores (SMT siblings together). A kernel without /sys/devices/system/node is one node 0
   * with every online cpu.
   */
  readonly numa: CpuTopology;
  /** Huge pages reserved host-wide, and per node (empty without node directories). */
  readonly hugepages: { readonly total: HugePageCounts; readonly nodes: readonly RawNumaNode[] };
  readonly hugetlbfsMounts: HostSnapshot["hugetlbfsMounts"];
  readonly interruptRemapping: InterruptRemappingFacts;
  /** Programs libvirt runs for guests (swtpm), when the root has /usr/bin. */
  readonly programs?: HostSnapshot["programs"];
  /** swtpm's local CA and the user libvirt runs swtpm_setup as. */
  readonly swtpmLocalCa?: HostSnapshot["swtpmLocalCa"];
  readonly readProblems: readonly ReadProblem[];
}

/** Reads and models the host under `root`. @throws HostReadError when root is not a Linux root with sysfs. */
export function readInventory(root: string): HostInventory {
  return buildInventory(readHostSnapshot(root));
}

export function buildInventory(snap: HostSnapshot): HostInventory {
  const groupOf = new Map<string, number>();
  for (const g of snap.iommuGroups) for (const a of g.devices) groupOf.set(canonical(a), g.id);

  const devices: HostDevice[] = snap.devices
    .map((d) => ({
      ...d,
      address: canonical(d.address),
      iommuGroup: d.iommuGroup ?? groupOf.get(canonical(d.address)),
      className: className(d.classCode),
    }))
    .sort((a, b) => compareText(a.address, b.address));

  const iommuActive = snap.iommuUnits.length > 0 || snap.iommuGroups.length > 0;
  const groups = snap.iommuGroups.map((g) => ({ id: g.id, devices: g.devices.map(canonical).sort() }));
  const flags = new Set(snap.cpu.flags);

  return {
    root: snap.root,
    hostname: snap.hostname,
    kernelRelease: snap.kernelRelease,
    cpu: {
      vendor: cpuVendorOf(snap.cpu.vendorId) ?? (snap.cpu.vendorId ? "other" : "unknown"),
      vendorId: snap.cpu.vendorId,
      modelName: snap.cpu.modelName,
      virtualization: flags.has("vmx") ? "vmx" : flags.has("svm") ? "svm" : undefined,
      isVirtualMachine: flags.has("hypervisor"),
      gigabytePages: flags.has("pdpe1gb"),
    },
    kernel: { cmdline: snap.cmdline, args: snap.cmdline?.split(/\s+/).filter(Boolean) ?? [] },
    iommu: { active: iommuActive, units: snap.iommuUnits, groupCount: groups.length },
    groups,
    devices,
    gpus: detectGpus(devices, groups, iommuActive),
    vfioPciLoaded: snap.pciDrivers.includes("vfio-pci"),
    driverModules: snap.driverModules,
    vendorResetLoaded: snap.modules.vendorReset,
    numa: topologyOf(snap),
    hugepages: { total: snap.hugepages, nodes: snap.numaNodes },
    hugetlbfsMounts: snap.hugetlbfsMounts,
    interruptRemapping: snap.interruptRemapping,
    programs: snap.programs,
    swtpmLocalCa: snap.swtpmLocalCa,
    readProblems: snap.problems,
  };
}

/** Nodes with their cores: each cpu's thread siblings form its core (a cpu without a siblings file is its own). */
function topologyOf(snap: HostSnapshot): CpuTopology {
  const nodes = snap.numaNodes.length
    ? snap.numaNodes.map((n) => ({ id: n.id, cpus: n.cpus }))
    : [{ id: 0, cpus: snap.onlineCpus ?? [...snap.threadSiblings.keys()].sort((a, b) => a - b) }];
  return {
    nodes: nodes.map((n): NumaNode => {
      const inNode = new Set(n.cpus);
      const cores = new Map<number, number[]>();
      for (const cpu of n.cpus) {
        const core = (snap.threadSiblings.get(cpu) ?? [cpu]).filter((c) => inNode.has(c));
        const first = Math.min(...core, cpu);
        if (!cores.has(first))
          cores.set(
            first,
            [...new Set([...core, cpu])].sort((a, b) => a - b),
          );
      }
      return { id: n.id, cores: [...cores.values()].sort((a, b) => a[0] - b[0]), cpus: [...n.cpus] };
    }),
  };
}

/** Catalog models with this vendor:device (several when models share a chip). */
export function catalogMatches(vendorId: string | undefined, deviceId: string | undefined): GpuModel[] {
  if (!vendorId || !deviceId) return [];
  return GPU_CATALOG.filter((m) => m.vendorId === vendorId && modelDeviceIds(m).includes(deviceId));
}

/** `0000:02:00.1 SATA controller 1022:43eb (ahci)`: how reports name a device. */
export function describeDevice(d: HostDevice): string {
  const ids = d.vendorId && d.deviceId ? ` ${d.vendorId}:${d.deviceId}` : "";
  const driver = d.driver ?? (d.driverUnreadable ? "driver unknown" : undefined);
  return `${d.address} ${d.className}${ids}${driver ? ` (${driver})` : ""}`;
}

function detectGpus(
  devices: readonly HostDevice[],
  groups: HostInventory["groups"],
  iommuActive: boolean,
): DetectedGpu[] {
  const slots = new Map<string, HostDevice[]>();
  for (const d of devices) {
    const key = slotKey(d.address);
    slots.set(key, [...(slots.get(key) ?? []), d]);
  }
  const gpus: DetectedGpu[] = [];
  for (const functions of slots.values()) {
    const display = functions.find((f) => isDisplay(f.classCode));
    if (!display) continue;
    const matches = catalogMatches(display.vendorId, display.deviceId);
    const barsMib = display.bars?.map((b) => mibFromBytes(b.sizeBytes));
    const name = matches[0]?.name ?? `${display.vendorId ?? "?"}:${display.deviceId ?? "?"}`;
    gpus.push({
      address: display.address,
      vendorId: display.vendorId,
      deviceId: display.deviceId,
      model: matches[0] && { id: matches[0].id, name: matches[0].name },
      alsoMatches: matches.slice(1).map((m) => m.id),
      functions,
      isolation: isolation(functions, devices, groups, iommuActive),
      driver: display.driver,
      bootVga: display.bootVga === true,
      numaNode: display.numaNode,
      barsMib,
      unassignedBars: display.bars?.filter((b) => !b.assigned).map((b) => b.index) ?? [],
      mmio: requiredMmio([{ gpu: display.address, model: { name, barsMib: barsMib ?? matches[0]?.barsMib ?? [] } }]),
    });
  }
  return gpus;
}

/** The GPU passed alone to a VM, judged by the one isolation rule (lib/pci/iommu.ts). */
function isolation(
  functions: readonly HostDevice[],
  devices: readonly HostDevice[],
  groups: HostInventory["groups"],
  iommuActive: boolean,
): GpuIsolation {
  const ids = [...new Set(functions.map((f) => f.iommuGroup))];
  if (!iommuActive || ids.some((id) => id === undefined)) return { verdict: "unknown", groups: [], blockers: [] };
  const named = (ids as number[]).map((id) => {
    const listed = groups.find((g) => g.id === id)?.devices ?? [];
    const members = devices.filter((d) => d.iommuGroup === id || listed.includes(d.address));
    return {
      id,
      devices: members.filter((d) => !isBridge(d.classCode)).map((d) => d.address),
      bridges: members.filter((d) => isBridge(d.classCode)).map((d) => d.address),
    };
  });
  const others = new Set(
    isolationOf(
      named,
      functions.map((f) => f.address),
    ).siblings.flatMap((s) => s.devices),
  );
  const blockers = devices.filter((d) => others.has(d.address));
  return { verdict: blockers.length ? "shared" : "isolated", groups: ids as number[], blockers };
}

/** Canonical `0000:01:00.0`; a name that is not an address is kept as sysfs gave it. */
function canonical(address: string): string {
  const parsed = PciAddress.tryParse(address);
  return typeof parsed === "string" ? address : parsed.toString();
}

function slotKey(address: string): string {
  const parsed = PciAddress.tryParse(address);
  return typeof parsed === "string" ? address : parsed.deviceKey;
}
