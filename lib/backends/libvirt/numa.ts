/**
 * Where a libvirt guest runs on a NUMA host, from the nodes its GPUs hang off (`numaNode`, from sysfs) and the host's
 * declared cores (`numaNodes`): memory bound to those nodes (`numatune` strict), vCPUs and QEMU's emulator threads on
 * their CPUs, one guest NUMA cell per node when the GPUs sit on two, and vCPU pins checked against the nodes and SMT
 * siblings (two threads of one core are a vCPU pair the guest knows as siblings). Pure: the renderer writes it, the
 * rules report its problems, the report explains it.
 */
import { CpuTopology, coreOfCpu, formatCpuList, nodeOfCpu, parseCpuList } from "../../cpu-topology";
import type { HostGpu } from "../../host";
import type { VmBackendSetting } from "../backend";

/** What the placement needs of a VM (a GpuPassthroughVm is one). */
export interface NumaVm {
  readonly cpus: number;
  readonly coresPerSocket: number;
  readonly memoryMib: number;
  readonly gpus: readonly HostGpu[];
}

export interface NumaCell {
  readonly id: number;
  /** The guest's vCPUs in this cell, e.g. "0-15". */
  readonly cpus: string;
  /** In KiB: libvirt stores cell memory in KiB and the provider reads it back so (0.9.7). */
  readonly memoryKib: number;
  /** The host node that backs it. */
  readonly hostNode: number;
}

export interface NumaPlacement {
  /** The host nodes of the VM's GPUs, sorted; empty when none is declared. */
  readonly nodes: readonly number[];
  /** Host CPUs every vCPU may run on (`<vcpu cpuset>`), when not pinned one by one. */
  readonly vcpuCpuset?: string;
  /** Host CPUs per vCPU: the user's pins, or each cell's node when the VM spans nodes. */
  readonly vcpuPins?: readonly string[];
  readonly emulatorCpuset?: string;
  readonly memoryNodeset?: string;
  readonly cells: readonly NumaCell[];
  /** Hardware threads per guest core: 2 when every vCPU pair is pinned to the two threads of one host core. */
  readonly threads: 1 | 2;
  /** What is wrong with the VM's pins or shape for this placement (errors). */
  readonly problems: readonly { readonly message: string; readonly fix: string }[];
  /** A cost the VM pays that is not an error (the GPUs on two nodes). */
  readonly warning?: string;
}

/** The NUMA nodes the GPUs hang off, where declared, sorted. */
export function gpuNodes(gpus: readonly HostGpu[]): number[] {
  return [...new Set(gpus.flatMap((g) => (g.numaNode === undefined ? [] : [g.numaNode])))].sort((a, b) => a - b);
}

