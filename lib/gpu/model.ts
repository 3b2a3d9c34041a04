/**
 * What the product needs to know about a GPU model to pass it through: how much address space it maps
 * (its PCI BARs), which PCI functions travel with it, and the vendor quirks that change the VM's settings.
 */

/** A PCI function of the GPU other than the display controller at function 0. */
export interface GpuFunction {
  /** PCI function number (1-7). */
  readonly fn: number;
  /** What the function is, for reports and host preparation. */
  readonly kind: "audio" | "usb" | "serial-bus" | "other";
  /** PCI device id (4 hex digits), used for `vfio-pci.ids`. Absent when the vendor does not publish it. */
  readonly deviceId?: string;
}

export interface GpuQuirks {
  /**
   * The consumer driver refuses to run under a hypervisor (NVIDIA GeForce before driver 465: "error 43"),
   * so the hypervisor must be hidden from the guest (`hypervisor.cpuid.v0 = FALSE` on vSphere, `kvm.hidden` on KVM).
   * @default false
   */
  readonly hideHypervisor?: boolean;
  /**
   * The GPU does not reset cleanly when the VM stops (AMD Polaris/Vega/Navi "reset bug"): a second VM start
   * fails with "failed to reset PCI device" until the host reboots. KVM hosts work around it with vendor-reset.
   * @default false
   */
  readonly resetBug?: boolean;
}

export interface GpuModel {
  /** Catalog key, lower-case with dashes, e.g. `nvidia-a100-80gb`. */
  readonly id: string;
  /** Marketing name, e.g. `NVIDIA A100 80GB PCIe`. */
  readonly name: string;
  readonly vendor: "nvidia" | "amd" | "intel" | "other";
  /** Data-center cards never need the hypervisor hidden; consumer cards often do. */
  readonly segment: "datacenter" | "workstation" | "consumer";
  /** PCI vendor id of function 0 (4 hex digits, lower case): `10de` NVIDIA, `1002` AMD, `8086` Intel. */
  readonly vendorId?: string;
  /** PCI device id of function 0 (4 hex digits, lower case). */
  readonly deviceId?: string;
  /**
   * Sizes of the memory BARs of function 0, in MiB (e.g. `[16, 131072, 32]` for BAR0, BAR1, BAR3).
   * Their sum is what the device maps, the input of the MMIO sizing.
   */
  readonly barsMib: readonly number[];
  /** Functions other than 0 that belong to the same GPU and are passed with it. */
  readonly functions: readonly GpuFunction[];
  readonly quirks: GpuQuirks;
}

/**
 * A GPU model the catalog lacks, declared by its BAR sizes. Everything the catalog would know is optional
 * except what the MMIO sizing needs.
 */
export interface CustomGpuModel {
  /** A name for reports and errors. */
  readonly name: string;
  /** BAR sizes in MiB, as `lspci -vv` ("Region N: Memory at ... [size=32G]") or the vendor's brief give them. */
  readonly barsMib: readonly number[];
  /** @default "other" */
  readonly vendor?: GpuModel["vendor"];
  /** @default "datacenter" */
  readonly segment?: GpuModel["segment"];
  readonly vendorId?: string;
  readonly deviceId?: string;
  /** @default [] */
  readonly functions?: readonly GpuFunction[];
  /** @default {} */
  readonly quirks?: GpuQuirks;
}

const MIB_PER_GIB = 1024;

/** Total address space one GPU maps, in MiB: the sum of its BARs. */
export function mappedMib(model: Pick<GpuModel, "barsMib">): number {
  return model.barsMib.reduce((sum, bar) => sum + bar, 0);
}

/** A BAR size in bytes as whole MiB, rounded up so that a sum never understates what a device maps. */
export function mibFromBytes(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}

/** Formats MiB for people: `128 GiB`, `16.05 GiB`, `256 MiB`. */
export function formatMib(mib: number): string {
  if (mib < MIB_PER_GIB) return `${mib} MiB`;
  const gib = mib / MIB_PER_GIB;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(2)} GiB`;
}

/** Turns a user's custom declaration into a model with the catalog's shape. */
export function customModel(custom: CustomGpuModel): GpuModel {
  return {
    id: `custom:${custom.name}`,
    name: custom.name,
    vendor: custom.vendor ?? "other",
    segment: custom.segment ?? "datacenter",
    vendorId: custom.vendorId?.toLowerCase(),
    deviceId: custom.deviceId?.toLowerCase(),
    barsMib: [...custom.barsMib],
    functions: [...(custom.functions ?? [])],
    quirks: { ...custom.quirks },
  };
}

/** Problems with a custom model's figures, worded for the user who typed them. */
export function customModelProblems(custom: CustomGpuModel): string[] {
  const problems: string[] = [];
  if (custom.barsMib.length === 0) {
    problems.push(`GPU model "${custom.name}" declares no BARs: give barsMib, e.g. [16, 32768, 32] from lspci -vv`);
  }
  custom.barsMib.forEach((bar, i) => {
    if (!Number.isInteger(bar) || bar <= 0) {
      problems.push(`GPU model "${custom.name}" barsMib[${i}] is ${bar}: each BAR is a whole, positive number of MiB`);
    }
  });
  for (const f of custom.functions ?? []) {
    if (!Number.isInteger(f.fn) || f.fn < 1 || f.fn > 7) {
      problems.push(
        `GPU model "${custom.name}" function ${f.fn}: extra functions are numbered 1-7 (0 is the GPU itself)`,
      );
    }
  }
  for (const [field, value] of [
    ["vendorId", custom.vendorId],
    ["deviceId", custom.deviceId],
  ] as const) {
    if (value !== undefined && !/^[0-9a-fA-F]{4}$/.test(value)) {
      problems.push(`GPU model "${custom.name}" ${field} "${value}" must be 4 hex digits, as lspci -nn shows it`);
    }
  }
  return problems;
}
