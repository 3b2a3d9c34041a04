/**
 * Proxmox VE rules for a passthrough VM and its node, checked before deploy. They read the rendered
 * `proxmox_virtual_environment_vm` (after any escape-hatch override), so a value the provider lets through to a
 * failing apply, or PVE refuses to the credentials in use, is caught however it got there.
 */
import { Token, type TerraformResource } from "cdktf";
import type { HostGpu, PassthroughHost } from "../../host";
import { IommuGroup, checkIsolation, isolationFix } from "../../pci/iommu";
import { PciAddress } from "../../pci/address";
import { ovmfApertureArgs, ovmfApertureMib } from "../../ovmf-aperture";
import { isObject, one } from "../../plan-values";
import { Problem } from "../../problems";
import { resolvedAttributes } from "../../tokens";
import type { GpuPassthroughVm } from "../../vm";
import { renderedDeviceProblems } from "../rendered-devices";
import { MAX_HOSTPCI, MAX_SOCKETS } from "./limits";
import { hostpciAddress } from "./plan-reading";
import { ProxmoxVmOptions } from "./vm-options";

/** How the site's provider authenticates: PVE lets only root@pam (with a password, not a token) set some options. */
export type ProxmoxAuth = "password" | "token";
/** How GPUs are assigned: by PCI id (root@pam only) or through a cluster PCI mapping (any user with Mapping.Use). */
export type ProxmoxDeviceMode = "id" | "mapping";

/** PVE's VM ids (qemu-server's `pve-vmid`). */
export const MIN_VM_ID = 100;
export const MAX_VM_ID = 999_999_999;

const HOSTPCI_DEVICE = /^hostpci([0-9]|1[0-5])$/;
/** A hostpci id part: bus:slot with or without a domain, with or without a function. */
const HOSTPCI_ID = /^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?$/;
/** PVE's `pve-configid`, which names mappings. */
export const CONFIG_ID = /^[a-zA-Z][a-zA-Z0-9_-]*$/;
/** A vendor:device or subsystem id as PVE's mappings take it (`10de:2684`). */
export const DEVICE_ID = /^[0-9a-f]{4}:[0-9a-f]{4}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;
const DISK_INTERFACE = /^(?:scsi(?:[0-9]|[12][0-9]|30)|virtio(?:[0-9]|1[0-5])|sata[0-5]|ide[0-3])$/;
const ISO_FILE = /^[A-Za-z][A-Za-z0-9_.-]*:iso\/[^/\s]+$/;
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** What an API token cannot do in PVE (qemu-server API2/Qemu.pm): these need `root@pam` with a password. */
const ROOT_ONLY_FIX =
  'set the site\'s auth: password and run Terraform as root@pam (TF_VAR_proxmox_username="root@pam" and ' +
  "TF_VAR_proxmox_password, or PROXMOX_VE_USERNAME and PROXMOX_VE_PASSWORD): PVE refuses these to every API token, " +
  "root@pam's own included";

