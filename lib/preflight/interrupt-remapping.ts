/**
 * Interrupt remapping: without it a device given to a guest can write any MSI address and data, so the guest can raise
 * interrupts of its choosing on the host. VFIO (vfio_iommu_type1) therefore refuses to attach a device to a guest on
 * such a host ("No interrupt remapping support. Use the module param "allow_unsafe_interrupts" to enable VFIO IOMMU
 * support on this platform") unless `allow_unsafe_interrupts=1` opts out of that protection.
 *
 * What tells: /proc/interrupts names each interrupt's chip, and the kernel prefixes the chips behind the remapping
 * table with `IR-` (IR-IO-APIC, IR-PCI-MSI, IR-PCI-MSIX-<address>); on Intel each DMAR unit's `intel-iommu/ecap` has the
 * hardware's IR support in bit 3 (ecap_ir_support, drivers/iommu/intel/iommu.h). AMD-Vi remaps interrupts as part of
 * the IOMMU (its `amd-iommu/features` register has no bit for it), so on AMD /proc/interrupts alone says.
 */
import type { Finding } from "./finding";
import type { HostInventory } from "./inventory";

const UNSAFE_OPTION = "options vfio_iommu_type1 allow_unsafe_interrupts=1";
const UNSAFE_RISK =
  "a guest can then forge MSIs (write any interrupt message through its device's DMA) and raise interrupts on the host";

export function interruptRemappingFindings(inv: HostInventory): Finding[] {
  if (!inv.iommu.active) return []; // the iommu-off blocker comes first: there is no remapping without an IOMMU
  const facts = inv.interruptRemapping;
  const noHardware = (facts.intelIrSupport ?? []).filter((u) => !u.supported).map((u) => u.unit);
  const remapped =
    facts.procInterrupts === "remapped"
      ? true
      : facts.procInterrupts === "not-remapped" || noHardware.length > 0
        ? false
        : undefined;
  if (remapped !== false) return [];
  const why = [
    ...(facts.procInterrupts === "not-remapped"
      ? ["/proc/interrupts shows no IR- interrupt chip (IO-APIC and PCI-MSI deliver straight to the CPUs)"]
      : []),
    ...(noHardware.length
      ? [`${noHardware.join(", ")} report no interrupt remapping support (bit 3 of intel-iommu/ecap is 0)`]
      : []),
  ].join("; ");
  // intremap=off turns remapping off on Intel and AMD alike (Documentation/admin-guide/kernel-parameters.txt).
  const off = inv.kernel.args.filter((a) => a === "intremap=off");
  if (facts.unsafeInterruptsAllowed === true) {
    return [
      {
        severity: "warning",
        code: "unsafe-interrupts",
        subject: "interrupt remapping",
        message:
          `interrupts are not remapped (${why}) and vfio_iommu_type1 allow_unsafe_interrupts is Y, so VFIO assigns devices anyway: ` +
          UNSAFE_RISK,
        fix: remappingFix(inv, off),
      },
    ];
  }
  return [
    {
      severity: "blocker",
      code: "interrupt-remapping-off",
      subject: "interrupt remapping",
      message:
        `interrupts are not remapped (${why}): VFIO refuses to give a device to a VM ` +
        `("No interrupt remapping support"), so no GPU can be passed`,
      fix:
        `${remappingFix(inv, off)}\n` +
        `last resort, accepting the risk (${UNSAFE_RISK}): echo "${UNSAFE_OPTION}" > /etc/modprobe.d/vfio-unsafe.conf, ` +
        "rebuild the initramfs and reboot",
    },
  ];
}

function remappingFix(inv: HostInventory, off: readonly string[]): string {
  return [
    ...(off.length
      ? [`remove ${off.join(" ")} from the kernel command line (then update the boot loader and reboot)`]
      : []),
    inv.cpu.vendor === "amd"
      ? 'enable "IOMMU" and x2APIC in the firmware setup (some boards hide interrupt remapping behind "SVM" or "IOMMU: Enabled" rather than "Auto")'
      : 'enable "VT-d" and "Interrupt Remapping" (often with x2APIC) in the firmware setup',
    `then check after a reboot: dmesg | grep -i remapping (it should say "Enabled IRQ remapping")`,
  ].join("\n");
}
