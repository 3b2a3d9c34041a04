/**
 * Rules of a libvirt guest's operating system settings (see guest.ts): a Linux cloud image reached only by SSH needs a
 * key, and the hard memory limit must hold the guest's memory.
 */
import { Problem } from "../../problems";
import type { GpuPassthroughVm } from "../../vm";
import { QEMU_OVERHEAD_MIB, guestProfile } from "./guest";
import type { LibvirtVmOptions } from "./vm-options";

export function guestProblems(vm: GpuPassthroughVm, opts: LibvirtVmOptions): Problem[] {
  const problems: Problem[] = [];
  const guest = guestProfile(vm, opts);
  const ci = opts.cloudInit;
  if (guest.os === "linux" && ci?.userData === undefined && !ci?.sshAuthorizedKeys?.length) {
    problems.push({
      subject: vm.subject,
      message:
        "is a Linux guest without an SSH key: cloud images have no password, so nobody could log in (only `virsh console`, which asks for one)",
      fix: 'give libvirt.cloudInit.sshAuthorizedKeys: ["ssh-ed25519 AAAA... you@example"], or a complete cloudInit.userData; a Windows guest says guestOs: windows',
    });
  }
  const limit = opts.memoryHardLimitMib;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > vm.memoryMib)) {
    problems.push({
      subject: vm.subject,
      message: `libvirt.memoryHardLimitMib ${limit} is not above the guest's ${vm.memoryMib} MiB: the kernel would kill QEMU when the guest touches its memory`,
      fix: `give at least the guest memory plus QEMU's own (${vm.memoryMib + QEMU_OVERHEAD_MIB} MiB), or leave it out`,
    });
  }
  return problems;
}