/** The node's settings that would fail for every VM on it. */
export function proxmoxHostProblems(
  host: PassthroughHost,
  input: {
    readonly iommuProblems: readonly string[];
    readonly devices: ProxmoxDeviceMode;
    readonly subsystemIds: Readonly<Record<string, string>>;
    readonly node: string;
  },
): Problem[] {
  const problems: Problem[] = input.iommuProblems.map((message) => ({
    subject: host.subject,
    message,
    fix: "copy the groups from `gpu-passthrough discover` or `ls /sys/kernel/iommu_groups/*/devices` on the node",
  }));
  const add = (subject: string, message: string, fix?: string) => problems.push({ subject, message, fix });
  if (!Token.isUnresolved(input.node) && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(input.node)) {
    add(
      host.subject,
      `node "${input.node}" is not a Proxmox VE node name (one DNS label: letters, digits and dashes)`,
      "give the node's name as `pvecm nodes` or the web UI's tree shows it, e.g. node: pve-01",
    );
  }
  for (const gpu of host.gpus) {
    if (gpu.match) {
      add(
        `${host.subject} GPU ${gpu.label}`,
        "Proxmox VE hosts declare GPUs by address (a hostpci names its PCI address)",
        "give address: (gpu-passthrough discover prints it)",
      );
    }
    if (input.devices === "mapping" && gpu.role === "guest" && gpu.address && !mappingId(gpu.model)) {
      add(
        `${host.subject} GPU ${gpu.label}`,
        `devices: mapping needs the GPU's vendor:device id, which the model ${gpu.model.name} does not give: PVE checks it when the VM starts`,
        "declare the GPU with a custom model that has vendorId and deviceId (lspci -nn -s <address> shows them), or use devices: id",
      );
    }
  }
  for (const [address, id] of Object.entries(input.subsystemIds)) {
    const parsed = PciAddress.tryParse(address);
    const gpu = typeof parsed === "string" ? undefined : host.findGpu(parsed);
    if (typeof parsed === "string" || !gpu || parsed.fn !== 0) {
      add(
        host.subject,
        `subsystemIds names ${JSON.stringify(address)}, which is not the first function of a GPU the host declares`,
        `key each subsystem id by its GPU's address, e.g. "${host.gpus[0]?.label ?? "0000:0b:00.0"}"`,
      );
    }
    if (!DEVICE_ID.test(id)) {
      add(
        host.subject,
        `subsystemIds[${JSON.stringify(address)}] ${JSON.stringify(id)} is not a subsystem id`,
        'write it as lspci -nnv shows "Subsystem: ... [vvvv:dddd]", in lower case, e.g. "1458:4105"',
      );
    }
    if (input.devices !== "mapping") {
      add(
        host.subject,
        "subsystemIds are only used by PCI mappings, but the host assigns GPUs by id",
        "set devices: mapping, or drop subsystemIds",
      );
      break;
    }
  }
  return problems;
}

/** The `vendor:device` id a mapping checks for a GPU's first function, when the model gives it. */
export function mappingId(model: { readonly vendorId?: string; readonly deviceId?: string }): string | undefined {
  return model.vendorId && model.deviceId ? `${model.vendorId}:${model.deviceId}`.toLowerCase() : undefined;
}

export interface ProxmoxRuleContext {
  readonly auth: ProxmoxAuth;
  readonly devices: ProxmoxDeviceMode;
  readonly groups: readonly IommuGroup[];
  /**
   * The host's PCI mappings (devices: mapping) by how a hostpci names them: the reference to the mapping's name
   * (`proxmox_hardware_mapping_pci.<id>.name`) and the name itself.
   */
  readonly mappings: ReadonlyMap<string, HostGpu>;
}

/** Attributes the rules read, as cdk.tf.json will hold them (after overrides). */
const CHECKED_ATTRIBUTES = ["hostpci", "kvm_arguments", "machine", "bios", "efi_disk", "memory", "cpu"];

export function proxmoxVmProblems(
  vm: GpuPassthroughVm,
  opts: ProxmoxVmOptions,
  resource: TerraformResource,
  context: ProxmoxRuleContext,
): Problem[] {
  return [
    ...optionProblems(vm, opts),
    ...renderedProblems(vm, resolvedAttributes(resource, CHECKED_ATTRIBUTES), context),
    ...isolationProblems(vm, context.groups, context.devices === "mapping"),
  ];
}

