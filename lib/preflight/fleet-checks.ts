/**
 * Checks a real host against its fleet-file entry: each declared GPU exists, is the declared model, travels with all
 * its functions, is alone in its IOMMU group, is bound to vfio-pci, fits in the address space, and resets; the GPU
 * the host keeps (role: host) stays with the host; the IOMMU groups the entry declares are the host's
 * (./declared-groups.ts). Every finding names the exact fix.
 */
import { FleetHost, FleetVm } from "../fleet/schema";
import { GpuModel, formatMib, mappedMib, modelDeviceIds } from "../gpu/model";
import { resolveGpuModel } from "../gpu/resolve";
import { requiredMmio } from "../mmio";
import { PciAddress } from "../pci/address";
import { initramfsRebuildHowTo, kernelArgsHowTo } from "../host-prep/distro";
import { MODPROBE_FILE } from "../host-prep/plan";
import { Finding, gpuName, sharedGroupFix, sharedGroupMessage } from "./checks";
import { bootVgaDeclarationFindings, guestBootVgaFindings } from "./boot-vga";
import { declaredGroupFindings, declaredGroupsOf } from "./declared-groups";
import { HostVm, hostVms } from "./fleet-vms";
import { hugePageFindings } from "./huge-pages";
import { declaredNodesFindings, numaNodeFindings, numaSpanFindings } from "./numa";
import { swtpmFindings } from "./swtpm";
import { HostPrep, hostPrep, rebindCommands, vfioPciIds } from "./host-prep";
import { DetectedGpu, HostDevice, HostInventory, catalogMatches, describeDevice } from "./inventory";

export interface FleetCheck {
  readonly findings: Finding[];
  /** Kernel arguments and modprobe lines for the guest GPUs. */
  readonly hostPrep: HostPrep;
}

/** @param vms the fleet's VMs (those of other hosts are ignored): huge pages, boot VGA and NUMA judge them */
export function fleetFindings(inv: HostInventory, host: FleetHost, vms: readonly FleetVm[] = []): FleetCheck {
  const findings: Finding[] = [];
  const guests: { model: GpuModel; gpu: DetectedGpu }[] = [];
  const held = hostVms(host, vms);

  host.gpus.forEach((declared) => {
    const address = declared.address.toString();
    const subject = `GPU ${address}`;
    const add = (f: Omit<Finding, "subject">) => findings.push({ subject, ...f });
    const model = resolveGpuModel(declared.model, {
      displayMode: declared.displayMode,
      resizableBar: declared.resizableBar,
    });
    if (Array.isArray(model)) {
      model.forEach((message) => add({ severity: "blocker", code: "fleet-model", message }));
      return;
    }
    const found = locate(inv, address, model);
    if ("severity" in found) {
      add(found);
      return;
    }
    findings.push(
      ...numaNodeFindings(inv, subject, declared, found),
      ...bootVgaDeclarationFindings(subject, declared, found),
    );
    if ((declared.role ?? "guest") === "host") {
      findings.push(...hostGpuFindings(inv, subject, found));
      return;
    }
    guests.push({ model, gpu: found });
  });

  const guestFunctions = guests.flatMap((g) => g.gpu.functions);
  const prep = hostPrep(inv, guestFunctions);
  for (const g of guests) {
    const holder = held.find((vm) => vm.gpus.includes(g.gpu.address));
    findings.push(...guestGpuFindings(inv, g.model, g.gpu, prep, holder));
  }
  findings.push(
    ...hugePageFindings(inv, host, held),
    ...numaSpanFindings(inv, host, held),
    ...declaredNodesFindings(inv, host),
    ...swtpmFindings(inv, host, held),
  );
  const declaredGroups = declaredGroupsOf(host);
  if (declaredGroups) findings.push(...declaredGroupFindings(inv, declaredGroups, guestFunctions));

  // A GPU held by another driver already gets "modprobe vfio-pci" in its fix; say it separately only otherwise.
  const driverFixes = findings.some((f) => f.code === "gpu-driver" || f.code === "gpu-unbound");
  if (guests.length && !inv.vfioPciLoaded && !driverFixes) {
    findings.push({
      severity: "warning",
      code: "vfio-pci-missing",
      subject: "kernel",
      message: "the vfio-pci driver is not loaded, so no device can be handed to a VM yet",
      fix: "modprobe vfio-pci, and load it at every boot: echo vfio-pci > /etc/modules-load.d/vfio-pci.conf",
    });
  }
  const declared = new Set(host.gpus.map((g) => g.address.deviceKey));
  for (const g of inv.gpus.filter((g) => !declared.has(PciAddress.parse(g.address).deviceKey))) {
    findings.push({
      severity: "info",
      code: "gpu-undeclared",
      subject: `GPU ${g.address}`,
      message: `${gpuName(g)} is on the host but not in the fleet entry of "${host.name}"`,
      fix: "add it to the entry if VMs should use it (gpu-passthrough discover prints it), or as role: host",
    });
  }
  return { findings, hostPrep: prep };
}

