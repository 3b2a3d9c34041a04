/**
 * libvirt/KVM rules for a passthrough VM and its host, checked before deploy: IOMMU isolation of every passed GPU,
 * absolute paths where libvirt needs them, and values QEMU or the provider would refuse later, at apply time.
 */
import { Annotations, TerraformResource } from "cdktf";
import type { PassthroughHost } from "../../host";
import { IommuGroup, checkIsolation, isolationFix } from "../../pci/iommu";
import { Problem } from "../../problems";
import { bootVgaProblems } from "./boot-vga-rules";
import { guestProblems } from "./guest-rules";
import type { NumaPlacement } from "./numa";
import type { GpuPassthroughVm } from "../../vm";
import { terraformValue } from "../../terraform-literal";
import { OvmfPaths } from "./distro";
import { unrenderedAttributes } from "./domain-xml";
import { ovmfApertureArgs, ovmfApertureMib } from "../../ovmf-aperture";
import { field } from "../../plan-values";
import { renderedDeviceProblems } from "../rendered-devices";
import { libvirtPlanReading } from "./plan-reading";
import { LibvirtVmOptions } from "./vm-options";

/** QEMU takes at most 12 characters (the CPUID leaf holds three 4-byte registers). */
export const MAX_HYPERV_VENDOR_ID = 12;

const HEX4 = /^[0-9a-fA-F]{4}$/;
const CPU_SET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Host settings that would fail on every domain of the host. */
export function libvirtHostProblems(
  host: PassthroughHost,
  ovmf: OvmfPaths,
  iommuProblems: readonly string[],
): Problem[] {
  const problems: Problem[] = iommuProblems.map((message) => ({
    subject: host.subject,
    message,
    fix: "copy the groups from `gpu-passthrough discover` or `ls /sys/kernel/iommu_groups/*/devices` on the host",
  }));
  for (const [key, path] of Object.entries(ovmf)) {
    if (!path.startsWith("/")) {
      problems.push({
        subject: host.subject,
        message: `ovmf.${key} "${path}" is not an absolute path; libvirt resolves firmware paths on the host, not from a working directory`,
        fix: `give the full path, e.g. "/usr/share/OVMF/${path.split("/").pop() || "OVMF_CODE_4M.fd"}"`,
      });
    }
  }
  return problems;
}

/** A VM on a libvirt host without libvirt settings: the one problem to report about it. */
export function missingOptionsProblem(vm: GpuPassthroughVm): Problem {
  return {
    subject: vm.subject,
    message: `runs on libvirt ${vm.host.subject} but has no libvirt settings`,
    fix: 'give hypervisor: { kind: "libvirt", baseImage: "/var/lib/libvirt/images/<image>.qcow2" } (libvirt: { baseImage } in a fleet file)',
  };
}

export function libvirtVmProblems(
  vm: GpuPassthroughVm,
  opts: LibvirtVmOptions,
  groups: readonly IommuGroup[],
): Problem[] {
  return [
    ...isolationProblems(vm, groups),
    ...optionProblems(vm, opts),
    ...guestProblems(vm, opts),
    ...bootVgaProblems(vm, opts),
  ];
}

