/**
 * What a libvirt guest gets from its operating system, the way VFIO guides build it (Arch wiki "PCI passthrough via
 * OVMF", virt-manager's defaults, Red Hat's tuning guide): Windows gets a TPM, secure boot, the Hyper-V enlightenments
 * with hypervclock and a local-time clock, and SATA/e1000e unless its image has the virtio drivers; every guest gets
 * HPET off, a hard memory limit beside its locked memory, no balloon and a serial console. Pure: the renderer writes
 * it, the report explains it, the host preparation reads what the host must provide.
 */
import type { DomainConfig } from "../../../.gen/providers/libvirt/domain";
import type { GuestHostNeeds } from "../../host-prep/hugepages";
import type { GpuPassthroughVm } from "../../vm";
import type { VmBackendSetting } from "../backend";
import { gpuNodes } from "./numa";
import type { LibvirtGuestOs, LibvirtVmOptions } from "./vm-options";

/** libvirt's own allowance for a VFIO guest's locked memory beyond its RAM (qemuDomainGetMemLockLimitBytes). */
export const QEMU_OVERHEAD_MIB = 1024;

export interface GuestProfile {
  readonly os: LibvirtGuestOs;
  readonly tpm: boolean;
  readonly virtio: boolean;
  readonly diskBus: "virtio" | "sata";
  /** The boot disk's device name on its bus. */
  readonly diskDev: "vda" | "sda";
  readonly nicModel: "virtio" | "e1000e";
  /** A NoCloud seed ISO is attached: Linux always, Windows when `cloudInit` is given (cloudbase-init). */
  readonly seed: boolean;
  readonly hardLimitMib: number;
}

export function guestProfile(vm: Pick<GpuPassthroughVm, "memoryMib">, opts: LibvirtVmOptions): GuestProfile {
  const os = opts.guestOs ?? "linux";
  const windows = os === "windows";
  const virtio = opts.virtioDrivers ?? !windows;
  return {
    os,
    tpm: opts.tpm ?? windows,
    virtio,
    diskBus: virtio ? "virtio" : "sata",
    diskDev: virtio ? "vda" : "sda",
    nicModel: virtio ? "virtio" : "e1000e",
    seed: !windows || opts.cloudInit !== undefined,
    hardLimitMib: opts.memoryHardLimitMib ?? vm.memoryMib + QEMU_OVERHEAD_MIB,
  };
}

/** Secure boot for an EFI guest that does not say: Windows 11 requires it. */
export const secureBootDefault = (opts: LibvirtVmOptions | undefined): boolean | undefined =>
  opts?.guestOs === "windows" ? true : undefined;

/** What the host must provide for this guest: its huge pages on its GPUs' nodes, swtpm (lib/host-prep plans it). */
export function guestHostNeeds(vm: GpuPassthroughVm, opts: LibvirtVmOptions): GuestHostNeeds {
  return {
    vm: vm.vmName,
    memoryMib: vm.memoryMib,
    ...(opts.hugepages ? { hugepages: opts.hugepages } : {}),
    numaNodes: gpuNodes(vm.gpus),
    tpm: guestProfile(vm, opts).tpm,
  };
}