/** The host's GPU at the address, or the finding that says why it is not the declared GPU. */
function locate(inv: HostInventory, address: string, model: GpuModel): DetectedGpu | Omit<Finding, "subject"> {
  const others = inv.gpus.map((g) => `${g.address} ${gpuName(g)}`).join(", ") || "none";
  const fixAddress = `correct the address in the fleet file; this host's GPUs: ${others} (gpu-passthrough discover prints them as a fleet entry)`;
  const device = inv.devices.find((d) => d.address === address);
  if (!device) {
    return {
      severity: "blocker",
      code: "gpu-missing",
      message: `no PCI device at ${address} (the fleet declares ${model.name})`,
      fix: fixAddress,
    };
  }
  const gpu = inv.gpus.find((g) => g.functions.some((f) => f.address === address));
  if (!gpu && device.classCode === undefined) {
    return {
      severity: "warning",
      code: "gpu-unverified",
      message: `its class could not be read (see the unreadable-file finding), so ${model.name} was not checked`,
      fix: "make the device's files readable and run preflight again",
    };
  }
  if (!gpu) {
    return {
      severity: "blocker",
      code: "not-a-gpu",
      message: `the device here is a ${describeDevice(device).slice(address.length + 1)}, not a display controller`,
      fix: fixAddress,
    };
  }
  const ids = modelDeviceIds(model);
  if (model.vendorId && ids.length && (gpu.vendorId !== model.vendorId || !ids.includes(gpu.deviceId ?? ""))) {
    const match = catalogMatches(gpu.vendorId, gpu.deviceId)[0];
    return {
      severity: "blocker",
      code: "model-mismatch",
      message:
        `the device here is ${gpu.vendorId}:${gpu.deviceId}${match ? ` (${match.name})` : ""}, but the fleet declares ` +
        `${model.name} (${model.vendorId}:${model.deviceId})`,
      fix: match ? `set model: ${match.id}, or ${fixAddress}` : fixAddress,
    };
  }
  return gpu;
}

/** The GPU the host keeps must stay with the host: not claimed by vfio-pci, and ideally the boot display. */
function hostGpuFindings(inv: HostInventory, subject: string, gpu: DetectedGpu): Finding[] {
  const findings: Finding[] = [];
  const held = gpu.functions.filter((f) => f.driver === "vfio-pci");
  if (held.length) {
    findings.push({
      severity: "blocker",
      subject,
      code: "host-gpu-vfio",
      message: `${gpuName(gpu)} is the host's own GPU (role: host) but vfio-pci holds it: the host has no display`,
      fix:
        `remove ${vfioPciIds(held).join(",")} from vfio-pci.ids on the kernel command line and any override ` +
        `(driverctl unset-override ${held[0].address}), then reboot`,
    });
  }
  const boot = inv.gpus.find((g) => g.bootVga);
  if (boot && boot !== gpu) {
    findings.push({
      severity: "warning",
      subject,
      code: "host-gpu-not-boot-vga",
      message: `the firmware starts the console on ${boot.address} (${gpuName(boot)}), not on the host's GPU`,
      fix: `select ${gpu.address} as the primary display in the BIOS, or declare ${boot.address} as role: host`,
    });
  }
  return findings;
}

