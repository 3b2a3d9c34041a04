/**
 * Host preparation for a live host: the rules of lib/host-prep (kernel arguments for the CPU vendor, vfio-pci ids or
 * driverctl overrides, softdeps) applied to what the host already has, so that only what it lacks is suggested, and
 * the commands that move functions to vfio-pci now. Everything here returns text to show; nothing is run.
 */
import { asCpuVendor } from "../host-prep/cpu";
import { kernelArgsHowTo } from "../host-prep/distro";
import { bindingFor, kernelArgsFor, softdepLines } from "../host-prep/plan";
import { HostDevice, HostInventory } from "./inventory";

export { currentVfioIds } from "../host-prep/plan";

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

/** `vendor:device` of a device, when both were readable. */
function idOf(d: Pick<HostDevice, "vendorId" | "deviceId">): string | undefined {
  return d.vendorId && d.deviceId ? `${d.vendorId}:${d.deviceId}` : undefined;
}

/** `vendor:device` pairs in the order met, without repeats. */
export function vfioPciIds(functions: readonly Pick<HostDevice, "vendorId" | "deviceId">[]): string[] {
  return [...new Set(functions.flatMap((f) => idOf(f) ?? []))];
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
  const guest = new Set(guestFunctions.map((f) => f.address));
  const binding = bindingFor(
    guestFunctions.map((f) => ({ address: f.address, id: idOf(f) })),
    // Every device the host keeps: vfio-pci.ids would take one with a guest function's id too.
    inv.devices.filter((d) => !guest.has(d.address)).flatMap((d) => idOf(d) ?? []),
  );
  const unbound = guestFunctions.filter((f) => f.driver !== "vfio-pci");
  const args = kernelArgsFor(asCpuVendor(inv.cpu.vendor), unbound.length ? binding.ids : [], {
    args: inv.kernel.args,
    iommuActive: inv.iommu.active,
  });
  // softdep names modules, not drivers; a built-in driver has no module and cannot be ordered this way.
  const modules = unbound.flatMap((f) => (f.driver && inv.driverModules[f.driver]) || []);
  return {
    kernelArgs: args,
    modprobe: softdepLines(modules),
    driverOverrides: binding.bindBy === "address" ? unbound.map((f) => f.address) : [],
    howTo: args.length ? kernelArgsHowTo(args) : "",
  };
}
