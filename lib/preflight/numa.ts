/**
 * NUMA on a fleet host: each GPU's declared node against sysfs, and VMs whose GPUs sit on two nodes. A GPU's DMA and
 * interrupts go to the socket its PCIe root belongs to; a VM placed on one node reaches a GPU of the other only across
 * the socket interconnect (Intel UPI, AMD Infinity Fabric), with less bandwidth and more latency for every transfer.
 */
import { NumaNode, formatCpuList, parseNumaNodes } from "../cpu-topology";
import type { FleetHost } from "../fleet/schema";
import type { Finding } from "./finding";
import type { HostVm } from "./fleet-vms";
import type { DetectedGpu, HostInventory } from "./inventory";

type DeclaredGpu = FleetHost["gpus"][number];

/** The fleet line of a GPU with `numaNode` set, to paste. */
function gpuLine(declared: DeclaredGpu, numaNode: number): string {
  const model = typeof declared.model === "string" ? declared.model : "<model>";
  return `{ address: "${declared.address}", model: ${model}, numaNode: ${numaNode} }`;
}

/** The declared `numaNode` of a GPU against `numa_node` in sysfs. */
export function numaNodeFindings(
  inv: HostInventory,
  subject: string,
  declared: DeclaredGpu,
  gpu: DetectedGpu,
): Finding[] {
  const file = `/sys/bus/pci/devices/${gpu.address}/numa_node`;
  if (declared.numaNode !== undefined && gpu.numaNode !== undefined && declared.numaNode !== gpu.numaNode) {
    return [
      {
        severity: "warning",
        code: "gpu-numa-node-mismatch",
        subject,
        message: `the fleet declares numaNode: ${declared.numaNode}, but ${file} reads ${gpu.numaNode}: its VM would be placed on the wrong node`,
        fix: `set numaNode: ${gpu.numaNode} on this GPU in the fleet file: ${gpuLine(declared, gpu.numaNode)}`,
      },
    ];
  }
  if (declared.numaNode !== undefined && gpu.numaNode === undefined) {
    return [
      {
        severity: "info",
        code: "gpu-numa-node-unknown",
        subject,
        message: `the fleet declares numaNode: ${declared.numaNode}, but ${file} does not give a node (-1 or absent): it cannot be checked`,
        fix: "keep it if you know the board's layout (lstopo shows it); otherwise leave numaNode out",
      },
    ];
  }
  if (declared.numaNode === undefined && gpu.numaNode !== undefined && inv.numa.nodes.length > 1) {
    return [
      {
        severity: "info",
        code: "gpu-numa-node-undeclared",
        subject,
        message: `${file} reads ${gpu.numaNode} on this ${inv.numa.nodes.length}-node host, and the fleet does not say: its VM gets no NUMA placement`,
        fix: `declare it: ${gpuLine(declared, gpu.numaNode)}`,
      },
    ];
  }
  return [];
}

/** A VM whose GPUs are on two or more nodes (sysfs where it knows, else the fleet's declaration). */
export function numaSpanFindings(inv: HostInventory, host: FleetHost, vms: readonly HostVm[]): Finding[] {
  const nodeOf = (address: string): number | undefined =>
    inv.gpus.find((g) => g.address === address)?.numaNode ??
    host.gpus.find((g) => g.address.toString() === address)?.numaNode;
  const byNode = new Map<number, string[]>();
  for (const g of host.gpus.filter((g) => (g.role ?? "guest") === "guest")) {
    const node = nodeOf(g.address.toString());
    if (node !== undefined) byNode.set(node, [...(byNode.get(node) ?? []), g.address.toString()]);
  }
  return vms.flatMap((vm): Finding[] => {
    const placed = vm.gpus.flatMap((a) => {
      const node = nodeOf(a);
      return node === undefined ? [] : [{ address: a, node }];
    });
    const nodes = [...new Set(placed.map((p) => p.node))].sort((a, b) => a - b);
    if (nodes.length < 2) return [];
    const where = nodes
      .map(
        (n) =>
          `${n} (${placed
            .filter((p) => p.node === n)
            .map((p) => p.address)
            .join(", ")})`,
      )
      .join(" and ");
    const oneNode = [...byNode.entries()].find(([, gpus]) => gpus.length >= vm.gpus.length);
    return [
      {
        severity: "warning",
        code: "vm-spans-numa-nodes",
        subject: `VM "${vm.name}"`,
        message:
          `its GPUs sit on NUMA nodes ${where}: wherever its vCPUs and memory are, the DMA and interrupts of the GPUs ` +
          "on the other node cross the socket interconnect (UPI / Infinity Fabric), with less bandwidth and more latency",
        fix: [
          oneNode
            ? `give it GPUs of one node: gpus: [${oneNode[1]
                .slice(0, vm.gpus.length)
                .map((a) => `"${a}"`)
                .join(", ")}] (node ${oneNode[0]})`
            : "give it GPUs of one node",
          "or split it into one VM per node; if it must span, its domain gets one guest NUMA cell per node so the guest can keep each GPU's work on its node",
        ].join(", "),
      },
    ];
  });
}

/** The libvirt host's declared `numaNodes` against sysfs: placement pins vCPUs to the cpus declared there. */
export function declaredNodesFindings(inv: HostInventory, host: FleetHost): Finding[] {
  const declared = (host.libvirt as { numaNodes?: readonly { id: number; cores: readonly string[] }[] } | undefined)
    ?.numaNodes;
  const known = inv.numa.nodes.filter((n) => n.cpus.length > 0);
  if (!declared || !known.length) return [];
  const line = (n: NumaNode) => `{ id: ${n.id}, cores: [${n.cores.map((c) => `"${formatCpuList(c)}"`).join(", ")}] }`;
  const parsed = parseNumaNodes(declared, "numaNodes").topology;
  const same = (a: NumaNode, b: NumaNode) =>
    a.cores.length === b.cores.length && a.cores.every((c, i) => formatCpuList(c) === formatCpuList(b.cores[i]));
  const differs = known.filter((n) => {
    const d = parsed?.nodes.find((x) => x.id === n.id);
    return !d || !same(d, n);
  });
  const extra = (parsed?.nodes ?? []).filter((d) => !known.some((n) => n.id === d.id)).map((d) => d.id);
  if (!differs.length && !extra.length) return [];
  return [
    {
      severity: "warning",
      code: "numa-nodes-mismatch",
      subject: "libvirt.numaNodes",
      message:
        [
          ...differs.map(
            (n) =>
              `node ${n.id} has cpus ${formatCpuList(n.cpus)} in ${n.cores.length} cores on this host, not as declared`,
          ),
          ...extra.map((id) => `node ${id} is declared but the host has no such node with cpus`),
        ].join("; ") + ": vCPU pins and NUMA placement would use cpus of the wrong node",
      fix: `replace numaNodes in the fleet entry with the host's (gpu-passthrough discover --libvirt prints them):\n${known
        .map((n) => `  - ${line(n)}`)
        .join("\n")}`,
    },
  ];
}
