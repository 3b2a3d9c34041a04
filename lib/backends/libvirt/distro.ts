/**
 * Where each Linux distribution of a KVM host keeps the OVMF (UEFI) firmware files. Paths are from each
 * distribution's edk2/ovmf package (see shared/reference/libvirt.md "Firmware"); a host with other paths gives `ovmf`
 * explicitly. What else differs between distributions (initramfs and boot loader tools) is in lib/host-prep/distro.ts.
 */
import { LinuxDistro } from "../../host-prep/distro";

/** The distributions of libvirt hosts: Proxmox VE nodes run their own VM manager, not libvirt. */
export type HostDistro = Exclude<LinuxDistro, "proxmox">;

/** The OVMF firmware files a domain boots from: code (read-only pflash) and the template of its variable store. */
export interface OvmfPaths {
  /** Firmware code, e.g. `/usr/share/OVMF/OVMF_CODE_4M.fd`. */
  readonly code: string;
  /** Template copied into each domain's NVRAM, e.g. `/usr/share/OVMF/OVMF_VARS_4M.fd`. */
  readonly vars: string;
  /** Code built with Secure Boot and SMM, e.g. `/usr/share/OVMF/OVMF_CODE_4M.ms.fd`. */
  readonly secureCode: string;
  /** Variable store with Microsoft's keys enrolled, e.g. `/usr/share/OVMF/OVMF_VARS_4M.ms.fd`. */
  readonly secureVars: string;
}

const DEBIAN: OvmfPaths = {
  code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
  vars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
  secureCode: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
  secureVars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
};

const FEDORA: OvmfPaths = {
  code: "/usr/share/edk2/ovmf/OVMF_CODE.fd",
  vars: "/usr/share/edk2/ovmf/OVMF_VARS.fd",
  secureCode: "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
  secureVars: "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd",
};

const ARCH: OvmfPaths = {
  code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
  vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
  secureCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd",
  // Arch ships no variable store with Microsoft's keys; enroll them in the guest (sbctl) or give `ovmf.secureVars`.
  secureVars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
};

const OVMF: Record<HostDistro, OvmfPaths> = {
  debian: DEBIAN,
  ubuntu: DEBIAN,
  fedora: FEDORA,
  rhel: FEDORA,
  arch: ARCH,
};

/** The distribution's OVMF paths with the host's own overrides. */
export function ovmfPaths(distro: HostDistro, overrides: Partial<OvmfPaths> = {}): OvmfPaths {
  return { ...OVMF[distro], ...overrides };
}
