/**
 * Which of a fleet host's GPUs each of its VMs holds, as synth allocates them (lib/allocation.ts): VMs that name
 * their GPUs by address take them first, then VMs that ask for a count take the lowest free guest GPUs, in VM name
 * order (the construct path of one stack's VMs). Preflight needs it to judge a GPU by the VM that gets it.
 */
import type { FleetHost, FleetVm } from "../fleet/schema";
import { guestProfile } from "../backends/libvirt/guest";
import type { LibvirtVmOptions } from "../backends/libvirt/vm-options";
import { HugePageSize } from "../host-prep/hugepages";
import { PciAddress } from "../pci/address";
import { compareText } from "../text";

/** A fleet VM of the host as preflight needs it. */
export interface HostVm {
  readonly name: string;
  readonly memoryMib: number;
  /** Addresses (function 0) of its GPUs, in address order. */
  readonly gpus: readonly string[];
  readonly hugepages?: HugePageSize;
  /** `libvirt.gpuRom.file`: a vBIOS the VM gives its GPU instead of the one the host shadowed. */
  readonly gpuRomFile?: string;
  /** The guest has a software TPM (libvirt runs swtpm for it). */
  readonly tpm: boolean;
}

/** The libvirt options preflight reads; other hypervisors' VMs have none of them. */
type LibvirtSettings = Omit<LibvirtVmOptions, "kind">;

export function hostVms(host: FleetHost, vms: readonly FleetVm[]): HostVm[] {
  const guests = host.gpus
    .filter((g) => (g.role ?? "guest") === "guest")
    .map((g) => PciAddress.parse(g.address.toString()))
    .sort((a, b) => a.compare(b));
  const mine = vms.filter((v) => v.host === host.name);
  const taken = new Set<string>();
  const held = new Map<string, string[]>();
  for (const v of mine) {
    if (typeof v.gpus === "number") continue;
    const addresses = v.gpus.map((a) => PciAddress.parse(a.toString()).withFunction(0));
    addresses.forEach((a) => taken.add(a.deviceKey));
    held.set(v.name, addresses.map(String));
  }
  for (const v of [...mine].sort((a, b) => compareText(a.name, b.name))) {
    if (typeof v.gpus !== "number") continue;
    const free = guests.filter((a) => !taken.has(a.deviceKey)).slice(0, v.gpus);
    free.forEach((a) => taken.add(a.deviceKey));
    held.set(v.name, free.map(String));
  }
  return mine.map((v) => {
    const libvirt = v.libvirt as LibvirtSettings | undefined;
    return {
      name: v.name,
      memoryMib: v.memoryGib * 1024,
      gpus: held.get(v.name) ?? [],
      ...(libvirt?.hugepages ? { hugepages: libvirt.hugepages } : {}),
      ...(libvirt?.gpuRom?.file ? { gpuRomFile: libvirt.gpuRom.file } : {}),
      // The renderer's own rule (a Windows guest gets a TPM unless it says tpm: false).
      tpm: libvirt ? guestProfile({ memoryMib: v.memoryGib * 1024 }, { kind: "libvirt", ...libvirt }).tpm : false,
    };
  });
}