export function numaPlacement(
  vm: NumaVm,
  pins: readonly string[] | undefined,
  topology: CpuTopology | undefined,
): NumaPlacement {
  const nodes = gpuNodes(vm.gpus);
  const problems: { message: string; fix: string }[] = [];
  const nodeCpus = (ids: readonly number[]) =>
    (topology?.nodes ?? []).filter((n) => ids.includes(n.id)).flatMap((n) => n.cpus);
  const pinned = parsedPins(pins);
  const smt = topology && pinned ? siblingPairs(pinned, topology) : undefined;
  if (smt?.problem) problems.push(smt.problem);
  // A guest core of 2 threads needs an even number of vCPUs per socket.
  const threads = smt?.pairs && vm.coresPerSocket % 2 === 0 ? 2 : 1;

  if (!nodes.length) return { nodes, vcpuPins: pins, cells: [], threads, problems };

  const cells = nodes.length > 1 ? guestCells(vm, nodes, problems) : [];
  // Each vCPU's node: its cell's, or the one node.
  // Cells hold equal runs of vCPUs, in order.
  const nodeOfVcpu = (vcpu: number) =>
    cells.length ? cells[Math.floor(vcpu / (vm.cpus / cells.length))].hostNode : nodes[0];
  if (topology && pinned) {
    pinned.forEach((cpus, vcpu) => {
      const want = nodeOfVcpu(vcpu);
      const off = cpus.filter((c) => nodeOfCpu(topology, c) !== want);
      if (off.length && cpus.length) {
        const where = off.map(
          (c) =>
            `${c} (${nodeOfCpu(topology, c) === undefined ? "not a CPU the host's numaNodes list" : `node ${nodeOfCpu(topology, c)}`})`,
        );
        problems.push({
          message: `libvirt.vcpuPins[${vcpu}] "${pins?.[vcpu]}" puts vCPU ${vcpu} on CPU ${where.join(", ")}, but its GPUs and memory are on NUMA node ${want}: every memory access and DMA completion of that vCPU would cross the socket interconnect`,
          fix: `pin vCPU ${vcpu} to CPUs of node ${want} (${formatCpuList(nodeCpus([want]))}), or leave vcpuPins out to keep the vCPUs on the node without pinning`,
        });
      }
    });
  }
  const vmCpus = new Set((pinned ?? []).flat());
  const spare = nodeCpus(nodes).filter((c) => !vmCpus.has(c));
  const vcpuPins =
    pins ??
    (cells.length && topology
      ? Array.from({ length: vm.cpus }, (_, v) => formatCpuList(nodeCpus([nodeOfVcpu(v)])))
      : undefined);
  return {
    nodes,
    vcpuCpuset: !vcpuPins && topology ? formatCpuList(nodeCpus(nodes)) : undefined,
    vcpuPins,
    // Off the VM's own pinned CPUs when the node has others: QEMU's I/O threads then do not steal vCPU time.
    emulatorCpuset: topology ? formatCpuList(spare.length ? spare : nodeCpus(nodes)) : undefined,
    memoryNodeset: formatCpuList(nodes),
    cells,
    threads,
    problems,
    warning:
      nodes.length > 1
        ? `its GPUs are on NUMA nodes ${nodes.join(" and ")}: the guest gets one NUMA cell per node, but traffic between the GPUs (peer-to-peer, NCCL) and every access across cells crosses the socket interconnect (UPI or Infinity Fabric) at a fraction of local bandwidth; give the VM GPUs of one node if the workload allows`
        : undefined,
  };
}

function parsedPins(pins: readonly string[] | undefined): number[][] | undefined {
  if (!pins) return undefined;
  const parsed = pins.map((p) => parseCpuList(p));
  // Malformed pins are reported by the option rules; nothing to place from them.
  return parsed.every(Array.isArray) ? (parsed as number[][]) : undefined;
}

/**
 * Two vCPUs on the two threads of one core must be a pair the guest knows as siblings (2k, 2k+1): the guest would
 * otherwise schedule two busy threads as if they were cores. When every vCPU is in such a pair, the guest gets 2
 * threads per core.
 */
function siblingPairs(
  pinned: readonly number[][],
  topology: CpuTopology,
): { pairs: boolean; problem?: { message: string; fix: string } } {
  const coreOf = (cpus: readonly number[]) => {
    const cores = new Set(cpus.map((c) => coreOfCpu(topology, c)?.join(",")));
    return cores.size === 1 && cpus.length === 1 ? [...cores][0] : undefined;
  };
  const byCore = new Map<string, number[]>();
  const byCpu = new Map<number, number>();
  for (const [vcpu, cpus] of pinned.entries()) {
    if (cpus.length === 1 && byCpu.has(cpus[0])) {
      return {
        pairs: false,
        problem: {
          message: `libvirt.vcpuPins put vCPUs ${byCpu.get(cpus[0])} and ${vcpu} on the same CPU ${cpus[0]}: they would take turns on one thread`,
          fix: "give each vCPU a CPU of its own",
        },
      };
    }
    if (cpus.length === 1) byCpu.set(cpus[0], vcpu);
    const core = coreOf(cpus);
    if (core !== undefined) byCore.set(core, [...(byCore.get(core) ?? []), vcpu]);
  }
  const wrong = [...byCore.entries()].filter(
    ([, vcpus]) => vcpus.length === 2 && !(vcpus[0] % 2 === 0 && vcpus[1] === vcpus[0] + 1),
  );
  if (wrong.length) {
    const [core, vcpus] = wrong[0];
    return {
      pairs: false,
      problem: {
        message: `libvirt.vcpuPins put vCPUs ${wrong.map(([c, v]) => `${v.join(" and ")} on the two threads of core ${c}`).join(", ")}: the guest would take them for separate cores and load both, halving each`,
        fix: `pin a core's two threads to consecutive vCPUs (2k and 2k+1), e.g. vCPUs ${vcpus[0] - (vcpus[0] % 2)} and ${vcpus[0] - (vcpus[0] % 2) + 1} to CPUs ${core}`,
      },
    };
  }
  const pairs =
    pinned.length % 2 === 0 &&
    pinned.every((_, vcpu) => {
      const core = coreOf(pinned[vcpu]);
      return core !== undefined && byCore.get(core)?.length === 2;
    });
  return { pairs };
}

