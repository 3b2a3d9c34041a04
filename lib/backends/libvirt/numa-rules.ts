/**
 * A KVM host's declared NUMA nodes and its GPUs' nodes agree: a GPU's node must be one the host declares, or the VM
 * would be placed on cpus and memory the host does not have. Checked at synth, with the host's other problems.
 */
import { CpuTopology, NumaNodeProps, parseNumaNodes } from "../../cpu-topology";
import type { PassthroughHost } from "../../host";
import { Problem } from "../../problems";

/**
 * Problems with a host's `numaNodes` (bad cpu lists, duplicates) and GPUs whose `numaNode` the host does not declare.
 * Without declared nodes a GPU's node is taken as given: there is nothing to compare it with.
 */
export function numaHostProblems(
  host: PassthroughHost,
  numaNodes: readonly NumaNodeProps[] | undefined,
): { topology?: CpuTopology; problems: Problem[] } {
  if (numaNodes === undefined) return { problems: [] };
  const fix = "copy numaNodes from `gpu-passthrough discover --libvirt` on the host";
  const parsed = parseNumaNodes(numaNodes, "numaNodes");
  const problems: Problem[] = parsed.problems.map((message) => ({ subject: host.subject, message, fix }));
  const ids = numaNodes.map((n) => n.id);
  for (const gpu of host.gpus) {
    if (gpu.numaNode === undefined || ids.includes(gpu.numaNode)) continue;
    problems.push({
      subject: `${host.subject} GPU ${gpu.label}`,
      message: `numaNode ${gpu.numaNode} is not one of the host's numaNodes (${ids.join(", ")})`,
      fix: `read /sys/bus/pci/devices/${gpu.address ?? "<address>"}/numa_node on the host and correct the GPU's numaNode or the host's numaNodes (gpu-passthrough discover --libvirt prints both)`,
    });
  }
  return { topology: problems.length === 0 ? parsed.topology : undefined, problems };
}