function guestGpuFindings(
  inv: HostInventory,
  model: GpuModel,
  gpu: DetectedGpu,
  prep: HostPrep,
  holder: HostVm | undefined,
): Finding[] {
  const subject = `GPU ${gpu.address}`;
  const name = model.name;
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, "subject">) => findings.push({ subject, ...f });

  // Functions: the model's extra functions must be there; functions the model lacks travel with the GPU anyway.
  const fns = new Set(gpu.functions.map((f) => PciAddress.parse(f.address).fn));
  const missing = model.functions.filter((f) => !fns.has(f.fn));
  if (missing.length) {
    add({
      severity: "warning",
      code: "function-missing",
      message: `${name} should have ${missing.map((f) => `.${f.fn} (${f.kind})`).join(", ")}, which this host does not show`,
      fix: `check the card with lspci -s ${gpu.address.slice(0, -2)}; if this board lacks them, declare a custom model without them`,
    });
  }
  const declaredFns = new Set([0, ...model.functions.map((f) => f.fn)]);
  const extra = gpu.functions.filter((f) => !declaredFns.has(PciAddress.parse(f.address).fn));
  if (extra.length) {
    add({
      severity: "warning",
      code: "function-undeclared",
      message: `the card also has ${extra.map(describeDevice).join(", ")}, which ${name} does not list`,
      fix: "pass every function of the card to the VM: declare a custom model whose functions list them",
    });
  }

  if (gpu.isolation.verdict === "shared") {
    add({
      severity: "blocker",
      code: "gpu-not-isolated",
      message: `${name} ${sharedGroupMessage(gpu)}`,
      fix: sharedGroupFix(gpu),
    });
  }

  const notVfio = gpu.functions.filter((f) => f.driver !== "vfio-pci");
  if (notVfio.length) findings.push(driverFinding(subject, name, notVfio, prep));

  findings.push(...guestBootVgaFindings(subject, name, gpu, holder));

  findings.push(...barFindings(subject, model, gpu));
  findings.push(...resetFindings(inv, subject, model, gpu));
  return findings;
}

function driverFinding(subject: string, name: string, functions: HostDevice[], prep: HostPrep): Finding {
  // An unknown driver is not "none": treat it as held, so the finding stays a blocker until the link is readable.
  const bound = functions.filter((f) => f.driver || f.driverUnreadable);
  const list = functions
    .map((f) => `${f.address} ${f.driver ?? (f.driverUnreadable ? "driver unknown" : "no driver")}`)
    .join(", ");
  const overrides = functions.filter((f) => prep.driverOverrides.includes(f.address));
  const softdeps = prep.modprobe.length
    ? `add "${prep.modprobe.join('" and "')}" to ${MODPROBE_FILE} and update the initramfs ` +
      `(${initramfsRebuildHowTo()}), then `
    : "";
  const atBoot = overrides.length
    ? "at every boot, bind by address (a device the host keeps has the same ids, so vfio-pci.ids would take it too): " +
      overrides.map((f) => `driverctl set-override ${f.address} vfio-pci`).join("; ")
    : `at every boot: ${softdeps}${kernelArgsHowTo([`vfio-pci.ids=${vfioPciIds(functions).join(",")}`])}`;
  return {
    severity: bound.length ? "blocker" : "warning",
    code: bound.length ? "gpu-driver" : "gpu-unbound",
    subject,
    message: bound.length
      ? `${name} is held by host drivers (${list}), not vfio-pci: a VM cannot take it`
      : `${name} has no driver (${list}): libvirt binds it to vfio-pci at VM start only for a managed hostdev`,
    fix: `${atBoot}\nnow, until the next boot: ${rebindCommands(functions).join(" && ")}`,
  };
}