/** One guest cell per host node, vCPUs and memory split evenly, each cell whole virtual sockets. */
function guestCells(vm: NumaVm, nodes: readonly number[], problems: { message: string; fix: string }[]): NumaCell[] {
  const k = nodes.length;
  const perCell = vm.cpus / k;
  const memoryKib = (vm.memoryMib * 1024) / k;
  if (!Number.isInteger(perCell) || perCell % vm.coresPerSocket !== 0 || !Number.isInteger(memoryKib)) {
    problems.push({
      message: `its GPUs are on ${k} NUMA nodes (${nodes.join(", ")}), so it gets one guest NUMA cell per node, but ${vm.cpus} vCPUs in sockets of ${vm.coresPerSocket} and ${vm.memoryMib} MiB do not split into ${k} cells of whole sockets`,
      fix: `give cpus a multiple of ${k} and coresPerSocket = cpus / ${k} (e.g. cpus ${k * vm.coresPerSocket}, coresPerSocket ${vm.coresPerSocket}), or GPUs of one node`,
    });
    return [];
  }
  return nodes.map((hostNode, id) => ({
    id,
    cpus: formatCpuList(Array.from({ length: perCell }, (_, i) => id * perCell + i)),
    memoryKib,
    hostNode,
  }));
}

/** The placement with its reasons, for the report. */
export function numaSettings(p: NumaPlacement, topologyKnown: boolean): VmBackendSetting[] {
  if (!p.nodes.length) {
    return [
      {
        setting: "NUMA placement",
        value: "none",
        why: "the GPUs' numaNode is not declared (gpu-passthrough discover --libvirt prints it): vCPUs and memory go wherever the host puts them",
      },
    ];
  }
  const where = p.nodes.length > 1 ? `nodes ${p.nodes.join(", ")} (one guest cell each)` : `node ${p.nodes[0]}`;
  const settings: VmBackendSetting[] = [
    {
      setting: "NUMA memory",
      value: `strict on ${where}`,
      why: "the GPUs' DMA and the guest's memory stay on the node the GPUs hang off; strict fails the start rather than silently using a remote node",
    },
  ];
  if (topologyKnown) {
    settings.push({
      setting: "NUMA CPUs",
      value: `vCPUs ${p.vcpuCpuset ? `on CPUs ${p.vcpuCpuset}` : "pinned (vcpupin)"}, emulator threads on CPUs ${p.emulatorCpuset}`,
      why: "vCPUs and QEMU's emulator threads run on the GPUs' node; the emulator off the VM's own pinned CPUs when the node has others",
    });
  } else {
    settings.push({
      setting: "NUMA CPUs",
      value: "not placed",
      why: "the host's numaNodes are not declared (gpu-passthrough discover --libvirt prints them): vCPUs may run on the other node",
    });
  }
  if (p.threads === 2) {
    settings.push({
      setting: "guest SMT",
      value: "2 threads per core",
      why: "each vCPU pair (2k, 2k+1) is pinned to the two threads of one host core: the guest schedules them as siblings",
    });
  }
  if (p.warning) settings.push({ setting: "NUMA cost", value: `GPUs on ${p.nodes.length} nodes`, why: p.warning });
  return settings;
}
