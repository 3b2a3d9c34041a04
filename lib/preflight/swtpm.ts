/**
 * swtpm on a host whose VMs have a TPM: libvirt runs swtpm (and swtpm_setup on a guest's first start) for a TPM 2.0
 * emulator, and without it refuses to define the domain at all ("unsupported configuration: TPM version '2.0' is not
 * supported", libvirt 9.0), so the apply fails.
 */
import type { FleetHost } from "../fleet/schema";
import { LinuxDistro, installCommand, swtpmPackages } from "../host-prep/distro";
import type { Finding } from "./finding";
import type { HostVm } from "./fleet-vms";
import type { HostInventory } from "./inventory";

const DISTROS: readonly LinuxDistro[] = ["debian", "ubuntu", "fedora", "rhel", "arch"];

export function swtpmFindings(inv: HostInventory, host: FleetHost, vms: readonly HostVm[]): Finding[] {
  const tpmVms = vms.filter((vm) => vm.tpm).map((vm) => vm.name);
  if (!tpmVms.length) return [];
  const forVms = `${tpmVms.join(", ")} ${tpmVms.length === 1 ? "has" : "have"} a TPM`;
  if (!inv.programs) {
    return [
      {
        severity: "info",
        code: "swtpm-unchecked",
        subject: "swtpm",
        message: `${forVms}, but ${inv.root} has no usr/bin (a copy of /proc and /sys alone): whether swtpm is installed is unknown`,
        fix: "run preflight on the host itself (--root /), or check: command -v swtpm swtpm_setup",
      },
    ];
  }
  const missing = Object.entries(inv.programs)
    .filter(([, found]) => !found)
    .map(([name]) => name);
  if (!missing.length) return [];
  const distro = (host.libvirt as { distro?: LinuxDistro } | undefined)?.distro;
  const install = distro
    ? installCommand(distro, swtpmPackages(distro))
    : DISTROS.map((d) => `${installCommand(d, swtpmPackages(d))} (${d})`).join(", or ");
  return [
    {
      severity: "blocker",
      code: "swtpm-missing",
      subject: "swtpm",
      message:
        `${forVms}, and ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not installed: libvirt refuses to ` +
        `define a domain with a TPM 2.0 emulator without it ("TPM version '2.0' is not supported")`,
      fix: `install it: ${install} (prepare-host.sh does this)`,
    },
  ];
}
