/**
 * Host preparation for KVM passthrough, as the peers' tools do it (quickpassthrough, nixos-vfio; see
 * shared/reference/libvirt.md "Host preparation"): the IOMMU kernel arguments for the CPU vendor, `iommu=pt`, and
 * vfio-pci claiming the guest GPUs' functions at boot. Everything here returns text to show; nothing is run.
 */
import { CpuVendor, HostDevice, HostInventory } from "./inventory";

export interface HostPrep {
  /** Kernel arguments to add, e.g. `intel_iommu=on`, `iommu=pt`, `vfio-pci.ids=10de:2204,10de:1aef`. */
  readonly kernelArgs: readonly string[];
  /** Lines for /etc/modprobe.d/vfio.conf so vfio-pci claims the GPUs before their vendor drivers. */
  readonly modprobe: readonly string[];
  /**
   * Addresses to bind with `driverctl set-override ADDR vfio-pci` instead of vfio-pci.ids, because a device the host
   * keeps has the same vendor:device (two identical cards, one for the host): ids cannot tell them apart.
   */
  readonly driverOverrides: readonly string[];
  /** How to apply the kernel arguments, for people. */
  readonly howTo: string;
}

/** The argument that turns the IOMMU on for this CPU vendor (the AMD one is a no-op on recent kernels, but harmless). */
export function iommuArg(vendor: CpuVendor): string | undefined {
  if (vendor === "intel") return "intel_iommu=on";
  if (vendor === "amd") return "amd_iommu=on";
  return undefined;
}

/** `vendor:device` pairs in the order met, without repeats. */
export function vfioPciIds(functions: readonly Pick<HostDevice, "vendorId" | "deviceId">[]): string[] {
  const ids = functions.filter((f) => f.vendorId && f.deviceId).map((f) => `${f.vendorId}:${f.deviceId}`);
  return [...new Set(ids)];
}

/** The ids already given to vfio-pci on the command line (`vfio-pci.ids=` or `vfio_pci.ids=`). */
export function currentVfioIds(args: readonly string[]): string[] {
  return args
    .filter((a) => /^vfio[-_]pci\.ids=/.test(a))
    .flatMap((a) => a.slice(a.indexOf("=") + 1).split(","))
    .map((id) => id.toLowerCase())
    .filter(Boolean);
}

/** How to add kernel arguments on the common distributions. */
export function kernelArgsHowTo(args: readonly string[]): string {
  const joined = args.join(" ");
  return (
    `add "${joined}" to the kernel command line: append it to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub and run ` +
    `update-grub (Debian, Ubuntu), or run grubby --update-kernel=ALL --args="${joined}" (Fedora, RHEL); then reboot`
  );
}

/**
 * Commands that move functions to vfio-pci now, without a reboot (lost at the next boot): unbind from the current
 * driver, then let vfio-pci claim the device through driver_override.
 */
export function rebindCommands(functions: readonly Pick<HostDevice, "address" | "driver">[]): string[] {
  return [
    "modprobe vfio-pci",
    ...functions.flatMap((f) => [
      ...(f.driver ? [`echo ${f.address} > /sys/bus/pci/devices/${f.address}/driver/unbind`] : []),
      `echo vfio-pci > /sys/bus/pci/devices/${f.address}/driver_override`,
      `echo ${f.address} > /sys/bus/pci/drivers_probe`,
    ]),
  ];
}

/**
 * What the host needs so that the guest GPUs' functions are ready for VMs at every boot.
 * @param guestFunctions the functions of the GPUs the fleet gives to guests, as found on the host.
 */
export function hostPrep(inv: HostInventory, guestFunctions: readonly HostDevice[]): HostPrep {
  const args: string[] = [];
  const iommuOn = iommuArg(inv.cpu.vendor);
  if (!inv.iommu.active && iommuOn && !inv.kernel.args.includes(iommuOn)) args.push(iommuOn);
  if (!inv.kernel.args.includes("iommu=pt")) args.push("iommu=pt");

  const unbound = guestFunctions.filter((f) => f.driver !== "vfio-pci");
  const guestAddresses = new Set(guestFunctions.map((f) => f.address));
  const ids = vfioPciIds(guestFunctions);
  // A device the host keeps with one of these ids would be taken by vfio-pci.ids too: bind by address instead.
  const clash = inv.devices.some((d) => !guestAddresses.has(d.address) && ids.includes(`${d.vendorId}:${d.deviceId}`));
  const current = currentVfioIds(inv.kernel.args);
  const wantIds = unbound.length > 0 && !clash && ids.some((id) => !current.includes(id));
  if (wantIds) args.push(`vfio-pci.ids=${[...new Set([...current, ...ids])].join(",")}`);

  // softdep names modules, not drivers; a built-in driver has no module and cannot be ordered this way.
  const modules = unbound.map((f) => (f.driver ? inv.driverModules[f.driver] : undefined));
  return {
    kernelArgs: args,
    modprobe: [...new Set(modules.filter((m): m is string => m !== undefined))].map(
      (m) => `softdep ${m} pre: vfio-pci`,
    ),
    driverOverrides: clash ? unbound.map((f) => f.address) : [],
    howTo: args.length ? kernelArgsHowTo(args) : "",
  };
}