/** Every function in a passed GPU's IOMMU group goes to this VM (bridges aside), and the inventory knows them all. */
function isolationProblems(vm: GpuPassthroughVm, groups: readonly IommuGroup[]): Problem[] {
  const problems: Problem[] = [];
  const { unknown, siblings } = checkIsolation(groups, vm.pciFunctions);
  for (const gpu of vm.gpus) {
    const missing = unknown.filter((a) => gpu.functions.some((f) => f.equals(a)));
    if (!missing.length) continue;
    const kinds = missing.map((a) => {
      const extra = gpu.model.functions.find((f) => f.fn === a.fn);
      return `${a} (${extra ? extra.kind : "display"})`;
    });
    problems.push({
      subject: vm.subject,
      message: `GPU ${gpu.label} (${gpu.model.name}) has function(s) ${kinds.join(", ")} that ${vm.host.subject}'s IOMMU groups do not list`,
      fix:
        "add the function to its IOMMU group in the host's iommuGroups (lspci -s <address> shows whether it exists); " +
        "if the card really lacks it, declare the GPU with a custom model without that function",
    });
  }
  for (const { group, devices } of siblings) {
    const own = devices.filter((d) => vm.gpus.some((g) => g.address?.sameDevice(d)));
    const others = devices.filter((d) => !own.includes(d));
    const heldBy = (d: (typeof devices)[number]): string => {
      const gpu = vm.host.findGpu(d.withFunction(0));
      return gpu ? ` (GPU ${gpu.label}${gpu.role === "host" ? ", kept by the host" : ""})` : "";
    };
    problems.push({
      subject: vm.subject,
      message:
        `IOMMU group ${group} on ${vm.host.subject} also holds ${devices.map((d) => `${d}${heldBy(d)}`).join(", ")}, ` +
        "which the VM does not get; VFIO passes whole groups, so the VM would not start" +
        (own.length ? ` (${own.join(", ")} is a function of the VM's own GPU that its model does not list)` : ""),
      fix: own.length
        ? "declare the GPU with a model that lists that function, or remove it from the group if the card has no such function"
        : isolationFix(others.map(String)),
    });
  }
  return problems;
}

function optionProblems(vm: GpuPassthroughVm, opts: LibvirtVmOptions): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string, fix?: string) => problems.push({ subject: vm.subject, message, fix });
  if (!opts.baseImage.startsWith("/")) {
    add(
      `libvirt.baseImage "${opts.baseImage}" is not an absolute path on the host`,
      "give the image's full path on the host, e.g. /var/lib/libvirt/images/noble-server-cloudimg-amd64.img",
    );
  }
  if (opts.diskGib !== undefined && (!Number.isInteger(opts.diskGib) || opts.diskGib < 1)) {
    add(`libvirt.diskGib ${opts.diskGib} is not a whole number of GiB ≥ 1`, "give e.g. diskGib: 80");
  }
  if (opts.gpuRom?.file !== undefined && !opts.gpuRom.file.startsWith("/")) {
    add(
      `libvirt.gpuRom.file "${opts.gpuRom.file}" is not an absolute path; QEMU opens it on the host`,
      "give the full path, e.g. /usr/share/vgabios/gpu.rom (readable by the qemu user)",
    );
  }
  const vendorId = opts.hypervisorVendorId;
  if (
    vendorId !== undefined &&
    (vendorId.length < 1 || vendorId.length > MAX_HYPERV_VENDOR_ID || !/^[\x21-\x7e]+$/.test(vendorId))
  ) {
    add(
      `libvirt.hypervisorVendorId "${vendorId}" is ${vendorId.length} characters; QEMU takes 1 to ${MAX_HYPERV_VENDOR_ID} printable characters without spaces`,
      `shorten it, e.g. "${vendorId.replace(/[^\x21-\x7e]/g, "").slice(0, MAX_HYPERV_VENDOR_ID) || "0123456789ab"}"`,
    );
  }
  if (vendorId !== undefined && !vm.hideHypervisor) {
    add(
      "libvirt.hypervisorVendorId is set but the hypervisor is not hidden, so it would not be used",
      "set hideHypervisor: true, or drop hypervisorVendorId",
    );
  }
  if (opts.vcpuPins) {
    if (opts.vcpuPins.length !== vm.cpus) {
      add(
        `libvirt.vcpuPins has ${opts.vcpuPins.length} entries for ${vm.cpus} vCPUs`,
        "give one host CPU set per vCPU, in vCPU order",
      );
    }
    opts.vcpuPins.forEach((set, i) => {
      if (!CPU_SET.test(set))
        add(`libvirt.vcpuPins[${i}] "${set}" is not a host CPU set`, 'write e.g. "4", "4,20" or "4-5"');
    });
  }
  if (opts.hugepages) {
    const pageMib = opts.hugepages === "1G" ? 1024 : 2;
    if (vm.memoryMib % pageMib !== 0) {
      add(
        `memory ${vm.memoryMib} MiB is not a whole number of ${opts.hugepages} huge pages`,
        `round memoryGib to a multiple of ${pageMib / 1024} GiB`,
      );
    }
  }
  (opts.usbDevices ?? []).forEach((u, i) => {
    for (const [field, value] of [
      ["vendorId", u.vendorId],
      ["productId", u.productId],
    ] as const) {
      if (!HEX4.test(value))
        add(`libvirt.usbDevices[${i}].${field} "${value}" must be 4 hex digits, as lsusb shows it`);
    }
  });
  if (/[/\s]/.test(vm.vmName)) {
    add(
      `name "${vm.vmName}" has a slash or a space, which libvirt domain and volume names cannot hold`,
      "use letters, digits, - and _",
    );
  }
  return problems;
}

