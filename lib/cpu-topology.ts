/**
 * A host's CPU topology as the fleet declares it (from `gpu-passthrough discover`): NUMA nodes, each a list of cores,
 * each core the CPUs of its hardware threads. Pure data and checks, so that synth (vCPU pinning, numatune), the host
 * plan (huge pages per node) and preflight share one reading of it.
 */

/** A NUMA node as declared: its id and its cores, each core the cpu list of its hardware threads ("0,32"). */
export interface NumaNodeProps {
  readonly id: number;
  readonly cores: readonly string[];
}

export interface NumaNode {
  readonly id: number;
  /** Each core's CPUs (its SMT siblings), sorted. */
  readonly cores: readonly (readonly number[])[];
  /** All CPUs of the node, sorted. */
  readonly cpus: readonly number[];
}

export interface CpuTopology {
  /** Sorted by id. */
  readonly nodes: readonly NumaNode[];
}

/** The kernel numbers CPUs below NR_CPUS (at most 8192 on the distributions' kernels). */
const MAX_CPU = 8191;

/**
 * Reads a CPU list as in /sys cpulist files and `isolcpus=`: "0-3,8,10-11". Sorted, without duplicates. Whitespace
 * around items (and a trailing newline) is allowed; anything else is a problem naming the item.
 */
export function parseCpuList(text: string): number[] | { problem: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { problem: `is an empty cpu list: give cpus such as "0,32" or "0-3"` };
  // Anything but digits, commas, dashes and spaces is not quoted back: it may be a secret or a control character.
  if (!/^[\d,\s-]+$/.test(trimmed) || trimmed.length > 4096) {
    return {
      problem: 'is not a cpu list: write cpu numbers and ranges, e.g. "0,32" or "0-3,8" (as /sys cpulist files)',
    };
  }
  const cpus = new Set<number>();
  for (const raw of trimmed.split(",")) {
    const item = raw.trim();
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    if (!m) {
      return { problem: `"${item}" in cpu list "${trimmed}" is not a cpu number or range: write "0,32" or "0-3,8"` };
    }
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) {
      return { problem: `range "${item}" in cpu list "${trimmed}" runs backwards: write "${last}-${first}"` };
    }
    if (last > MAX_CPU) {
      return { problem: `cpu ${last} in cpu list "${trimmed}" is above ${MAX_CPU}, the kernel's highest cpu number` };
    }
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** A CPU list in the kernel's form, consecutive runs as ranges: [0,1,2,3,8] gives "0-3,8". */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    // Two consecutive cpus print as "4-5", as the kernel's "%*pbl" does.
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * Checks declared NUMA nodes and builds the topology. Problems (all of them, each naming the value and the fix):
 * a bad node id, a duplicate node id, a node without cores, a bad cpu list, a cpu in two cores or nodes.
 * `subject` prefixes each problem (for example `host kvm-01 libvirt.numaNodes`).
 */
export function parseNumaNodes(
  props: readonly NumaNodeProps[],
  subject: string,
): { topology?: CpuTopology; problems: string[] } {
  const problems: string[] = [];
  const nodes: NumaNode[] = [];
  const seenIds = new Set<number>();
  // Where each cpu was first declared, to name both places of a cpu declared twice.
  const cpuHome = new Map<number, string>();
  props.forEach((node, index) => {
    const where = `${subject}[${index}]`;
    if (!Number.isInteger(node.id) || node.id < 0 || node.id > 1023) {
      problems.push(
        `${where}: node id ${node.id} must be an integer from 0 to 1023 (the node's number in /sys/devices/system/node)`,
      );
    } else if (seenIds.has(node.id)) {
      problems.push(`${where}: node id ${node.id} is declared twice: give each node once, with all its cores`);
    }
    seenIds.add(node.id);
    if (node.cores.length === 0) {
      problems.push(`${where}: node ${node.id} has no cores: list them ("0,32" per core) or leave the node out`);
    }
    const cores: number[][] = [];
    node.cores.forEach((coreText, coreIndex) => {
      const parsed = parseCpuList(coreText);
      if (!Array.isArray(parsed)) {
        problems.push(`${where}.cores[${coreIndex}]: ${parsed.problem}`);
        return;
      }
      const here = `node ${node.id} core "${coreText}"`;
      const fresh: number[] = [];
      for (const cpu of parsed) {
        const home = cpuHome.get(cpu);
        if (home !== undefined) {
          problems.push(
            `${where}.cores[${coreIndex}]: cpu ${cpu} is in ${home} and in ${here}: a cpu belongs to one core of one node (copy the lists from gpu-passthrough discover)`,
          );
        } else {
          cpuHome.set(cpu, here);
          fresh.push(cpu);
        }
      }
      cores.push(fresh);
    });
    const cpus = cores.flat().sort((a, b) => a - b);
    nodes.push({ id: node.id, cores: cores.filter((c) => c.length > 0), cpus });
  });
  if (problems.length > 0) return { problems };
  return { topology: { nodes: [...nodes].sort((a, b) => a.id - b.id) }, problems };
}

/** The node a CPU belongs to, or undefined when the topology does not list it. */
export function nodeOfCpu(t: CpuTopology, cpu: number): number | undefined {
  return t.nodes.find((n) => n.cpus.includes(cpu))?.id;
}

/** The CPUs of the core a CPU belongs to (itself and its SMT siblings), or undefined when not listed. */
export function coreOfCpu(t: CpuTopology, cpu: number): readonly number[] | undefined {
  for (const node of t.nodes) {
    const core = node.cores.find((c) => c.includes(cpu));
    if (core) return core;
  }
  return undefined;
}
