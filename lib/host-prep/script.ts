/**
 * A host's preparation as people and tools see it: the host steps every backend gives for outputs and reports, and
 * the commented shell script (`prepare-host.sh`) to read, then run as root on the host.
 */
import type { HostStep } from "../backends/backend";
import { shellComment, shellQuote } from "../shell";
import { RESTART_LIBVIRT } from "./distro";
import { HostPreparation } from "./plan";

/** What to run on the host after a known failure of the hypervisor's provider; never run by the script. */
export interface Recovery {
  /** The failure, as the sentence "If <when>:" ends. */
  readonly when: string;
  readonly commands: readonly string[];
}

/** The plan as host steps. */
export function preparationSteps(plan: HostPreparation): HostStep[] {
  if (!plan.functions.length) return [];
  return [
    ...plan.bios.map((description): HostStep => ({ kind: "bios", description })),
    ...plan.kernelArgCommands.map((command): HostStep => ({
      kind: "command",
      description: `kernel arguments: ${plan.kernelArgs.join(" ")}`,
      command,
    })),
    ...plan.packages.flatMap((p) => [
      { kind: "command" as const, description: p.why, command: p.command },
      ...p.setup.map((s) => ({ kind: "command" as const, description: s.why, command: s.command })),
    ]),
    ...plan.mounts.flatMap((m) =>
      mountCommands(m.path, m.fstab).map((command): HostStep => ({ kind: "command", description: m.why, command })),
    ),
    ...plan.driverOverrides.map((command): HostStep => ({
      kind: "command",
      description: "bind a guest GPU function to vfio-pci by address",
      command,
    })),
    ...fileCommands(plan.modprobe.file, plan.modprobe.lines).map((command): HostStep => ({
      kind: "command",
      description: "order the GPU drivers after vfio-pci",
      command,
    })),
    ...[...fileCommands(plan.initramfs.file, plan.initramfs.lines), plan.initramfs.rebuild].map(
      (command): HostStep => ({
        kind: "command",
        description: `vfio modules in the initramfs (${plan.initramfs.tool})`,
        command,
      }),
    ),
    { kind: "reboot", description: "reboot the host: kernel arguments and the initramfs take effect at boot" },
  ];
}

/**
 * A hugetlbfs mount: in /etc/fstab for every boot (systemd creates the mount point), mounted now when the kernel
 * offers the page size (a 1 GiB hugetlbfs cannot be mounted before the kernel has the 1 GiB pool, hence the test),
 * and libvirt restarted so that it finds it: it looks for hugetlbfs mounts only when it starts.
 */
function mountCommands(path: string, fstab: string): string[] {
  const pool = fstab.includes("pagesize=1G")
    ? "/sys/kernel/mm/hugepages/hugepages-1048576kB"
    : "/sys/kernel/mm/hugepages";
  return [
    ...fileCommands("/etc/fstab", [fstab]),
    `mkdir -p ${path}`,
    `[ ! -d ${pool} ] || mountpoint -q ${path} || mount ${path}`,
    RESTART_LIBVIRT,
  ];
}

/** Commands that add lines to a file unless it already has them. */
function fileCommands(file: string, lines: readonly string[]): string[] {
  return lines.map(
    (line) => `grep -qxF ${shellQuote(line)} ${file} 2>/dev/null || echo ${shellQuote(line)} >> ${file}`,
  );
}

/** The plan as a shell script to read, then run as root on the host; a recovery is shown as comments only. */
export function preparationScript(plan: HostPreparation, recovery?: Recovery): string {
  const lines = [
    "#!/bin/sh",
    shellComment(`Preparation of KVM host "${plan.host}" for GPU passthrough (${plan.distro}, ${plan.cpuVendor} CPU).`),
    "# Written by cdktf-gpu-passthrough at synth from the GPUs this host gives to guests; read it, then run it as root.",
    "# Every step is idempotent: running it twice changes nothing.",
    "set -eu",
    "",
    "# Firmware settings (do these by hand in the firmware setup):",
    ...plan.bios.map((b) => shellComment(`  - ${b}`)),
    "",
    "# Functions vfio-pci claims at boot:",
    ...plan.functions.map((f) =>
      shellComment(`  ${f.address} ${f.id ?? "(id unknown)"} ${f.kind} of ${f.model} ${f.gpu} -> VM ${f.vm}`),
    ),
    shellComment(`Bound by ${plan.bindBy === "ids" ? "vendor:device id" : "address"}: ${plan.bindReason}.`),
    "",
    shellComment(`Kernel arguments: ${plan.kernelArgs.join(" ")}`),
    ...plan.kernelArgCommands,
    "",
    ...(plan.driverOverrides.length
      ? ["# Bind by address (driverctl keeps the override across reboots).", ...plan.driverOverrides, ""]
      : []),
    ...plan.packages.flatMap((p) => [
      shellComment(`Packages: ${p.why}.`),
      p.command,
      ...p.setup.flatMap((s) => [shellComment(`${s.why}.`), s.command]),
      "",
    ]),
    ...plan.mounts.flatMap((m) => [
      shellComment(`hugetlbfs at ${m.path}: ${m.why}; libvirt finds it when it starts.`),
      ...mountCommands(m.path, m.fstab),
      "",
    ]),
    shellComment(`Load vfio-pci before the GPU drivers (${plan.modprobe.file}).`),
    ...fileCommands(plan.modprobe.file, plan.modprobe.lines),
    "",
    shellComment(`vfio modules in the initramfs (${plan.initramfs.tool}).`),
    `mkdir -p $(dirname ${plan.initramfs.file})`,
    ...fileCommands(plan.initramfs.file, plan.initramfs.lines),
    plan.initramfs.rebuild,
    "",
    ...plan.notes.map((n) => shellComment(`Note: ${n}.`)),
    ...(recovery?.commands.length
      ? ["", shellComment(`If ${recovery.when}:`), ...recovery.commands.map((c) => shellComment(`  ${c}`))]
      : []),
    ...(plan.rebootRequired
      ? ["echo 'Done. Reboot the host: kernel arguments and the initramfs take effect at boot.'"]
      : []),
  ];
  return `${lines.join("\n")}\n`;
}