const warned = new WeakMap<GpuPassthroughVm, string>();

/**
 * The VM's NUMA placement problems; its cost (GPUs on two nodes) is a synth warning, once per VM and message, and a
 * line of the report.
 */
export function numaProblems(vm: GpuPassthroughVm, placement: NumaPlacement): Problem[] {
  if (placement.warning && warned.get(vm) !== placement.warning) {
    warned.set(vm, placement.warning);
    Annotations.of(vm).addWarning(`${vm.subject}: ${placement.warning}`);
  }
  return placement.problems.map(({ message, fix }) => ({ subject: vm.subject, message, fix }));
}

/**
 * Attributes of the domain resource (escape-hatch overrides, setters) that its domain XML cannot show: refused, so
 * that everything libvirt gets is in the XML reviewers read and libvirt's schema checks. Read from the resource as
 * cdktf will write it, overrides merged.
 */
export function unrenderedDomainProblems(vm: GpuPassthroughVm, domain: TerraformResource): Problem[] {
  const written = domain.toTerraform() as { resource?: Record<string, Record<string, Record<string, unknown>>> };
  const body = written.resource?.[domain.terraformResourceType]?.[domain.friendlyUniqueId] ?? {};
  return [...renderedGpuProblems(vm, body), ...unshownProblems(vm, body)];
}

/** What the VM's GPUs need, as the domain will really have it after overrides. */
function renderedGpuProblems(vm: GpuPassthroughVm, body: Record<string, unknown>): Problem[] {
  const { derived } = vm;
  const problems: Problem[] = [];
  const args = (field(body.qemu_commandline, "args") as unknown[] | undefined) ?? [];
  const aperture = ovmfApertureMib(args.map((a) => String(field(a, "value"))));
  if (derived.mmio.needs64BitMmio && !(aperture !== undefined && aperture >= derived.mmio.sizeGb * 1024)) {
    problems.push({
      subject: vm.subject,
      message: `qemu_commandline lacks OVMF's 64-bit aperture of ${derived.mmio.sizeGb * 1024} MiB its GPUs need (${ovmfApertureArgs(derived.mmio).join(" ")}): the guest would see the large BAR as 0M`,
      fix: "remove the override of qemu_commandline, or keep that argument in it (mmioSizeGb sets the size)",
    });
  }
  if (derived.hideHypervisor && field(field(field(body.features, "kvm"), "hidden"), "state") !== "on") {
    problems.push({
      subject: vm.subject,
      message: `features.kvm.hidden is not on, but the hypervisor must be hidden (${derived.hideHypervisorReason})`,
      fix: "remove the override of features, or set hideHypervisor: false if the guest's driver does not need it",
    });
  }
  const reading = libvirtPlanReading.resources.find((r) => r.type === "libvirt_domain");
  problems.push(...renderedDeviceProblems(vm.subject, derived, reading?.pciFunctions?.(body), "devices.hostdevs"));
  return problems;
}

function unshownProblems(vm: GpuPassthroughVm, body: Record<string, unknown>): Problem[] {
  // Escaped literals ($${) only matter in the message: unescaping the whole body would cost a pass per domain.
  return unrenderedAttributes(body).map(({ path, value }) => ({
    subject: vm.subject,
    message:
      `libvirt_domain attribute ${terraformValue(path)} = ${terraformValue(value)} is not shown in domains/${vm.vmName}.xml: libvirt would get it, ` +
      "but neither the domain XML reviewers read nor its validation against libvirt's schema would",
    fix:
      "remove it (an escape-hatch override or setter); to use it, its XML form must first be added to the renderer in " +
      "lib/backends/libvirt/domain-xml.ts",
  }));
}
