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

/** Kernel arguments whose names may already be on the line with other values, set as a group (see below). */
export interface ReplacedKernelArgs {
  /** Argument names whose earlier values are removed first. */
  readonly names: readonly string[];
  /** The arguments, appended in this order. */
  readonly args: readonly string[];
}

/**
 * Commands that add kernel arguments and rebuild the boot loader configuration, idempotently: an argument already on
 * the line is not added again. `replaced` arguments (huge page counts, which change as VMs come and go) first lose
 * every earlier `name=value` of their names, then are appended in their order (`hugepagesz=` and its `hugepages=` are
 * a pair): running the commands again gives the same line. grubby needs no removal: adding an argument replaces the
 * values of the same name (grubby-bls, update_args).
 */
export function kernelArgCommands(
  distro: LinuxDistro,
  args: readonly string[],
  replaced: ReplacedKernelArgs = { names: [], args: [] },
): string[] {
  if (!args.length && !replaced.args.length) return [];
  const bootLoader = DISTROS[distro].bootLoader;
  const all = [...args, ...replaced.args];
  if (bootLoader === "grubby") return [`grubby --update-kernel=ALL --args="${all.join(" ")}"`];
  const group = replaced.args.join(" ");
  const strip = `s/(^|[" ])(${replaced.names.join("|")})=[^ "]*/\\1/g;s/  +/ /g`;
  const grubReplace = `sed -i -E '/^GRUB_CMDLINE_LINUX_DEFAULT=/{${strip};s/ *"$/ ${group}"/;s/=" /="/}' /etc/default/grub`;
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
      ...(group
        ? [`[ ! -f /etc/kernel/cmdline ] || sed -i -E '1{${strip};s/ *$/ ${group}/;s/^ //}' /etc/kernel/cmdline`]
        : []),
      ...args.map((arg) => `[ ! -f /etc/default/grub ] || ${grubArgCommand(arg)}`),
      ...(group ? [`[ ! -f /etc/default/grub ] || ${grubReplace}`] : []),
      "if proxmox-boot-tool status --quiet >/dev/null 2>&1; then proxmox-boot-tool refresh; else update-grub; fi",
    ];
  }
  return [
    ...args.map(grubArgCommand),
    ...(group ? [grubReplace] : []),
    bootLoader === "grub-debian" ? "update-grub" : "grub-mkconfig -o /boot/grub/grub.cfg",
  ];
}

/** The distribution's command that installs packages (already installed ones are left as they are). */
export function installCommand(distro: LinuxDistro, packages: readonly string[]): string {
  const list = packages.join(" ");
  switch (distro) {
    case "fedora":
    case "rhel":
      return `dnf install -y ${list}`;
    case "arch":
      return `pacman -S --needed --noconfirm ${list}`;
    default:
      return `DEBIAN_FRONTEND=noninteractive apt-get install -y ${list}`;
  }
}

/** Restarts whichever daemon runs QEMU domains: monolithic libvirtd (Debian, Ubuntu, Arch) or modular virtqemud. */
export const RESTART_LIBVIRT = "systemctl try-restart libvirtd.service virtqemud.service 2>/dev/null || true";

/** The user libvirt runs swtpm as unless qemu.conf's `swtpm_user` says otherwise. */
export const SWTPM_USER = "tss";
/** swtpm's local CA, which signs each new TPM's certificates: it must belong to the swtpm user. */
export const SWTPM_LOCALCA = "/var/lib/swtpm-localca";

/** swtpm, the software TPM libvirt starts for a guest's `<tpm model="tpm-crb"><backend type="emulator"/>`. */
export function swtpmPackages(distro: LinuxDistro): string[] {
  // Arch's swtpm package carries swtpm_setup and swtpm_localca, which Debian and Fedora split into swtpm-tools.
  return distro === "arch" ? ["swtpm"] : ["swtpm", "swtpm-tools"];
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
