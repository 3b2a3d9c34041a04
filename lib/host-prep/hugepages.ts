/**
 * Huge pages a KVM host reserves for the guests that use them: how many of each size (per NUMA node when the guests'
 * nodes are known), the kernel arguments that reserve them at boot, and the hugetlbfs mount 1 GiB pages need. One
 * reading for the host plan and for preflight, so that what is planned is what is checked.
 *
 * Boot, not runtime: 1 GiB pages must be contiguous, which only the boot allocator reliably finds
 * (Documentation/admin-guide/mm/hugetlbpage.rst).
 */
import type { LinuxDistro } from "./distro";

export type HugePageSize = "2M" | "1G";
export const HUGE_PAGE_MIB: Readonly<Record<HugePageSize, number>> = { "2M": 2, "1G": 1024 };

/** What a guest asks of its host, beyond its GPUs (the libvirt backend's `guestHostNeeds`). */
export interface GuestHostNeeds {
  readonly vm: string;
  readonly memoryMib: number;
  /** Guest memory backed by huge pages of this size. @default - none */
  readonly hugepages?: HugePageSize;
  /** The host NUMA nodes the guest's memory is placed on (those of its GPUs); empty when unknown. */
  readonly numaNodes: readonly number[];
  /** The guest has a software TPM (swtpm on the host). */
  readonly tpm: boolean;
}

/** The pages of one size the host's guests need. */
export interface HugePageNeed {
  readonly size: HugePageSize;
  /** Pages over all nodes. */
  readonly pages: number;
  /** Pages per node (node id → pages), when every guest using this size has known nodes. */
  readonly perNode?: Readonly<Record<string, number>>;
  readonly vms: readonly string[];
}

/**
 * Pages per size: each guest's memory in whole pages; a guest on several nodes has its memory split evenly across
 * them (its guest NUMA cells), each share rounded up to a page.
 */
export function hugePageNeeds(guests: readonly GuestHostNeeds[]): HugePageNeed[] {
  const needs: HugePageNeed[] = [];
  for (const size of ["1G", "2M"] as const) {
    const users = guests.filter((g) => g.hugepages === size);
    if (!users.length) continue;
    const pageMib = HUGE_PAGE_MIB[size];
    const placed = users.every((g) => g.numaNodes.length > 0);
    const perNode: Record<string, number> = {};
    let pages = 0;
    for (const g of users) {
      const nodes = [...new Set(g.numaNodes)];
      if (placed) {
        const share = Math.ceil(g.memoryMib / nodes.length / pageMib);
        for (const n of nodes) perNode[n] = (perNode[n] ?? 0) + share;
        pages += share * nodes.length;
      } else {
        pages += Math.ceil(g.memoryMib / pageMib);
      }
    }
    needs.push({ size, pages, ...(placed ? { perNode } : {}), vms: users.map((g) => g.vm) });
  }
  return needs;
}

/**
 * The node form `hugepages=0:N,1:M` came with Linux 5.16 ("hugetlbfs: extend the definition of hugepages parameter
 * to support node allocation"); an older kernel reads "0:N" as 0 pages. Ubuntu 24.04 runs 6.8 (22.04 with its HWE
 * kernel too): a total spread evenly would leave a node short under strict numatune, so Ubuntu gets the node form.
 * RHEL 9 (5.14) gets the total, which the kernel spreads over the nodes, with a note.
 */
const NODE_FORM: Readonly<Record<LinuxDistro, boolean>> = {
  debian: true,
  ubuntu: true,
  fedora: true,
  rhel: false,
  arch: true,
  proxmox: true,
};

/**
 * Kernel arguments reserving the pages at boot: `hugepagesz=<size> hugepages=<count or node:count,...>` per size, and
 * `default_hugepagesz=1G` first when 1 GiB is the only size (systemd's /dev/hugepages then has 1 GiB pages too; with
 * both sizes the default stays 2 MiB, so /dev/hugepages serves the 2 MiB guests).
 */
export function hugePageKernelArgs(needs: readonly HugePageNeed[], distro: LinuxDistro): string[] {
  const sizes = needs.map((n) => n.size);
  return [
    ...(sizes.length === 1 && sizes[0] === "1G" ? ["default_hugepagesz=1G"] : []),
    ...needs.flatMap((n) => [`hugepagesz=${n.size}`, `hugepages=${hugePageCount(n, distro)}`]),
  ];
}

function hugePageCount(need: HugePageNeed, distro: LinuxDistro): string {
  if (!need.perNode || !NODE_FORM[distro]) return `${need.pages}`;
  return Object.entries(need.perNode)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([node, pages]) => `${node}:${pages}`)
    .join(",");
}

/** Why the plan reserves what it does, for its notes. */
export function hugePageNotes(needs: readonly HugePageNeed[], distro: LinuxDistro): string[] {
  return needs.map((n) => {
    const where = n.perNode
      ? NODE_FORM[distro]
        ? `on the nodes of their GPUs (${nodeList(n.perNode)})`
        : `in total: the guests want ${nodeList(n.perNode)}, but ${distro}'s long-term kernel predates the node form hugepages=<node>:<pages> (Linux 5.16), so the kernel spreads them over all nodes; on a 5.16 or newer kernel write hugepages=${hugePageCount(n, "debian")} instead`
      : "in total: the guests' NUMA nodes are unknown (declare numaNode on their GPUs)";
    return `${n.pages} huge pages of ${n.size === "1G" ? "1 GiB" : "2 MiB"} reserved at boot for ${n.vms.join(", ")}, ${where}`;
  });
}

function nodeList(perNode: Readonly<Record<string, number>>): string {
  return Object.entries(perNode)
    .map(([node, pages]) => `node ${node}: ${pages}`)
    .join(", ");
}

/** Where the plan mounts hugetlbfs for 1 GiB pages; libvirt finds every hugetlbfs mount when it starts. */
export const HUGETLBFS_1G = {
  path: "/dev/hugepages1G",
  fstab: "hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0",
} as const;

/** The names of the huge page kernel arguments, whose old values the plan removes before writing new ones. */
export const HUGE_PAGE_ARG_NAMES = ["default_hugepagesz", "hugepagesz", "hugepages"] as const;
