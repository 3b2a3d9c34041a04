/**
 * What every passthrough VM gets whatever the hypervisor, each value with its reason: the GPUs' functions, the
 * firmware, the 64-bit MMIO window, the memory reservation and whether the hypervisor is hidden. One pure function
 * of the VM's intent and the GPUs it was given; the constructs, every backend's renderer and the report read it.
 */
import { Op, Token } from "cdktf";
import type { HostGpu } from "./host";
import { MmioRequirement, requiredMmio, withOverride } from "./mmio";
import type { PciAddress } from "./pci/address";

export type Firmware = "efi" | "bios";

/** What the user asked for, as the VM's props give it (GPUs are allocated separately). */
export interface VmIntent {
  /** Virtual CPUs. */
  readonly cpus: number;
  /**
   * Cores per virtual socket; must divide `cpus`.
   * @default - cpus (one socket)
   */
  readonly coresPerSocket?: number;
  /** Guest memory in GiB. All of it is reserved: a passthrough VM cannot power on otherwise. */
  readonly memoryGib: number;
  /**
   * Guest firmware. GPUs that map more than 16 GB need EFI; BIOS is only allowed for small-BAR GPUs.
   * @default - "efi"
   */
  readonly firmware?: Firmware;
  /**
   * UEFI secure boot (EFI only).
   * @default - false; on vSphere, the template's (a clone without the setting would have it turned off)
   */
  readonly secureBoot?: boolean;
  /**
   * The 64-bit MMIO window in GB. Must be a power of two and at least what the GPUs map.
   * @default - computed from the GPU models' BAR sizes (see `mmio.ts`)
   */
  readonly mmioSizeGb?: number;
  /**
   * Hide the hypervisor from the guest (consumer NVIDIA drivers stop with error 43 when they see one).
   * @default - true when any of the VM's GPU models has the `hideHypervisor` quirk
   */
  readonly hideHypervisor?: boolean;
}

export interface DerivedVm {
  /** The GPUs, in the host's address order. */
  readonly gpus: readonly HostGpu[];
  /** Every PCI function passed by address (all functions of every GPU declared by address). */
  readonly pciFunctions: readonly PciAddress[];
  /** How many PCI devices the VM gets: every function of addressed GPUs, one per matched GPU. */
  readonly pciDeviceCount: number;
  readonly cpus: number;
  readonly coresPerSocket: number;
  readonly memoryMib: number;
  /** Equal to {@link memoryMib}: passthrough needs the guest's memory reserved in full (DMA pins it). */
  readonly memoryReservationMib: number;
  readonly firmware: Firmware;
  readonly secureBoot: boolean;
  /** The 64-bit MMIO window and the figures it was computed from. */
  readonly mmio: MmioRequirement;
  /** Why the override of the window was refused, when it was. */
  readonly mmioProblem?: string;
  readonly hideHypervisor: boolean;
  readonly hideHypervisorReason: string;
}

export function deriveVm(intent: VmIntent, gpus: readonly HostGpu[]): DerivedVm {
  const required = requiredMmio(gpus.map((g) => ({ gpu: g.label, model: g.model })));
  const mmio = withOverride(required, intent.mmioSizeGb);
  const needsHiding = [...new Set(gpus.filter((g) => g.model.quirks.hideHypervisor).map((g) => g.model.name))];
  // A Token (a variable, another resource's attribute) stays one: Terraform multiplies it.
  const memoryMib = Token.isUnresolved(intent.memoryGib)
    ? Token.asNumber(Op.mul(intent.memoryGib, 1024))
    : intent.memoryGib * 1024;
  return {
    gpus,
    pciFunctions: gpus.flatMap((g) => g.functions),
    pciDeviceCount: gpus.reduce((n, g) => n + Math.max(1, g.functions.length), 0),
    cpus: intent.cpus,
    coresPerSocket: intent.coresPerSocket ?? intent.cpus,
    memoryMib,
    memoryReservationMib: memoryMib,
    firmware: intent.firmware ?? "efi",
    secureBoot: intent.secureBoot ?? false,
    mmio: typeof mmio === "string" ? required : mmio,
    mmioProblem: typeof mmio === "string" ? mmio : undefined,
    hideHypervisor: intent.hideHypervisor ?? needsHiding.length > 0,
    hideHypervisorReason:
      intent.hideHypervisor !== undefined
        ? `set by the user (${intent.hideHypervisor})`
        : needsHiding.length
          ? `${needsHiding.join(", ")}: consumer driver refuses to run under a hypervisor (error 43)`
          : "no GPU of this VM needs it",
  };
}