function optionProblems(vm: GpuPassthroughVm, opts: ProxmoxVmOptions): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string, fix?: string) => problems.push({ subject: vm.subject, message, fix });
  if (!Token.isUnresolved(vm.vmName) && !DNS_NAME.test(vm.vmName)) {
    add(
      `name "${vm.vmName}" is not a DNS name, which Proxmox VE requires of a VM name`,
      "use letters, digits, dashes and dots (no underscores), e.g. " + JSON.stringify(vm.vmName.replace(/_/g, "-")),
    );
  }
  for (const [field, value] of [
    ["vmId", opts.vmId],
    ["template", opts.template],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= MIN_VM_ID && value <= MAX_VM_ID)) {
      add(
        `proxmox.${field} ${value} is not a Proxmox VE VM id`,
        `give a whole number from ${MIN_VM_ID} to ${MAX_VM_ID}`,
      );
    }
  }
  if (opts.vmId !== undefined && opts.vmId === opts.template) {
    add(`proxmox.vmId ${opts.vmId} is the template's id`, "give the VM an id of its own, or leave vmId out");
  }
  if (opts.linkedClone && opts.template === undefined) {
    add("proxmox.linkedClone without a template has nothing to clone", "give proxmox.template, or drop linkedClone");
  }
  if (opts.diskGib !== undefined && !(Number.isInteger(opts.diskGib) && opts.diskGib >= 1)) {
    add(`proxmox.diskGib ${opts.diskGib} is not a whole number of GiB ≥ 1`, "give e.g. diskGib: 128");
  }
  if (opts.diskInterface !== undefined && !DISK_INTERFACE.test(opts.diskInterface)) {
    add(
      `proxmox.diskInterface "${opts.diskInterface}" is not a Proxmox VE disk slot`,
      "give the template's boot disk slot: scsi0-30, virtio0-15, sata0-5 or ide0-3",
    );
  }
  if (opts.iso !== undefined && !ISO_FILE.test(opts.iso)) {
    add(
      `proxmox.iso "${opts.iso}" is not an ISO volume`,
      'name it as PVE does: <storage>:iso/<file>, e.g. "local:iso/Win11_24H2.iso"',
    );
  }
  const rom = opts.gpuRom?.file;
  if (rom !== undefined && (rom === "" || rom.startsWith("/") || rom.split("/").includes(".."))) {
    add(
      `proxmox.gpuRom.file "${rom}" is not a file name under /usr/share/kvm/, where PVE reads ROM files`,
      `copy the vBIOS there on the node and give its name, e.g. "${rom.split("/").pop() || "gpu.rom"}"`,
    );
  }
  for (const tag of opts.tags ?? []) {
    if (!TAG.test(tag)) {
      add(
        `proxmox.tags "${tag}" is not a Proxmox VE tag`,
        "use letters, digits, _ + . and -, starting with a letter, digit or _",
      );
    }
  }
  if (opts.hugepages) {
    const pageMib = opts.hugepages === "1G" ? 1024 : 2;
    if (!Token.isUnresolved(vm.memoryMib) && vm.memoryMib % pageMib !== 0) {
      add(
        `memory ${vm.memoryMib} MiB is not a whole number of ${opts.hugepages} huge pages`,
        `round memoryGib to a multiple of ${pageMib / 1024} GiB`,
      );
    }
  }
  return problems;
}

/** A block written as an object, or as a one-element list (by an override). */
const block = (v: unknown): Record<string, unknown> => {
  const b = one(v);
  return isObject(b) ? b : {};
};
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
/** A value cdktf resolves only in Terraform (a reference): its shape cannot be checked before plan. */
const isReference = (v: unknown): boolean => typeof v === "string" && v.includes("${");