/** Large BARs need "Above 4G decoding" on the host and a 64-bit MMIO window in the VM. */
function barFindings(subject: string, model: GpuModel, gpu: DetectedGpu): Finding[] {
  const findings: Finding[] = [];
  const bars = gpu.barsMib ?? [];
  const unassigned = gpu.unassignedBars.map((i) => `BAR${i}`);
  if (unassigned.length) {
    findings.push({
      severity: "blocker",
      code: "bar-unassigned",
      subject,
      message: `${unassigned.join(", ")} of ${model.name} has no address: the firmware could not place it`,
      fix: 'enable "Above 4G decoding" in the BIOS (also called "Memory mapped I/O above 4GB" or "PCI 64-bit resource handling above 4G"), then reboot',
    });
  }
  const hostMib = bars.reduce((a, b) => a + b, 0);
  if (hostMib > mappedMib(model)) {
    findings.push({
      severity: "warning",
      code: "bar-larger-than-model",
      subject,
      message:
        `its BARs map ${formatMib(hostMib)} on this host but ${model.name} in the catalog maps ${formatMib(mappedMib(model))}` +
        " (Resizable BAR is probably on): a VM sized from the catalog would not power on",
      fix:
        model.resizableBarBarsMib && hostMib <= mappedMib({ barsMib: model.resizableBarBarsMib })
          ? "set resizableBar: true on this GPU in the fleet file, or turn Resizable BAR off in the BIOS"
          : `declare it as a custom model with barsMib: [${bars.join(", ")}], or turn Resizable BAR off in the BIOS`,
    });
  }
  const need = requiredMmio([
    { gpu: gpu.address, model: hostMib > mappedMib(model) ? { name: model.name, barsMib: bars } : model },
  ]);
  if (need.needs64BitMmio && !unassigned.length) {
    findings.push({
      severity: "info",
      code: "large-bar",
      subject,
      message: `${model.name} maps ${formatMib(need.totalMib)}: its VM needs EFI firmware and a 64-bit MMIO window of ${need.sizeGb} GB or more`,
      fix: `keep "Above 4G decoding" on in the BIOS (it is on: the BARs have addresses); gpu-passthrough mmio sizes a VM with several GPUs`,
    });
  }
  return findings;
}

function resetFindings(inv: HostInventory, subject: string, model: GpuModel, gpu: DetectedGpu): Finding[] {
  if (model.quirks.resetBug) {
    if (inv.vendorResetLoaded) return [];
    return [
      {
        severity: "warning",
        code: "reset-bug",
        subject,
        message: `${model.name} does not reset cleanly when its VM stops: the second start fails until the host reboots`,
        fix:
          "install vendor-reset (github.com/gnif/vendor-reset, dkms), load it at boot (echo vendor-reset > " +
          `/etc/modules-load.d/vendor-reset.conf) and select it: echo device_specific > /sys/bus/pci/devices/${gpu.address}/reset_method`,
      },
    ];
  }
  // Since Linux 5.15 the reset_method file exists only when the device has a reset method.
  const [major, minor] = (inv.kernelRelease ?? "0.0").split(/[.-]/).map(Number);
  const knowsResetMethod = major > 5 || (major === 5 && minor >= 15);
  const display = gpu.functions.find((f) => f.address === gpu.address);
  if (knowsResetMethod && display && display.resetMethods === undefined) {
    return [
      {
        severity: "warning",
        code: "no-reset-method",
        subject,
        message: `${model.name} offers the kernel no reset method: it may start in a VM only once per host boot`,
        fix: "check for a firmware update of the card; vendor-reset covers some AMD cards",
      },
    ];
  }
  return [];
}
