/**
 * Rules every passthrough VM must meet whatever the hypervisor, checked before deploy. The hypervisor's own
 * limits come from its backend; its own extra rules live beside its renderer.
 */
import { Token } from "cdktf";
import { formatMib } from "../gpu/model";
import { isLargeBar } from "../mmio";
import type { BackendLimits } from "../backends/backend";
import type { DerivedVm } from "../derive";
import { Problem } from "../problems";

/** The rules of every VM, on what was derived for it and its hypervisor's limits. */
export function vmProblems(
  subject: string,
  vm: DerivedVm,
  backend: { readonly kind: string; readonly limits: BackendLimits },
): Problem[] {
  const { limits, kind } = backend;
  const problems: Problem[] = [];
  const add = (message: string, fix?: string) => problems.push({ subject, message, fix });

  // A Token (a variable, another resource's attribute) is known only at deploy time: Terraform and the
  // hypervisor check it then; arithmetic on its placeholder number here would report nonsense.
  const cpusKnown = !Token.isUnresolved(vm.cpus) && !Token.isUnresolved(vm.coresPerSocket);
  if (!cpusKnown) {
    // nothing to check before deploy
  } else if (!Number.isInteger(vm.cpus) || vm.cpus < 1 || vm.cpus > limits.maxCpus) {
    add(`cpus ${vm.cpus} is out of range`, `give a whole number from 1 to ${limits.maxCpus} (${kind}'s maximum)`);
  } else if (!Number.isInteger(vm.coresPerSocket) || vm.coresPerSocket < 1 || vm.cpus % vm.coresPerSocket !== 0) {
    add(
      `coresPerSocket ${vm.coresPerSocket} does not divide cpus ${vm.cpus}`,
      "give a divisor of cpus, or leave it out",
    );
  }

  const gib = vm.memoryMib / 1024;
  if (Token.isUnresolved(vm.memoryMib)) {
    // checked at deploy time, as above
  } else if (!(vm.memoryMib > 0) || vm.memoryMib > limits.maxMemoryMib) {
    add(
      `memoryGib ${gib} is out of range`,
      `give more than 0 and at most ${limits.maxMemoryMib / 1024} (${kind}'s maximum)`,
    );
  } else if (!Number.isInteger(vm.memoryMib) || vm.memoryMib % limits.memoryGranularityMib !== 0) {
    add(
      `memoryGib ${gib} is ${vm.memoryMib} MiB, not a multiple of ${limits.memoryGranularityMib} MiB`,
      `round it, e.g. memoryGib: ${Math.max(1, Math.round(gib))}`,
    );
  }

  if (vm.firmware === "bios" && vm.mmio.needs64BitMmio) {
    const large = vm.mmio.inputs
      .filter((i) => isLargeBar(i.mappedMib))
      .map((i) => `${i.gpu} ${i.model} maps ${formatMib(i.mappedMib)}`);
    add(
      `firmware "bios" cannot map GPUs above 4 GB (${large.join("; ")}); the VM would not power on`,
      'use firmware "efi" (the default) and a guest installed in UEFI mode',
    );
  }
  if (vm.secureBoot && vm.firmware !== "efi") {
    add('secureBoot needs firmware "efi"', 'set firmware "efi" or drop secureBoot');
  }
  if (vm.pciDeviceCount > limits.maxPciDevices) {
    add(
      `passes ${vm.pciDeviceCount} PCI functions (${vm.gpus.length} GPUs with all their functions); ${kind} allows ${limits.maxPciDevices} per VM`,
      "give the VM fewer GPUs, or split the work over two VMs",
    );
  }
  return problems;
}