function renderedProblems(vm: GpuPassthroughVm, r: Record<string, unknown>, context: ProxmoxRuleContext): Problem[] {
  const { auth } = context;
  const problems: Problem[] = [];
  const add = (message: string, fix?: string) => problems.push({ subject: vm.subject, message, fix });
  // null: an override removed the blocks.
  const hostpci = (Array.isArray(r.hostpci) ? r.hostpci : r.hostpci == null ? [] : [r.hostpci])
    .filter((h) => h != null)
    .map(block);
  const machine = text(r.machine) ?? "pc";
  const bios = text(r.bios) ?? "seabios";
  const efiDisk = r.efi_disk == null ? undefined : block(r.efi_disk);
  const memory = block(r.memory);
  const cpu = block(r.cpu);
  const args = text(r.kvm_arguments);

  if (hostpci.length > MAX_HOSTPCI) {
    add(
      `has ${hostpci.length} hostpci devices; Proxmox VE has ${MAX_HOSTPCI} (hostpci0 to hostpci15)`,
      "give the VM fewer GPUs (each GPU takes one hostpci with all its functions), or split the work over two VMs",
    );
  }
  const seen = new Set<string>();
  hostpci.forEach((h, i) => {
    const device = text(h.device) ?? "";
    const at = `hostpci[${i}] (${device || "no device"})`;
    if (!HOSTPCI_DEVICE.test(device)) {
      add(
        `${at}: device "${device}" is not a PVE slot; the provider passes any name and the apply fails`,
        "name the devices hostpci0 to hostpci15",
      );
    } else if (seen.has(device)) {
      add(`${at}: ${device} is given twice; the second would replace the first`, "give each device its own slot");
    }
    seen.add(device);
    const id = text(h.id);
    const mapping = text(h.mapping);
    if ((id === undefined) === (mapping === undefined)) {
      add(
        `${at} has ${id === undefined ? "neither id nor mapping" : "both id and mapping"}; the provider accepts it and PVE refuses it at apply`,
        "give the device's PCI id (0000:0b:00) or the name of its PCI mapping, not both",
      );
    }
    if (id !== undefined && !isReference(id) && !id.split(";").every((part) => HOSTPCI_ID.test(part))) {
      add(
        `${at}: id "${id}" is not a PCI id`,
        'write bus:slot for all functions ("0000:0b:00") or functions joined by ; ("0000:0b:00.0;0000:0b:00.1")',
      );
    }
    if (mapping !== undefined && !isReference(mapping) && !CONFIG_ID.test(mapping)) {
      add(
        `${at}: mapping "${mapping}" is not a PCI mapping name`,
        "name the mapping as Datacenter > Resource Mappings shows it",
      );
    }
    if (h.rombar === undefined || h.rombar === null) {
      add(
        `${at} has no rombar: provider 0.112.0 then sends rombar=0, which hides the GPU's ROM from the guest (no boot screen, and many drivers fail)`,
        "set rombar = true (gpuRom.bar in the VM's proxmox settings says whether it is on)",
      );
    }
    if (h.pcie === true && machine !== "q35") {
      add(
        `${at} is PCIe, but the machine is "${machine}"; PCIe ports exist on q35 only, and the VM would not start`,
        'remove the override of machine (the library sets "q35")',
      );
    }
    if (auth === "token" && id !== undefined) {
      add(
        `${at} assigns ${id} by PCI id, which PVE allows only to root@pam ("only root can set '${device}' config for non-mapped devices"), but the site authenticates with an API token`,
        "set devices: mapping on the host (a PCI mapping per GPU; the token needs Mapping.Use on it and VM.Config.HWType), or " +
          ROOT_ONLY_FIX,
      );
    }
    if (auth === "token" && text(h.rom_file) !== undefined) {
      add(
        `${at} has rom_file, which PVE allows only to root@pam, even with a mapping; the site authenticates with an API token`,
        `drop gpuRom.file, or ${ROOT_ONLY_FIX}`,
      );
    }
  });
  const primaries = hostpci.filter((h) => h.xvga === true).length;
  if (primaries > 1) {
    add(`${primaries} hostpci devices have xvga; a VM has one primary display`, "keep xvga on one GPU");
  }
  const { derived } = vm;
  if (derived.hideHypervisor && derived.gpus.length && primaries === 0) {
    add(
      `no hostpci has xvga, but the hypervisor must be hidden (${derived.hideHypervisorReason}): on Proxmox VE a ` +
        "primary GPU (x-vga) is what hides it (PVE adds kvm=off); the provider has no CPU hidden option, and a -cpu " +
        "in kvm_arguments would replace the CPU flags PVE sets",
      "drop proxmox.primaryGpu: false (or the override of xvga), or set hideHypervisor: false if the guest's driver does not need it (NVIDIA's from 465 on)",
    );
  }
  problems.push(
    ...renderedDeviceProblems(vm.subject, derived, renderedFunctions(hostpci, vm, context.mappings), "hostpci"),
  );

  if (memory.floating !== 0 && memory.floating !== undefined) {
    add(
      `memory.floating ${String(memory.floating)} turns the balloon on: VFIO pins all guest memory for the GPU's DMA, so the balloon cannot give any back, and the guest's driver fights the pinning`,
      "remove the override of memory.floating (the library sets 0)",
    );
  }
  if (!isReference(memory.dedicated) && memory.dedicated !== vm.memoryMib && !Token.isUnresolved(vm.memoryMib)) {
    add(
      `memory.dedicated ${String(memory.dedicated)} MiB differs from the VM's ${vm.memoryMib} MiB, which the report and the MMIO sizing use`,
      "set memoryGib instead of overriding memory.dedicated",
    );
  }
  if (text(memory.hugepages) !== undefined && cpu.numa !== true) {
    add(
      `memory.hugepages ${String(memory.hugepages)} without cpu.numa: PVE allocates huge pages per NUMA node and refuses it`,
      "set cpu.numa = true (proxmox.hugepages does)",
    );
  }
  if (auth === "token" && text(memory.hugepages) !== undefined) {
    add(
      "memory.hugepages is root@pam only in PVE, but the site authenticates with an API token",
      `drop proxmox.hugepages, or ${ROOT_ONLY_FIX}`,
    );
  }
  if (typeof cpu.sockets === "number" && cpu.sockets > MAX_SOCKETS) {
    add(
      `cpu.sockets ${cpu.sockets} is above the provider's ${MAX_SOCKETS}`,
      `give coresPerSocket so that cpus / coresPerSocket ≤ ${MAX_SOCKETS}`,
    );
  }

  if (bios === "ovmf" && !efiDisk) {
    add(
      "bios is ovmf without an efi_disk: PVE boots with temporary EFI variables and forgets the boot order and secure boot keys at every start",
      "remove the override that drops efi_disk",
    );
  }
  if (efiDisk) {
    const type = text(efiDisk.type) ?? "2m";
    if (type !== "4m") {
      add(
        `efi_disk.type is "${type}": the ${type === "2m" ? "2m OVMF (the provider's default)" : "type"} cannot hold secure boot keys, and changing it later replaces the VM`,
        'use "4m" (the library\'s)',
      );
    }
    if (efiDisk.pre_enrolled_keys !== undefined && efiDisk.pre_enrolled_keys !== vm.secureBoot) {
      add(
        `efi_disk.pre_enrolled_keys is ${String(efiDisk.pre_enrolled_keys)} but secureBoot is ${vm.secureBoot}`,
        "set secureBoot on the VM instead of overriding pre_enrolled_keys",
      );
    }
  }

  const aperture = args !== undefined && ovmfApertureMib(args.split(/\s+/)) !== undefined;
  if (vm.mmio.needs64BitMmio && !aperture) {
    add(
      `kvm_arguments lacks OVMF's 64-bit MMIO aperture (${ovmfApertureArgs(vm.mmio).join(" ")}) that the GPUs need (${vm.mmio.sizeGb} GB): the guest would see BARs of 0 MB`,
      "remove the override of kvm_arguments, or keep the -fw_cfg argument in it",
    );
  }
  if (aperture && bios !== "ovmf") {
    add(
      `kvm_arguments sizes OVMF's 64-bit aperture, but bios is "${bios}": SeaBIOS cannot map GPUs above 4 GB`,
      'use firmware "efi" (bios ovmf)',
    );
  }
  if (aperture && text(cpu.type) !== "host") {
    add(
      `cpu.type is "${String(cpu.type ?? "qemu64")}" with a 64-bit aperture: PVE limits such a guest to 40 address bits, which the aperture above guest RAM may not fit`,
      "use cpu type \"host\" (the library's): the guest gets the host's address width",
    );
  }
  if (args !== undefined && /(^|\s)-cpu(\s|$)/.test(args)) {
    add(
      "kvm_arguments has -cpu, which replaces the -cpu PVE builds (QEMU takes the last one): PVE's CPU flags and Windows enlightenments would be lost",
      "remove it; to hide the hypervisor, use a primary GPU (proxmox.primaryGpu, x-vga), for which PVE adds kvm=off itself",
    );
  }
  if (auth === "token" && args !== undefined) {
    add(
      `kvm_arguments (${args.length > 80 ? `${args.slice(0, 77)}...` : args}) is root@pam only in PVE ("only root can set 'args' config"), but the site authenticates with an API token` +
        (aperture ? "; the provider has no other way to size OVMF's 64-bit aperture" : ""),
      ROOT_ONLY_FIX,
    );
  }
  return problems;
}

