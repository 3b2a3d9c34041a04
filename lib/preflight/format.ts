/**
 * The preflight report for people: host summary, every IOMMU group with its devices, the GPUs, the findings with
 * their fixes, and the host preparation. Plain text, aligned columns, no colours (it is pasted into tickets).
 */
import { formatMib } from "../gpu/model";
import { MODPROBE_FILE } from "../host-prep/plan";
import { DeviceReport, PreflightReport } from "./report";
import { Bar } from "./sysfs";

/** Columns padded to their widest cell; trailing spaces trimmed. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `16M`, `256M`, `128G`, `16K`: the units lspci uses for BAR sizes. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["G", 2 ** 30],
    ["M", 2 ** 20],
    ["K", 2 ** 10],
  ] as const) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${Number.isInteger(n) ? n : n.toFixed(1)}${unit}`;
    }
  }
  return `${bytes}B`;
}

export function formatPreflight(report: PreflightReport): string {
  const { host } = report;
  const sections = [
    summary(report),
    host.iommu.active ? groupsTable(report) : devicesTable(report),
    gpusTable(report),
    findingsText(report),
    prepText(report),
    verdict(report),
  ];
  return sections.filter((s) => s !== "").join("\n\n") + "\n";
}

function summary(report: PreflightReport): string {
  const { host } = report;
  const cpu = host.cpu;
  const virt = cpu.virtualization
    ? `${cpu.virtualization === "vmx" ? "Intel VT-x" : "AMD-V"} (${cpu.virtualization})`
    : "no virtualization flag (vmx/svm)";
  const iommu = host.iommu.active
    ? `active: ${host.iommu.units.length} unit(s) (${host.iommu.units.join(", ") || "none listed"}), ${host.iommu.groupCount} groups`
    : "NOT ACTIVE: no IOMMU units, no IOMMU groups";
  const rows = [
    [
      "Host",
      `${host.hostname ?? "(unknown name)"}, root ${report.root}${host.kernelRelease ? `, kernel ${host.kernelRelease}` : ""}`,
    ],
    [
      "CPU",
      `${cpu.modelName ?? cpu.vendorId ?? "unknown"}: ${virt}${cpu.isVirtualMachine ? ", itself a virtual machine" : ""}`,
    ],
    ["IOMMU", iommu],
    ["Kernel", host.cmdline ?? "(command line unreadable)"],
    ...(report.fleetHost ? [["Fleet", `checked against host "${report.fleetHost}"`]] : []),
  ];
  return rows.map(([k, v]) => `${k.padEnd(7)}${v}`).join("\n");
}

function deviceRow(d: DeviceReport, group: string): string[] {
  return [
    group,
    d.address,
    d.class,
    d.vendorId && d.deviceId ? `${d.vendorId}:${d.deviceId}` : "?",
    d.driver ?? (d.driverUnreadable ? "?" : "-"),
    d.bootVga === null ? "-" : d.bootVga ? "yes" : "no",
    d.resetMethods === null ? "-" : d.resetMethods.join(",") || "none",
    d.bars === null ? "?" : d.bars.map(formatBar).join(" ") || "-",
  ];
}

const DEVICE_HEADERS = ["GROUP", "ADDRESS", "CLASS", "ID", "DRIVER", "BOOT VGA", "RESET", "BARS"];

function groupsTable(report: PreflightReport): string {
  const rows = report.groups.flatMap((g) => g.devices.map((d, i) => deviceRow(d, i === 0 ? String(g.id) : "")));
  return `IOMMU groups\n${table(DEVICE_HEADERS, rows)}`;
}

function devicesTable(report: PreflightReport): string {
  return `PCI devices (no IOMMU groups)\n${table(
    DEVICE_HEADERS,
    report.devices.map((d) => deviceRow(d, "-")),
  )}`;
}

function gpusTable(report: PreflightReport): string {
  if (!report.gpus.length) return "GPUs\nnone: no display controller (PCI class 03xx) on this host";
  const unreadable = new Set(report.devices.filter((d) => d.driverUnreadable).map((d) => d.address));
  const rows = report.gpus.map((g) => [
    g.address,
    g.model ? g.model.name : `${g.vendorId ?? "?"}:${g.deviceId ?? "?"} (not in the catalog)`,
    g.functions.map((f) => f.slice(-2)).join(" "),
    g.iommuGroups.join(",") || "-",
    g.isolation === "shared" ? `shared with ${g.sharedWith.length}` : g.isolation,
    g.driver ?? (unreadable.has(g.address) ? "?" : "-"),
    g.bootVga ? "yes" : "no",
    g.mmio.needs64BitMmio ? `${formatMib(g.mmio.mappedMib)}, 64-bit ${g.mmio.sizeGb} GB` : formatMib(g.mmio.mappedMib),
  ]);
  return `GPUs\n${table(["ADDRESS", "MODEL", "FUNCTIONS", "GROUPS", "ISOLATION", "DRIVER", "BOOT VGA", "MMIO"], rows)}`;
}

function findingsText(report: PreflightReport): string {
  if (!report.findings.length) return "Findings\nnone";
  const items = report.findings.map((f) => {
    const head = `${f.severity.toUpperCase().padEnd(8)} ${f.subject}: ${f.message}`;
    const fix = f.fix ? f.fix.split("\n").map((l, i) => `${" ".repeat(9)}${i === 0 ? "fix: " : "     "}${l}`) : [];
    return [head, ...fix].join("\n");
  });
  return `Findings\n${items.join("\n")}`;
}

function prepText(report: PreflightReport): string {
  const prep = report.hostPrep;
  if (!prep || (!prep.kernelArgs.length && !prep.modprobe.length && !prep.driverOverrides.length)) return "";
  // The findings above say how to apply each item; this is the list to put in configuration management.
  const lines = [
    ...prep.modprobe.map((line) => `  ${MODPROBE_FILE}: ${line}`),
    ...(prep.kernelArgs.length ? [`  kernel command line: ${prep.kernelArgs.join(" ")}`] : []),
    ...prep.driverOverrides.map((a) => `  driverctl set-override ${a} vfio-pci`),
  ];
  return `Host preparation for the fleet's guest GPUs\n${lines.join("\n")}`;
}

function verdict(report: PreflightReport): string {
  const { blockers, warnings, info } = report.summary;
  const counts = `${blockers} blocker(s), ${warnings} warning(s), ${info} info`;
  return report.ready ? `Ready: ${counts}.` : `NOT READY for GPU passthrough: ${counts}.`;
}

function formatBar(b: Bar): string {
  return `${formatBytes(b.sizeBytes)}${b.assigned ? "" : "(no address)"}`;
}
