/**
 * Turns the host's GPUs into a fleet-file host entry (`{ name, site, gpus: [{ address, model }] }`) so nobody types
 * PCI addresses by hand. Catalog models are named by id; a GPU the catalog lacks is declared by the BAR sizes sysfs
 * shows. The boot display is marked `role: host` (the host keeps it for its console) and `bootVga: true`; each GPU's
 * NUMA node is given where sysfs knows it, and `--libvirt` adds the host's NUMA nodes and their cores. Comments carry what a reviewer
 * should check: the IOMMU group, isolation, other catalog models with the same ids.
 */
import { Document, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { formatCpuList } from "../cpu-topology";
import { asCpuVendor } from "../host-prep/cpu";
import { PciAddress } from "../pci/address";
import { DetectedGpu, HostInventory, describeDevice } from "./inventory";
import { functionKind, isBridge } from "./pci-class";

export interface DiscoverOptions {
  /** Host name for the entry; defaults to the host's hostname. */
  readonly name?: string;
  /** Site the host belongs to; must name a site of the fleet file. */
  readonly site?: string;
  /** Add the `libvirt:` block of a KVM host: CPU vendor and the IOMMU groups of its GPUs. */
  readonly libvirt?: boolean;
}

export const SITE_PLACEHOLDER = "CHANGE-ME";

interface GpuEntry {
  readonly address: string;
  readonly model: string | Record<string, unknown>;
  readonly role?: "host";
  readonly numaNode?: number;
  readonly bootVga?: true;
}

/** The YAML text of the entry, as one item of `hosts:`. */
export function discoverYaml(inv: HostInventory, opts: DiscoverOptions = {}): string {
  const name = opts.name ?? inv.hostname ?? "this-host";
  const site = opts.site ?? SITE_PLACEHOLDER;
  const usable = inv.gpus.filter((g) => gpuModel(g) !== undefined);

  const libvirt = opts.libvirt ? libvirtBlock(inv, usable) : undefined;
  const doc = new Document([{ name, site, ...(libvirt ? { libvirt } : {}), gpus: usable.map(gpuEntry) }]);
  const entry = (doc.contents as YAMLSeq).items[0] as YAMLMap;
  const groupList = (entry.get("libvirt") as YAMLMap | undefined)?.get("iommuGroups") as YAMLSeq | undefined;
  for (const group of groupList?.items ?? []) {
    (group as YAMLMap).flow = true;
    for (const key of ["devices", "bridges"]) {
      const list = (group as YAMLMap).get(key) as YAMLSeq | undefined;
      for (const address of list?.items ?? []) (address as Scalar).type = Scalar.QUOTE_DOUBLE;
    }
  }
  const nodeList = (entry.get("libvirt") as YAMLMap | undefined)?.get("numaNodes") as YAMLSeq | undefined;
  for (const node of nodeList?.items ?? []) {
    (node as YAMLMap).flow = true;
    // Quoted: a core of one cpu ("7") must stay a string, and "0,32" reads the same in every YAML reader.
    for (const core of ((node as YAMLMap).get("cores") as YAMLSeq).items) (core as Scalar).type = Scalar.QUOTE_DOUBLE;
  }
  const gpus = entry.get("gpus") as YAMLSeq;
  gpus.items.forEach((node, i) => {
    const item = node as YAMLMap;
    (item.get("address", true) as Scalar).type = Scalar.QUOTE_DOUBLE;
    const model = item.get("model");
    if (model instanceof YAMLMap) {
      (model.get("barsMib") as YAMLSeq).flow = true;
      // Quoted like fleet.yaml's ids, so "1e07" or "8086" stay strings for every YAML reader.
      for (const key of ["vendorId", "deviceId"]) {
        const id = model.get(key, true) as Scalar | undefined;
        if (id) id.type = Scalar.QUOTE_DOUBLE;
      }
    }
    item.commentBefore = notes(usable[i])
      .map((n) => ` ${n}`)
      .join("\n");
  });

  const skipped = inv.gpus.filter((g) => !usable.includes(g));
  doc.commentBefore = [
    ` Fleet host entry from "gpu-passthrough discover" (root ${inv.root}).`,
    ` Paste it under hosts: in your fleet file${site === SITE_PLACEHOLDER ? ", set site: to one of its sites" : ""}, and review the models.`,
    ` Then check the host against it: gpu-passthrough preflight --fleet fleet.yaml --host ${name}`,
    ...(inv.iommu.active
      ? []
      : [
          " IOMMU is off on this host: its IOMMU groups are unknown (gpu-passthrough preflight says how to turn it on).",
        ]),
    ...skipped.map((g) => ` ${g.address} left out: its BAR sizes could not be read from sysfs.`),
  ].join("\n");
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/**
 * A KVM host's `libvirt:` block: its CPU vendor and every IOMMU group that holds a function of one of its GPUs,
 * devices and bridges apart (the fleet's isolation check lets bridges stay with the host).
 */
function libvirtBlock(inv: HostInventory, gpus: readonly DetectedGpu[]): Record<string, unknown> {
  const ids = [...new Set(gpus.flatMap((g) => g.functions.map((f) => f.iommuGroup)))].filter(
    (id): id is number => id !== undefined,
  );
  const groups = ids
    .sort((a, b) => a - b)
    .map((id) => {
      const members = inv.devices.filter((d) => d.iommuGroup === id);
      const bridges = members.filter((d) => isBridge(d.classCode)).map((d) => d.address);
      return {
        id,
        devices: members.filter((d) => !isBridge(d.classCode)).map((d) => d.address),
        ...(bridges.length ? { bridges } : {}),
      };
    });
  const numaNodes = inv.numa.nodes
    .filter((n) => n.cores.length > 0)
    .map((n) => ({ id: n.id, cores: n.cores.map((c) => formatCpuList(c)) }));
  return {
    uri: "qemu:///system",
    cpuVendor: asCpuVendor(inv.cpu.vendor) ?? "CHANGE-ME",
    iommuGroups: groups,
    ...(numaNodes.length ? { numaNodes } : {}),
  };
}

function gpuEntry(g: DetectedGpu): GpuEntry {
  const model = gpuModel(g) as GpuEntry["model"];
  return {
    address: g.address,
    model,
    ...(g.bootVga ? { role: "host" as const } : {}),
    ...(g.numaNode !== undefined ? { numaNode: g.numaNode } : {}),
    ...(g.bootVga ? { bootVga: true as const } : {}),
  };
}

/** The catalog id, or a custom model from sysfs; undefined when the BAR sizes are unknown. */
function gpuModel(g: DetectedGpu): GpuEntry["model"] | undefined {
  if (g.model) return g.model.id;
  if (!g.barsMib?.length) return undefined;
  const functions = g.functions
    .filter((f) => f.address !== g.address)
    .map((f) => ({
      fn: PciAddress.parse(f.address).fn,
      kind: functionKind(f.classCode),
      // A function's id is given as the model's vendorId with its deviceId (vfio-pci.ids): a function of another
      // vendor (a lab's stand-in card) has no id there, so the host is prepared by address.
      ...(f.vendorId === g.vendorId && f.deviceId ? { deviceId: f.deviceId } : {}),
    }));
  return {
    name: `${VENDORS[g.vendorId ?? ""] ?? "GPU"} ${g.vendorId}:${g.deviceId} at ${g.address}`,
    vendor: VENDOR_KEYS[g.vendorId ?? ""] ?? "other",
    ...(g.vendorId && g.deviceId ? { vendorId: g.vendorId, deviceId: g.deviceId } : {}),
    barsMib: [...g.barsMib],
    ...(functions.length ? { functions } : {}),
  };
}

function notes(g: DetectedGpu): string[] {
  const fns = g.functions.map((f) => `.${PciAddress.parse(f.address).fn}`).join(" ");
  const group = g.isolation.groups.length ? `IOMMU group ${g.isolation.groups.join(", ")}` : "IOMMU group unknown";
  const unknown = g.functions.find((f) => f.address === g.address)?.driverUnreadable;
  const driver = g.driver ?? (unknown ? "unknown" : "none");
  const lines = [`${g.model?.name ?? "not in the catalog"}; ${group}; functions ${fns}; driver ${driver}`];
  if (g.alsoMatches.length) lines.push(`same ids as ${g.alsoMatches.join(", ")}: check which card this is`);
  if (g.bootVga) {
    lines.push(
      "boot display (bootVga): kept for the host's console (role: host); to give it to a VM, make another GPU primary in the firmware or give the VM libvirt.gpuRom.file",
    );
  }
  if (g.isolation.verdict === "shared") {
    lines.push(`NOT ISOLATED: shares its group with ${g.isolation.blockers.map(describeDevice).join(", ")}`);
  }
  return lines;
}

const VENDORS: Record<string, string> = { "10de": "NVIDIA", "1002": "AMD", "8086": "Intel", "1a03": "ASPEED" };
const VENDOR_KEYS: Record<string, string> = { "10de": "nvidia", "1002": "amd", "8086": "intel" };