/**
 * The PCI functions the rendered hostpci pass, for the rule every backend applies (rendered-devices.ts): the
 * functions of an id; for a whole device (an id without a function, or one of the host's mappings, whose path is the
 * device) the VM's functions on it, since PVE passes every function the device has. A mapping the host did not
 * make is named as it is: it passes something the VM does not hold.
 */
function renderedFunctions(
  hostpci: readonly Record<string, unknown>[],
  vm: GpuPassthroughVm,
  mappings: ReadonlyMap<string, HostGpu>,
): string[] {
  const held = vm.derived.pciFunctions.map(String);
  const device = (address: string) => {
    const own = held.filter((f) => f.slice(0, -2) === address.slice(0, -2));
    return own.length ? own : [address];
  };
  return hostpci
    .flatMap((h) => {
      const id = text(h.id);
      if (id !== undefined) {
        return id.split(";").flatMap((part) => {
          const parsed = hostpciAddress(part);
          if (!parsed) return [part];
          return parsed.wholeDevice ? device(parsed.address) : [parsed.address];
        });
      }
      const mapping = text(h.mapping);
      if (mapping === undefined) return [];
      const gpu =
        mappings.get(mapping) ?? [...mappings].find(([ref]) => ref.includes(".") && mapping.includes(ref))?.[1];
      return gpu?.address ? device(gpu.address.toString()) : [`mapping ${mapping}`];
    })
    .sort();
}