/** The guest settings with their reasons, for the report. */
export function guestSettings(vm: GpuPassthroughVm, opts: LibvirtVmOptions): VmBackendSetting[] {
  const g = guestProfile(vm, opts);
  const windows = g.os === "windows";
  const settings: VmBackendSetting[] = [];
  const add = (setting: string, value: string, why: string) => settings.push({ setting, value, why });
  if (g.tpm) {
    add(
      "TPM",
      "TPM 2.0 (CRB), swtpm emulator",
      windows ? "Windows 11 requires TPM 2.0; the host preparation installs swtpm" : "libvirt.tpm is set",
    );
  }
  if (windows) {
    add(
      "Hyper-V enlightenments",
      enlightenmentNames(hyperVEnlightenments(false, g, opts)),
      "Windows schedules, times and flushes TLBs through them instead of trapping to emulated hardware (latency, DPC spikes)",
    );
  }
  add(
    "clock",
    windows
      ? "local time; hypervclock on, HPET off, RTC catch-up, PIT delay"
      : "UTC; HPET off, RTC catch-up, PIT delay",
    windows
      ? "Windows keeps the RTC in local time; hypervclock is its stable time source and HPET only adds timer interrupts"
      : "Linux keeps the RTC in UTC and uses kvmclock; HPET only adds timer interrupts",
  );
  add(
    "boot disk and NIC",
    `${g.diskBus} disk, ${g.nicModel} NIC`,
    g.virtio
      ? windows
        ? "libvirt.virtioDrivers: the base image has virtio-win's viostor and NetKVM"
        : "every Linux has the virtio drivers"
      : "the base image has no virtio drivers (set libvirt.virtioDrivers once virtio-win's viostor and NetKVM are in it): Windows would not find a virtio boot disk",
  );
  add(
    "guest initialization",
    g.seed ? "NoCloud seed ISO (cidata)" : "none",
    g.seed
      ? windows
        ? "cloudbase-init's NoCloud service in the base image reads it"
        : "cloud images run cloud-init at first boot"
      : "Windows has no cloud-init: give libvirt.cloudInit only if the base image has cloudbase-init",
  );
  add(
    "memory hard limit",
    `${g.hardLimitMib} MiB`,
    opts.memoryHardLimitMib !== undefined
      ? "libvirt.memoryHardLimitMib"
      : `locked memory without a hard limit lets QEMU lock without bound (Red Hat requires one): guest memory + ${QEMU_OVERHEAD_MIB} MiB for QEMU, libvirt's own VFIO allowance`,
  );
  add("memory balloon", "none", "VFIO pins all guest memory: a balloon could not return any, only confuse the guest");
  add(
    "serial console",
    "pty on ttyS0",
    "`virsh console` reaches the guest when the GPU shows nothing or the network is down",
  );
  return settings;
}

const DEFAULT_HYPERV_VENDOR_ID = "0123456789ab";
const ON = { state: "on" } as const;
type HyperV = NonNullable<NonNullable<DomainConfig["features"]>["hyperV"]>;

/**
 * Hyper-V enlightenments: Windows gets the set VFIO guides give (the timers need hypervclock, which the clock turns
 * on); a hidden hypervisor also needs a vendor id that is not KVM's. Linux gets only what hiding needs. The renderer
 * writes it, and the report names it from the same object.
 */
export function hyperVEnlightenments(hidden: boolean, guest: GuestProfile, opts: LibvirtVmOptions): HyperV | undefined {
  const vendorId = hidden
    ? { vendorId: { state: "on", value: opts.hypervisorVendorId ?? DEFAULT_HYPERV_VENDOR_ID } }
    : {};
  if (guest.os === "windows") {
    return {
      mode: "custom",
      relaxed: ON,
      vapic: ON,
      spinlocks: { state: "on", retries: 8191 },
      vpIndex: ON,
      runtime: ON,
      synic: ON,
      stimer: { state: "on", direct: ON },
      reset: ON,
      ...vendorId,
      frequencies: ON,
      tlbFlush: ON,
      ipi: ON,
    };
  }
  return hidden
    ? { mode: "custom", relaxed: ON, vapic: ON, spinlocks: { state: "on", retries: 8191 }, ...vendorId }
    : undefined;
}

/** The enlightenments as libvirt's elements name them (`vpIndex` is `<vpindex>`), with their settings. */
function enlightenmentNames(set: HyperV | undefined): string {
  return Object.entries(set ?? {})
    .filter(([key]) => key !== "mode" && key !== "vendorId")
    .map(([key, value]) => {
      const v = value as { retries?: number; direct?: unknown };
      return `${key.toLowerCase()}${v.retries !== undefined ? ` ${v.retries}` : ""}${v.direct ? " (direct)" : ""}`;
    })
    .join(", ");
}
