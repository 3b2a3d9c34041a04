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
  readonly cpus: number;
  readonly coresPerSocket?: number;
  readonly memoryGib: number;
  readonly firmware?: Firmware;
  readonly secureBoot?: boolean;
  readonly mmioSizeGb?: number;
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