/**
 * Every non-bridge device in a passed GPU's IOMMU group goes to this VM. A mapping's path is the whole device, so
 * with mappings (`wholeDevices`) the GPU's other functions go along whatever its model lists; by id, only the listed
 * ones do, and another function of the GPU in the group is a problem of the model.
 */
function isolationProblems(vm: GpuPassthroughVm, groups: readonly IommuGroup[], wholeDevices: boolean): Problem[] {
  if (!groups.length) return [];
  const problems: Problem[] = [];
  const addressed = vm.gpus.filter((g) => g.address);
  const { unknown, siblings } = checkIsolation(groups, vm.pciFunctions);
  for (const gpu of addressed) {
    const address = gpu.address as PciAddress;
    if (!unknown.some((a) => a.equals(address))) continue;
    problems.push({
      subject: vm.subject,
      message: `GPU ${gpu.label} (${gpu.model.name}) is in none of ${vm.host.subject}'s IOMMU groups`,
      fix: "add its group to the host's iommuGroups (gpu-passthrough discover prints them)",
    });
  }
  for (const { group, devices } of siblings) {
    const own = devices.filter((d) => addressed.some((g) => g.address?.sameDevice(d)));
    const others = devices.filter((d) => !own.includes(d));
    const missed = wholeDevices ? others : devices;
    if (!missed.length) continue;
    problems.push({
      subject: vm.subject,
      message:
        `IOMMU group ${group} on ${vm.host.subject} also holds ${missed.join(", ")}, which the VM does not get; ` +
        "VFIO passes whole groups, so the VM would not start" +
        (wholeDevices || !own.length
          ? ""
          : ` (${own.join(", ")} is a function of the VM's own GPU that its model does not list)`),
      fix:
        !wholeDevices && own.length
          ? "declare the GPU with a model that lists that function, or use devices: mapping (a mapping passes the whole device)"
          : isolationFix(others.map(String)),
    });
  }
  return problems;
}
