/**
 * swtpm on a host whose VMs have a TPM: libvirt runs swtpm (and swtpm_setup on a guest's first start) for a TPM 2.0
 * emulator, and without it refuses to define the domain at all ("unsupported configuration: TPM version '2.0' is not
 * supported", libvirt 9.0), so the apply fails. swtpm_setup also signs each new TPM's certificates with the host's local
 * CA, as the user libvirt runs swtpm as: where a root-run swtpm left that CA's files root's, the guest's first start
 * fails.
 */
import type { FleetHost } from "../fleet/schema";
import { LinuxDistro, SWTPM_LOCALCA, installCommand, swtpmPackages } from "../host-prep/distro";
import { shellQuote } from "../shell";
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
  if (!missing.length) return localCaFindings(inv, forVms);
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

/** Entries named in a finding; the rest are counted. */
const SHOWN_ENTRIES = 3;

/**
 * libvirt runs swtpm_setup as `swtpm_user` (tss), or as root when that user did not exist when libvirtd started
 * (qemu_conf.c). A libvirtd started before swtpm's package created tss leaves root's files in the local CA, and after
 * its next restart every TPM guest's first start fails: "Need read/write rights on
 * /var/lib/swtpm-localca/.lock.swtpm-localca for user tss" (swtpm's maintainer: the CA's owner must be swtpm_user).
 */
function localCaFindings(inv: HostInventory, forVms: string): Finding[] {
  const ca = inv.swtpmLocalCa;
  if (!ca || ca.uid === undefined || ca.uid === 0) return [];
  const foreign = ca.entries.filter((e) => e.uid !== ca.uid);
  if (!foreign.length) return [];
  const named = foreign
    .slice(0, SHOWN_ENTRIES)
    .map((e) => `${e.name === "." ? SWTPM_LOCALCA : `${SWTPM_LOCALCA}/${e.name}`} (uid ${e.uid})`)
    .join(", ");
  const more = foreign.length > SHOWN_ENTRIES ? ` and ${foreign.length - SHOWN_ENTRIES} more` : "";
  return [
    {
      severity: "blocker",
      code: "swtpm-localca-owner",
      subject: "swtpm",
      message:
        `${forVms}, and libvirt runs swtpm_setup as ${ca.user} (uid ${ca.uid}), who does not own ${named}${more}: ` +
        `a TPM's first start fails ("Could not run '/usr/bin/swtpm_setup'"; its log: "Need read/write rights on ... ` +
        `for user ${ca.user}"). A swtpm run as root leaves them so (a libvirtd started before the ${ca.user} user existed)`,
      fix: `chown -R ${shellQuote(ca.user)} ${SWTPM_LOCALCA} (prepare-host.sh does this)`,
    },
  ];
}
