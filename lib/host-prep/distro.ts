/**
 * What differs between the Linux distributions of KVM hosts when preparing them: the tool that puts the vfio modules
 * in the initramfs, and how kernel arguments reach the boot loader. Proxmox VE nodes are Debian underneath, but boot
 * with GRUB (kernel arguments in /etc/default/grub) or, on ZFS root with UEFI, systemd-boot (the one line of
 * /etc/kernel/cmdline), which `proxmox-boot-tool refresh` writes to the boot partitions (pve-docs, system-booting.adoc
 * "Editing the Kernel Commandline").
 */

export type LinuxDistro = "debian" | "ubuntu" | "fedora" | "rhel" | "arch" | "proxmox";

export interface InitramfsTool {
  readonly name: "initramfs-tools" | "dracut" | "mkinitcpio";
  /** The file that lists modules to put in the initramfs, and the lines to add to it. */
  readonly file: string;
  readonly lines: (modules: readonly string[]) => string[];
  /** The command that rebuilds every installed kernel's initramfs. */
  readonly rebuild: string;
}

/** Modules vfio-pci needs before any GPU driver loads; in the initramfs so they claim the GPUs early. */
export const VFIO_MODULES = ["vfio_pci", "vfio", "vfio_iommu_type1"] as const;

type BootLoader = "grub-debian" | "grubby" | "grub-arch" | "proxmox";

const INITRAMFS_TOOLS: InitramfsTool = {
  name: "initramfs-tools",
  file: "/etc/initramfs-tools/modules",
  lines: (modules) => [...modules],
  rebuild: "update-initramfs -u -k all",
};

const DRACUT: InitramfsTool = {
  name: "dracut",
  file: "/etc/dracut.conf.d/vfio.conf",
  lines: (modules) => [`force_drivers+=" ${modules.join(" ")} "`],
  rebuild: "dracut -f --regenerate-all",
};

const MKINITCPIO: InitramfsTool = {
  name: "mkinitcpio",
  file: "/etc/mkinitcpio.conf.d/vfio.conf",
  lines: (modules) => [`MODULES+=(${modules.join(" ")})`],
  rebuild: "mkinitcpio -P",
};

const DISTROS: Record<
  LinuxDistro,
  { readonly initramfs: InitramfsTool; readonly bootLoader: BootLoader; readonly bootNote?: string }
> = {
  debian: { initramfs: INITRAMFS_TOOLS, bootLoader: "grub-debian" },
  ubuntu: { initramfs: INITRAMFS_TOOLS, bootLoader: "grub-debian" },
  fedora: { initramfs: DRACUT, bootLoader: "grubby" },
  rhel: { initramfs: DRACUT, bootLoader: "grubby" },
  arch: { initramfs: MKINITCPIO, bootLoader: "grub-arch" },
  proxmox: {
    initramfs: INITRAMFS_TOOLS,
    bootLoader: "proxmox",
    bootNote:
      "Proxmox VE boots with GRUB (kernel arguments in /etc/default/grub) or, on ZFS root with UEFI, systemd-boot " +
      "(/etc/kernel/cmdline): the script adds the arguments to each of these files that exists, then runs " +
      "proxmox-boot-tool refresh when proxmox-boot-tool manages the boot partitions, else update-grub",
  },
};

/** What people should know about how the distribution boots, for the plan's notes. */
export function bootLoaderNotes(distro: LinuxDistro): string[] {
  const note = DISTROS[distro].bootNote;
  return note ? [note] : [];
}

export function initramfsTool(distro: LinuxDistro): InitramfsTool {
  return DISTROS[distro].initramfs;
}

/** Adds an argument to GRUB_CMDLINE_LINUX_DEFAULT unless the line has it. */
function grubArgCommand(arg: string): string {
  return (
    `grep -q '^GRUB_CMDLINE_LINUX_DEFAULT=.*[" ]${arg}[" ]' /etc/default/grub || ` +
    `sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT="\\(.*\\)"/GRUB_CMDLINE_LINUX_DEFAULT="\\1 ${arg}"/' /etc/default/grub`
  );
}

/**
 * Commands that add kernel arguments and rebuild the boot loader configuration, idempotently: an argument already on
 * the line is not added again.
 */
export function kernelArgCommands(distro: LinuxDistro, args: readonly string[]): string[] {
  if (!args.length) return [];
  const bootLoader = DISTROS[distro].bootLoader;
  if (bootLoader === "grubby") return [`grubby --update-kernel=ALL --args="${args.join(" ")}"`];
  if (bootLoader === "proxmox") {
    // Which loader a node uses depends on how it was installed: edit each file that exists (the other loader never
    // reads its file), then let proxmox-boot-tool apply them if it manages the boot partitions ("status" exits 2 when
    // it does not), else GRUB's own update-grub.
    return [
      ...args.map(
        (arg) =>
          `[ ! -f /etc/kernel/cmdline ] || grep -qE '(^| )${arg}( |$)' /etc/kernel/cmdline || ` +
          `sed -i '1s/$/ ${arg}/' /etc/kernel/cmdline`,
      ),
      ...args.map((arg) => `[ ! -f /etc/default/grub ] || ${grubArgCommand(arg)}`),
      "if proxmox-boot-tool status --quiet >/dev/null 2>&1; then proxmox-boot-tool refresh; else update-grub; fi",
    ];
  }
  return [
    ...args.map(grubArgCommand),
    bootLoader === "grub-debian" ? "update-grub" : "grub-mkconfig -o /boot/grub/grub.cfg",
  ];
}

/** How to add kernel arguments on the common distributions, for people (preflight does not know the distribution). */
export function kernelArgsHowTo(args: readonly string[]): string {
  const joined = args.join(" ");
  return (
    `add "${joined}" to the kernel command line: append it to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub and run ` +
    `update-grub (Debian, Ubuntu, Proxmox VE with GRUB), or run grubby --update-kernel=ALL --args="${joined}" ` +
    "(Fedora, RHEL), or append it to the line in /etc/kernel/cmdline and run proxmox-boot-tool refresh (Proxmox VE " +
    "with systemd-boot); then reboot"
  );
}

/** The distributions' commands that rebuild the initramfs, for people: `update-initramfs -u -k all, ... or ...`. */
export function initramfsRebuildHowTo(): string {
  const commands = [...new Set(Object.values(DISTROS).map((d) => d.initramfs.rebuild))];
  return `${commands.slice(0, -1).join(", ")} or ${commands[commands.length - 1]}`;
}
