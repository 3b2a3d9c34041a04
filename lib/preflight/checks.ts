/**
 * Host-wide findings, true whatever the fleet asks of the host: CPU virtualization, IOMMU, kernel arguments, files
 * that could not be read, and GPUs that cannot be passed alone. Each finding says what is wrong and how to fix it.
 */
import { asCpuVendor, iommuArg } from "../host-prep/cpu";
import { kernelArgsHowTo } from "../host-prep/distro";
import { isolationFix } from "../pci/iommu";
import type { Finding } from "./finding";
import { onlyBootVgaFindings } from "./boot-vga";
import { interruptRemappingFindings } from "./interrupt-remapping";
import { DetectedGpu, HostInventory, describeDevice } from "./inventory";

export type { Finding, Severity } from "./finding";

export function hostFindings(inv: HostInventory): Finding[] {
  return [...readProblemFindings(inv), ...cpuFindings(inv), ...iommuFindings(inv), ...interruptRemappingFindings(inv)];
}

/** GPUs that share their IOMMU group, when no fleet says which GPUs matter (the boot VGA is the host's, skipped). */
export function unplannedGpuFindings(inv: HostInventory): Finding[] {
  return [...onlyBootVgaFindings(inv), ...sharedGroupFindings(inv)];
}

function sharedGroupFindings(inv: HostInventory): Finding[] {
  return inv.gpus
    .filter((g) => g.isolation.verdict === "shared" && !g.bootVga)
    .map((g) => ({
      severity: "warning",
      code: "gpu-not-isolated",
      subject: `GPU ${g.address}`,
      message: `${gpuName(g)} ${sharedGroupMessage(g)}: it cannot be passed to a VM alone`,
      fix: sharedGroupFix(g),
    }));
}

/** How to fix a GPU's shared group: the one isolation fix, naming what else is in it. */
export function sharedGroupFix(g: DetectedGpu): string {
  return isolationFix(g.isolation.blockers.map((d) => d.address));
}

/** `shares IOMMU group 14 with 0000:02:00.1 SATA controller 1022:43eb (ahci), ...` */
export function sharedGroupMessage(g: DetectedGpu): string {
  const groups = g.isolation.groups.join(", ");
  return `shares IOMMU group ${groups} with ${g.isolation.blockers.map(describeDevice).join(", ")}`;
}

export function gpuName(g: DetectedGpu): string {
  return g.model ? g.model.name : `GPU ${g.vendorId ?? "?"}:${g.deviceId ?? "?"}`;
}

function readProblemFindings(inv: HostInventory): Finding[] {
  return inv.readProblems.map((p) => ({
    severity: "warning",
    code: "unreadable-file",
    subject: p.path,
    message: p.message,
    fix: "preflight reports what this file holds as unknown; check the file (a copy may be truncated or corrupt)",
  }));
}

function cpuFindings(inv: HostInventory): Finding[] {
  const { cpu } = inv;
  if (cpu.virtualization) return [];
  const bios =
    cpu.vendor === "amd"
      ? 'enable "SVM Mode" (AMD-V) in the BIOS'
      : cpu.vendor === "intel"
        ? 'enable "Intel Virtualization Technology" (VT-x) in the BIOS'
        : "enable hardware virtualization (Intel VT-x or AMD SVM) in the BIOS";
  return [
    {
      severity: "blocker",
      code: "cpu-virtualization",
      subject: "CPU",
      message: `${cpu.modelName ?? "the CPU"} reports neither vmx (Intel VT-x) nor svm (AMD-V): KVM cannot run guests`,
      fix: cpu.isVirtualMachine ? `${VM_NOTE}; or ${bios} of the physical host` : bios,
    },
  ];
}

const VM_NOTE =
  'this machine is itself a virtual machine (cpuinfo flag "hypervisor"): run preflight on the physical host, or give ' +
  "this VM nested virtualization and a virtual IOMMU";

function iommuFindings(inv: HostInventory): Finding[] {
  const args = inv.kernel.args;
  if (inv.iommu.active) {
    if (args.includes("iommu=pt")) return [];
    return [
      {
        severity: "info",
        code: "iommu-pt",
        subject: "kernel",
        message: "iommu=pt is not set: the IOMMU also translates DMA of the host's own devices, which costs speed",
        fix: kernelArgsHowTo(["iommu=pt"]),
      },
    ];
  }

  const off = args.filter((a) => /^(intel_iommu|amd_iommu|iommu)=off$/.test(a));
  const vendor = asCpuVendor(inv.cpu.vendor);
  const on = vendor && iommuArg(vendor);
  const bios =
    inv.cpu.vendor === "amd"
      ? 'enable "IOMMU" (AMD-Vi) in the BIOS, often under AMD CBS > NBIO Common Options'
      : 'enable "VT-d" (Intel Virtualization Technology for Directed I/O) in the BIOS';
  const why = inv.cpu.isVirtualMachine
    ? "this machine is a virtual machine and its hypervisor gives it no IOMMU"
    : off.length
      ? `the kernel command line turns it off (${off.join(" ")})`
      : on && args.includes(on)
        ? `the kernel asks for it (${on}), so the BIOS has it off`
        : `the kernel command line lacks ${on ?? "the IOMMU argument"}`;
  const fixes = [
    ...(inv.cpu.isVirtualMachine ? [VM_NOTE] : []),
    ...(off.length ? [`remove ${off.join(" ")} from the kernel command line`] : []),
    ...(on && !args.includes(on) ? [kernelArgsHowTo([on, ...(args.includes("iommu=pt") ? [] : ["iommu=pt"])])] : []),
    bios,
  ];
  return [
    {
      severity: "blocker",
      code: "iommu-off",
      subject: "IOMMU",
      message:
        `no IOMMU is active (/sys/class/iommu is empty, /sys/kernel/iommu_groups has no groups): ${why}. ` +
        "Without it no device can be passed to a VM",
      fix: fixes.join("\n"),
    },
  ];
}
