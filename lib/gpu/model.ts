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

/**
 * A workstation board's display mode (NVIDIA's Display Mode Selector tool): with its display outputs enabled BAR1 is a
 * 256 MiB window; displayless (compute, vGPU) it maps the whole memory through a large BAR1.
 */
export type DisplayMode = "displayless" | "display-enabled";
export const DISPLAY_MODES: readonly DisplayMode[] = ["displayless", "display-enabled"];

/** How a board on a host is configured, where its BARs depend on it. */
export interface BoardConfig {
  /**
   * Boards with display modes only. The default assumes the larger BAR1, so the window is never too small.
   * @default "displayless"
   */
  readonly displayMode?: DisplayMode;
  /**
   * Consumer boards only: Resizable BAR is on in the host's firmware, so BAR1 (AMD: BAR0) maps the whole VRAM.
   * @default false (passthrough guides turn it off; the catalog's figures assume it off)
   */
  readonly resizableBar?: boolean;
}

/** A figure the GPU's vendor publishes: the MMIO window one GPU needs, and where it is published. */
export interface VendorMmio {
  /** The window in GB for one GPU of this model. */
  readonly sizeGb: number;
  /** The table's name and URL. */
  readonly source: string;
}

/** Another PCI device id the same board ships under (a board revision, an LHR variant), with its pci.ids name. */
export interface OtherDeviceId {
  readonly deviceId: string;
  readonly pciName: string;
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
  /** The device name pci.ids gives `deviceId` (the catalog test checks it against the installed pci.ids). */
  readonly pciName?: string;
  /** Other device ids the board ships under; discover and preflight match them too. */
  readonly otherDeviceIds?: readonly OtherDeviceId[];
  /** The vendor's published window for one GPU: the computed window is never below it. */
  readonly vendorMmio?: VendorMmio;
  /**
   * BARs with the board's displays enabled (boards with display modes); `barsMib` is the displayless layout, the
   * default.
   */
  readonly displayEnabledBarsMib?: readonly number[];
  /** BARs with Resizable BAR on (consumer boards that support it); `barsMib` is the layout with it off, the default. */
  readonly resizableBarBarsMib?: readonly number[];
  /** Where the figures come from: URLs of captures, vendor documents, issues. */
  readonly sources: readonly string[];
  /** Why a figure is believed when no source confirms it; absent when every figure has a source. */
  readonly unverified?: string;
  /** How the board is configured on its host, once {@link configureModel} applied it (reports say which). */
  readonly configuration?: string;
}

/** Every device id of a model: function 0's and those of the other variants it ships as. */
export function modelDeviceIds(model: Pick<GpuModel, "deviceId" | "otherDeviceIds">): string[] {
  return [...(model.deviceId ? [model.deviceId] : []), ...(model.otherDeviceIds ?? []).map((o) => o.deviceId)];
}

/**
 * The model as the board is configured on its host: its BARs for that display mode or Resizable BAR setting.
 * @returns the configured model, or the problems (a setting the board does not have).
 */
export function configureModel(model: GpuModel, config: BoardConfig = {}): GpuModel | string[] {
  const problems: string[] = [];
  if (config.displayMode !== undefined && !DISPLAY_MODES.includes(config.displayMode)) {
    problems.push(
      `displayMode "${String(config.displayMode)}" is not a display mode: write displayless or display-enabled`,
    );
  } else if (config.displayMode !== undefined && !model.displayEnabledBarsMib) {
    problems.push(
      `displayMode is set but ${model.name} has no display modes (its BARs do not depend on one): leave displayMode out`,
    );
  }
  if (config.resizableBar !== undefined && typeof config.resizableBar !== "boolean") {
    problems.push(`resizableBar "${String(config.resizableBar)}" must be true or false`);
  } else if (config.resizableBar === true && !model.resizableBarBarsMib) {
    problems.push(
      `resizableBar is set but the catalog has no Resizable BAR layout for ${model.name}: leave resizableBar out, or ` +
        "declare the model by the BAR sizes lspci -vv shows (model: { name, barsMib })",
    );
  }
  if (problems.length) return problems;
  if (config.displayMode === "display-enabled" && model.displayEnabledBarsMib) {
    // NVIDIA's MMIO table is for the board displayless (vGPU needs that mode): it does not apply with displays on.
    const { vendorMmio: _vendorFigureIsForDisplayless, ...rest } = model;
    return {
      ...rest,
      barsMib: model.displayEnabledBarsMib,
      configuration: "displays enabled (Display Mode Selector): BAR1 256 MiB",
    };
  }
  if (config.resizableBar && model.resizableBarBarsMib) {
    return { ...model, barsMib: model.resizableBarBarsMib, configuration: "Resizable BAR on: BAR maps the whole VRAM" };
  }
  if (model.displayEnabledBarsMib) {
    return {
      ...model,
      configuration: "displayless (the default: the larger BAR1; say displayMode: display-enabled otherwise)",
    };
  }
  if (model.resizableBarBarsMib) {
    return { ...model, configuration: "Resizable BAR off (the default; say resizableBar: true if the host has it on)" };
  }
  return model;
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
    sources: ["declared by the user"],
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
