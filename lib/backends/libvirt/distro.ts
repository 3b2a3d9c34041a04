/**
 * What differs between Linux distributions on a KVM host: where the OVMF (UEFI) firmware files are, and which tools
 * rebuild the initramfs and the boot loader configuration. Paths are from each distribution's edk2/ovmf package
 * (see shared/reference/libvirt.md "Firmware"); a host with other paths gives `ovmf` explicitly.
 */

export type HostDistro = "debian" | "ubuntu" | "fedora" | "rhel" | "arch";

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

export interface InitramfsTool {
  readonly name: "initramfs-tools" | "dracut" | "mkinitcpio";
  /** The file that lists modules to put in the initramfs, and the lines to add to it. */
  readonly file: string;
  readonly lines: (modules: readonly string[]) => string[];
  /** The command that rebuilds every installed kernel's initramfs. */
  readonly rebuild: string;
}

export interface DistroTools {
  readonly ovmf: OvmfPaths;
  readonly initramfs: InitramfsTool;
  /** How kernel arguments are added and the boot loader updated. */
  readonly bootloader: "grub-debian" | "grubby" | "grub-arch";
}

/** Modules vfio-pci needs before any GPU driver loads; in the initramfs so they claim the GPUs early. */
export const VFIO_MODULES = ["vfio_pci", "vfio", "vfio_iommu_type1"] as const;

const DEBIAN: DistroTools = {
  ovmf: {
    code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    vars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
    secureCode: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
    secureVars: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
  },
  initramfs: {
    name: "initramfs-tools",
    file: "/etc/initramfs-tools/modules",
    lines: (modules) => [...modules],
    rebuild: "update-initramfs -u -k all",
  },
  bootloader: "grub-debian",
};

const FEDORA: DistroTools = {
  ovmf: {
    code: "/usr/share/edk2/ovmf/OVMF_CODE.fd",
    vars: "/usr/share/edk2/ovmf/OVMF_VARS.fd",
    secureCode: "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
    secureVars: "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd",
  },
  initramfs: {
    name: "dracut",
    file: "/etc/dracut.conf.d/vfio.conf",
    lines: (modules) => [`force_drivers+=" ${modules.join(" ")} "`],
    rebuild: "dracut -f --regenerate-all",
  },
  bootloader: "grubby",
};

const ARCH: DistroTools = {
  ovmf: {
    code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
    vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    secureCode: "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd",
    // Arch ships no variable store with Microsoft's keys; enroll them in the guest (sbctl) or give `ovmf.secureVars`.
    secureVars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
  },
  initramfs: {
    name: "mkinitcpio",
    file: "/etc/mkinitcpio.conf.d/vfio.conf",
    lines: (modules) => [`MODULES+=(${modules.join(" ")})`],
    rebuild: "mkinitcpio -P",
  },
  bootloader: "grub-arch",
};

const DISTROS: Record<HostDistro, DistroTools> = {
  debian: DEBIAN,
  ubuntu: DEBIAN,
  fedora: FEDORA,
  rhel: FEDORA,
  arch: ARCH,
};

export function distroTools(distro: HostDistro): DistroTools {
  return DISTROS[distro];
}

/** The distribution's OVMF paths with the host's own overrides. */
export function ovmfPaths(distro: HostDistro, overrides: Partial<OvmfPaths> = {}): OvmfPaths {
  return { ...DISTROS[distro].ovmf, ...overrides };
}

/**
 * Commands that add kernel arguments and rebuild the boot loader configuration, idempotently: an argument already on
 * the line is not added again.
 */
export function kernelArgCommands(distro: HostDistro, args: readonly string[]): string[] {
  if (!args.length) return [];
  const tools = DISTROS[distro];
  if (tools.bootloader === "grubby") return [`grubby --update-kernel=ALL --args="${args.join(" ")}"`];
  const add = args.map(
    (arg) =>
      `grep -q '^GRUB_CMDLINE_LINUX_DEFAULT=.*[" ]${arg}[" ]' /etc/default/grub || ` +
      `sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT="\\(.*\\)"/GRUB_CMDLINE_LINUX_DEFAULT="\\1 ${arg}"/' /etc/default/grub`,
  );
  return [...add, tools.bootloader === "grub-debian" ? "update-grub" : "grub-mkconfig -o /boot/grub/grub.cfg"];
}
