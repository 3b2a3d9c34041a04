/**
 * A guest GPU that is the host's boot display (`bootVga`, from /sys/bus/pci/devices/<addr>/boot_vga): the host
 * firmware ran its option ROM and left it modified in the shadow copy, and the host console runs on it. The guest's
 * driver then reads a ROM it cannot use (a black screen, or error 43 on NVIDIA), unless the VM is given a clean copy.
 */
import { Problem } from "../../problems";
import type { GpuPassthroughVm } from "../../vm";
import type { LibvirtVmOptions } from "./vm-options";

export function bootVgaProblems(vm: GpuPassthroughVm, opts: LibvirtVmOptions): Problem[] {
  if (opts.gpuRom?.file !== undefined) return [];
  return vm.gpus
    .filter((g) => g.bootVga)
    .map((g) => ({
      subject: vm.subject,
      message: `GPU ${g.label} (${g.model.name}) is the host's boot display (bootVga): the host firmware ran and shadowed its ROM and the host console is on it, so the guest's driver would read a modified ROM (a black screen, or error 43) and the host would lose its console when the VM starts`,
      fix: "make another GPU primary in the host's firmware settings (then bootVga: false; `gpu-passthrough discover` shows it), or dump a clean vBIOS of this card and give libvirt.gpuRom.file",
    }));
}
