/**
 * The huge pages a host's VMs need against what the host has reserved: per NUMA node when the VMs' GPUs declare
 * their nodes (the host plan reserves them there), else in total; and the hugetlbfs mount each page size needs, since
 * QEMU allocates huge-page guest memory as files on one. Needs are computed by the host plan's own rule
 * (lib/host-prep/hugepages.ts), so preflight checks what the plan reserves.
 */
import type { FleetHost } from "../fleet/schema";
import { kernelArgsHowTo } from "../host-prep/distro";
import type { LinuxDistro } from "../host-prep/distro";
import {
  GuestHostNeeds,
  HUGETLBFS_1G,
  HUGE_PAGE_MIB,
  HugePageNeed,
  HugePageSize,
  hugePageKernelArgs,
  hugePageNeeds,
} from "../host-prep/hugepages";
import type { Finding } from "./finding";
import type { HostVm } from "./fleet-vms";
import type { HostInventory } from "./inventory";

const SYSFS_DIR: Readonly<Record<HugePageSize, string>> = { "2M": "hugepages-2048kB", "1G": "hugepages-1048576kB" };
const LABEL: Readonly<Record<HugePageSize, string>> = { "2M": "2 MiB", "1G": "1 GiB" };

/** The VMs' needs as the host plan computes them: each VM's nodes are its GPUs' declared nodes. */
export function fleetGuestNeeds(host: FleetHost, vms: readonly HostVm[]): GuestHostNeeds[] {
  const nodeOf = new Map(host.gpus.map((g) => [g.address.toString(), g.numaNode]));
  return vms.map((vm) => ({
    vm: vm.name,
    memoryMib: vm.memoryMib,
    ...(vm.hugepages ? { hugepages: vm.hugepages } : {}),
    numaNodes: [...new Set(vm.gpus.flatMap((a) => (nodeOf.get(a) === undefined ? [] : [nodeOf.get(a) as number])))],
    tpm: false,
  }));
}

export function hugePageFindings(inv: HostInventory, host: FleetHost, vms: readonly HostVm[]): Finding[] {
  const needs = hugePageNeeds(fleetGuestNeeds(host, vms));
  if (!needs.length) return [];
  const distro = ((host.libvirt as { distro?: LinuxDistro } | undefined)?.distro ?? "debian") as LinuxDistro;
  const args = hugePageKernelArgs(needs, distro);
  return needs.flatMap((need) => [...reservationFindings(inv, need, args), ...mountFindings(inv, need)]);
}

function reservationFindings(inv: HostInventory, need: HugePageNeed, args: readonly string[]): Finding[] {
  const size = need.size;
  const subject = `huge pages ${size}`;
  const reserved = inv.hugepages.total[size];
  const forVms = `for ${need.vms.join(", ")}`;
  const howTo = kernelArgsHowTo(args);
  if (reserved === undefined) {
    return [
      {
        severity: "blocker",
        code: "hugepages-size-missing",
        subject,
        message:
          `the VMs need ${need.pages} pages of ${LABEL[size]} ${forVms}, but the kernel has no ${LABEL[size]} page pool ` +
          `(/sys/kernel/mm/hugepages/${SYSFS_DIR[size]} is absent)` +
          (size === "1G" && !inv.cpu.gigabytePages ? ": the CPU does not report pdpe1gb (1 GiB pages)" : ""),
        fix:
          size === "1G" && !inv.cpu.gigabytePages
            ? 'back these VMs with hugepages: "2M" instead (the CPU has no 1 GiB pages)'
            : howTo,
      },
    ];
  }
  const nodes = inv.hugepages.nodes;
  if (need.perNode && nodes.length) {
    return Object.entries(need.perNode).flatMap(([id, pages]): Finding[] => {
      const node = nodes.find((n) => n.id === Number(id));
      const has = node?.hugepages[size] ?? 0;
      if (has >= pages) return [];
      return [
        {
          severity: "blocker",
          code: "hugepages-short",
          subject: `${subject} node ${id}`,
          message:
            `node ${id} has ${has} pages of ${LABEL[size]} reserved (${node ? `/sys/devices/system/node/node${id}/hugepages/${SYSFS_DIR[size]}/nr_hugepages` : "the host has no such node"}); ` +
            `the VMs on its GPUs need ${pages} ${forVms}: they would not start`,
          fix:
            `reserve them at boot: ${howTo}` +
            (node
              ? `\nor now, if node ${id} has ${pages * HUGE_PAGE_MIB[size]} MiB free in one piece (unlikely for 1 GiB pages once the host has run a while): echo ${pages} > /sys/devices/system/node/node${id}/hugepages/${SYSFS_DIR[size]}/nr_hugepages`
              : ""),
        },
      ];
    });
  }
  if (reserved >= need.pages) return [];
  return [
    {
      severity: "blocker",
      code: "hugepages-short",
      subject,
      message:
        `${reserved} pages of ${LABEL[size]} are reserved (/sys/kernel/mm/hugepages/${SYSFS_DIR[size]}/nr_hugepages); ` +
        `the VMs need ${need.pages} ${forVms}: they would not start`,
      fix:
        `reserve them at boot: ${howTo}\nor now, if the memory is free in one piece: ` +
        `echo ${need.pages} > /sys/kernel/mm/hugepages/${SYSFS_DIR[size]}/nr_hugepages`,
    },
  ];
}

/** QEMU takes huge-page memory from a hugetlbfs of that page size; libvirt uses the ones mounted when it started. */
function mountFindings(inv: HostInventory, need: HugePageNeed): Finding[] {
  const kib = HUGE_PAGE_MIB[need.size] * 1024;
  if (inv.hugetlbfsMounts.some((m) => m.pageSizeKib === kib)) return [];
  const mounted = inv.hugetlbfsMounts.map((m) => `${m.path} (${m.pageSizeKib / 1024} MiB pages)`).join(", ");
  const fix =
    need.size === "1G"
      ? `echo '${HUGETLBFS_1G.fstab}' >> /etc/fstab && mkdir -p ${HUGETLBFS_1G.path} && mount ${HUGETLBFS_1G.path}, ` +
        "then restart libvirtd (or virtqemud): it looks for hugetlbfs mounts when it starts"
      : "mount one: echo 'hugetlbfs /dev/hugepages hugetlbfs pagesize=2M 0 0' >> /etc/fstab && mount /dev/hugepages " +
        "(systemd mounts /dev/hugepages with the default page size), then restart libvirtd (or virtqemud)";
  return [
    {
      severity: "blocker",
      code: "hugetlbfs-missing",
      subject: `huge pages ${need.size}`,
      message:
        `no hugetlbfs with ${LABEL[need.size]} pages is mounted (/proc/mounts: ${mounted || "no hugetlbfs"}): ` +
        `libvirt cannot back ${need.vms.join(", ")} with ${LABEL[need.size]} pages`,
      fix,
    },
  ];
}
