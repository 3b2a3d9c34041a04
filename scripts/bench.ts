/**
 * `npm run bench`: synth time and peak memory of GPU VM fleets (10, 100, 1000 VMs) built with this library, on every
 * hypervisor in {@link HYPERVISORS}, against a baseline in the same run that writes the same Terraform with raw
 * provider classes; the wall time of the example app (`node dist/main.js`) next to a bare cdktf app with as many empty
 * stacks; and the wall time of each `gpu-passthrough` command next to `node -e 0` (a command should load only what it
 * uses, so start about as fast as Node itself).
 *
 * "The same Terraform" is checked, not assumed: each run reports the shape of its cdk.tf.json (block types with their
 * counts, and every attribute path and value of the first item of each type, with construct-made names left out),
 * and the bench prints the difference when the library's and the baseline's differ. The library also writes files
 * that are not Terraform (passthrough.json, manifest.json, domain XML and host preparation scripts): the baselines
 * do not, so that cost is the library's.
 *
 * Every measurement runs in its own child Node process (this file, `--child <hypervisor> <case> <vms> [outdir]`; with
 * an outdir the output is kept, for a diff or a profile), so the peak RSS is that case's alone and no run warms the
 * JIT or the module cache for the next. Library and baseline runs alternate (A B A B ...) so that noise from other
 * processes on a shared machine hits both alike; medians are reported.
 * Targets are informational: the script exits 0 when over them and non-zero only when a child fails.
 */
import { SpawnSyncReturns, spawnSync } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join, resolve } from "path";
import type { Fleet } from "../lib/fleet/schema";
import { PciAddress } from "../lib/pci/address";
import { FLEET_YAML, gpuServer, removeHost, writeHost } from "../__tests__/fixtures/hosts";

type Case = "library" | "baseline";

/** A hypervisor the bench measures: its fleet, and the same Terraform written by hand. */
interface BenchHypervisor {
  /** The plug-in's kind (lib/backends/registry.ts), also the `--child` argument. */
  readonly kind: string;
  readonly label: string;
  /** N VMs on N/4 hosts of four GPUs, in one site of this hypervisor. */
  readonly fleet: (vms: number) => Fleet;
  /** Loads the modules the baseline needs (timed as module load) and returns its synth (timed as synth). */
  readonly baseline: (fleet: Fleet, outdir: string) => Promise<() => void>;
}

/** What a child reports, as one JSON line on stdout. */
interface Sample {
  loadMs: number;
  synthMs: number;
  /** CPU time (user + system, all threads) of the synth: steadier than wall time when the machine is shared. */
  cpuMs: number;
  rssMb: number;
  heapMb: number;
  /** What the output is made of, one fact a line (see {@link outputShape}). */
  shape: string[];
}

const ROOT = resolve(__dirname, "..", "..");
const SIZES = [10, 100, 1000];
const GPUS_PER_HOST = 4;
const ADDRESSES = ["0000:3b:00.0", "0000:5e:00.0", "0000:af:00.0", "0000:d8:00.0"];
/** The A100 80GB's PCI id, for the vfio-pci lines of the host steps. */
const GPU_PCI_ID = "10de:20b5";
const GPU_NAME = "NVIDIA A100 80GB PCIe";
/** One A100 80GB: 128 GiB BAR1 and small BARs, rounded up to the next power of two. */
const MMIO_GB = 256;
const CPUS = 16;
const MEMORY_GIB = 128;
const TEMPLATE = "ubuntu-2204-efi";
const DATACENTER = "DC-BENCH";
const BASE_IMAGE = "/var/lib/libvirt/images/noble.img";
/** A Linux guest needs one (issue 13): cloud images have no password. */
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyOnly ops";
const PROXMOX_TEMPLATE = 9000;
const STATE = "../../../terraform.bench.tfstate";
/** Issue #15's targets: 1000-VM synth against raw resources, the app against empty stacks, commands against Node. */
const TARGET_RATIO = 1.0;
const TARGET_APP_RATIO = 1.5;
const TARGET_CLI_RATIO = 2;

/** BENCH_RUNS=n sets every repeat count (e.g. BENCH_RUNS=1 for a quick check); BENCH_SIZES=1000 picks sizes. */
function runsFor(vms: number | "app" | "cli"): number {
  const env = Number(process.env.BENCH_RUNS);
  if (Number.isInteger(env) && env > 0) return env;
  return vms === "app" ? 7 : vms === "cli" ? 11 : vms >= 1000 ? 3 : 5;
}

function sizes(): number[] {
  const picked = (process.env.BENCH_SIZES ?? "")
    .split(",")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  return picked.length ? picked : SIZES;
}

/** The fleet every hypervisor gets: N VMs with one A100 80GB each, four to a host, in one site named bench. */
function benchFleet(
  vms: number,
  site: Record<string, unknown>,
  host: (i: number) => { name: string } & Record<string, unknown>,
  vmSettings: Record<string, unknown>,
): Fleet {
  const hosts = Array.from({ length: Math.ceil(vms / GPUS_PER_HOST) }, (_, i) => ({
    ...host(i),
    site: "bench",
    gpus: ADDRESSES.map((address) => ({ address: PciAddress.parse(address), model: "nvidia-a100-80gb" })),
  }));
  return {
    sites: [{ name: "bench", ...site }],
    hosts,
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `gpu-vm-${i}`,
      host: hosts[Math.floor(i / GPUS_PER_HOST)].name,
      gpus: [PciAddress.parse(ADDRESSES[i % GPUS_PER_HOST])],
      cpus: CPUS,
      memoryGib: MEMORY_GIB,
      ...vmSettings,
    })),
  };
}

/** The IOMMU groups of a host: each GPU alone in its own. */
const IOMMU_GROUPS = ADDRESSES.map((address, g) => ({ id: 40 + g, devices: [address] }));

/** The GPU of a fleet VM (the bench gives each one by address). */
function gpuOf(vm: Fleet["vms"][number]): PciAddress {
  if (typeof vm.gpus === "number") throw new Error(`bench VM ${vm.name} must name its GPU by address`);
  return vm.gpus[0];
}

// ---- what a hand-written stack puts in its host steps outputs (the library derives the same commands) ----

const hostStepsDescription = (host: string) =>
  `Steps outside Terraform that ${host} needs before its GPUs can be passed through`;
const outputName = (host: string) => `host_steps_${host.replace(/[^A-Za-z0-9]/g, "_")}`;

const KERNEL_ARGS = ["intel_iommu=on", "iommu=pt", `vfio-pci.ids=${GPU_PCI_ID}`];

/** The kernel arguments, vfio-pci binding and initramfs of an Intel KVM host with A100s (Debian family). */
function linuxHostSteps(kernelArgs: string[], bootloader: string): string[] {
  const modprobe = [
    `options vfio-pci ids=${GPU_PCI_ID}`,
    "softdep nvidia pre: vfio-pci",
    "softdep nouveau pre: vfio-pci",
  ];
  return [
    "bios: enable Intel VT-x and VT-d in the firmware setup",
    "bios: enable Above 4G Decoding: the guest GPUs map more than 16 GB",
    ...kernelArgs,
    bootloader,
    ...modprobe.map(
      (l) => `grep -qxF '${l}' /etc/modprobe.d/vfio.conf 2>/dev/null || echo '${l}' >> /etc/modprobe.d/vfio.conf`,
    ),
    ...["vfio_pci", "vfio", "vfio_iommu_type1"].map(
      (m) => `grep -qxF ${m} /etc/initramfs-tools/modules 2>/dev/null || echo ${m} >> /etc/initramfs-tools/modules`,
    ),
    "update-initramfs -u -k all",
    "reboot: reboot the host: kernel arguments and the initramfs take effect at boot",
  ];
}

const grubArg = (arg: string) =>
  `grep -q '^GRUB_CMDLINE_LINUX_DEFAULT=.*[" ]${arg}[" ]' /etc/default/grub || sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT="\\(.*\\)"/GRUB_CMDLINE_LINUX_DEFAULT="\\1 ${arg}"/' /etc/default/grub`;

// ---- vSphere ----

const VSPHERE: BenchHypervisor = {
  kind: "vsphere",
  label: "vSphere",
  fleet: (vms) =>
    benchFleet(
      vms,
      { vsphere: { server: "vcenter.bench.example.com", datacenter: DATACENTER } },
      (i) => ({ name: `esx-gpu-${i}.bench.example.com`, datastore: "nvme-ds", network: "VM Network" }),
      { vsphere: { template: TEMPLATE } },
    ),
  baseline: vsphereBaseline,
};

/**
 * The vSphere Terraform written by hand: lookups of the datacenter, datastore, network, template and hosts, and per
 * VM a clone with the GPU's PCI device and MMIO window, its template's disks and vTPM as dynamic blocks, checks of the
 * template as preconditions, and a `terraform_data` of its host whose change replaces it.
 */
async function vsphereBaseline(fleet: Fleet, outdir: string): Promise<() => void> {
  const { App, DataResource, Fn, LocalBackend, Op, TerraformOutput, TerraformStack, TerraformVariable, Token } =
    await import("cdktf");
  const { VsphereProvider } = await import("@cdktf/provider-vsphere/lib/provider");
  const { VirtualMachine } = await import("@cdktf/provider-vsphere/lib/virtual-machine");
  const { DataVsphereDatacenter } = await import("@cdktf/provider-vsphere/lib/data-vsphere-datacenter");
  const { DataVsphereDatastore } = await import("@cdktf/provider-vsphere/lib/data-vsphere-datastore");
  const { DataVsphereHost } = await import("@cdktf/provider-vsphere/lib/data-vsphere-host");
  const { DataVsphereNetwork } = await import("@cdktf/provider-vsphere/lib/data-vsphere-network");
  const { DataVsphereVirtualMachine } = await import("@cdktf/provider-vsphere/lib/data-vsphere-virtual-machine");
  return () => {
    // cdktf's DataResource validates by running `terraform version` once per instance (80 ms a VM): skipped.
    const app = new App({ outdir, skipValidation: true });
    const stack = new TerraformStack(app, "bench");
    new LocalBackend(stack, { path: STATE });
    const secret = (name: string, description: string) => {
      const v = new TerraformVariable(stack, name, { type: "string", description, sensitive: true, nullable: true });
      v.addOverride("default", null);
      return v.stringValue;
    };
    new VsphereProvider(stack, "vsphere", {
      vsphereServer: (fleet.sites[0].vsphere as { server: string }).server,
      user: secret("vsphere_user", "vCenter user name; unset, the provider reads VSPHERE_USER"),
      password: secret("vsphere_password", "vCenter password; unset, the provider reads VSPHERE_PASSWORD"),
    });
    const datacenterId = new DataVsphereDatacenter(stack, "datacenter", { name: DATACENTER }).id;
    const datastore = new DataVsphereDatastore(stack, "datastore", { name: "nvme-ds", datacenterId });
    const network = new DataVsphereNetwork(stack, "network", { name: "VM Network", datacenterId });
    // The data source lists the disks of the controllers it scans: the clone must declare exactly those.
    const template = new DataVsphereVirtualMachine(stack, "template", {
      name: TEMPLATE,
      datacenterId,
      scsiControllerScanCount: 1,
      sataControllerScanCount: 0,
      ideControllerScanCount: 0,
      nvmeControllerScanCount: 0,
    });
    const hosts = new Map(
      fleet.hosts.map((h) => [h.name, new DataVsphereHost(stack, h.name, { name: h.name, datacenterId })]),
    );
    for (const h of fleet.hosts) {
      const cmd = (a: string) =>
        `govc host.esxcli -dc=${DATACENTER} -host=${h.name} hardware pci pcipassthru set -d ${a} -e true -a`;
      new TerraformOutput(stack, outputName(h.name), {
        description: hostStepsDescription(h.name),
        value: [
          "bios: Enable Intel VT-d or AMD IOMMU (AMD-Vi) in the host's BIOS/UEFI setup.",
          `bios: Enable "Above 4G decoding" (also "Memory mapped I/O above 4GB") in the host's BIOS: ${GPU_NAME} map more than 16 GB.`,
          ...ADDRESSES.map(cmd),
          "reboot: ESXi 7.0 and later apply the passthrough toggle at once; on ESXi 6.x reboot the host after it.",
        ],
      });
    }
    for (const v of fleet.vms) {
      const host = hosts.get(v.host)!;
      // A host move replaces the VM: provider 2.15.0 cannot move a VM with a PCI device.
      const placement = new DataResource(stack, `${v.name}-placement`, {
        input: { datacenter: DATACENTER, host: v.host },
      });
      const vm = new VirtualMachine(stack, v.name, {
        name: v.name,
        resourcePoolId: host.resourcePoolId,
        hostSystemId: host.id,
        datastoreId: datastore.id,
        numCpus: v.cpus,
        numCoresPerSocket: v.cpus,
        memory: v.memoryGib * 1024,
        memoryReservation: v.memoryGib * 1024,
        memoryReservationLockedToMax: true,
        cpuHotAddEnabled: false,
        cpuHotRemoveEnabled: false,
        memoryHotAddEnabled: false,
        nestedHvEnabled: false,
        firmware: "efi",
        efiSecureBootEnabled: template.efiSecureBootEnabled,
        guestId: template.guestId,
        scsiType: template.scsiType,
        networkInterface: [{ networkId: network.id, adapterType: Fn.element(template.networkInterfaceTypes, 0) }],
        clone: { templateUuid: template.id },
        pciDeviceId: [String(gpuOf(v))],
        extraConfig: { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": String(MMIO_GB) },
        lifecycle: {
          replaceTriggeredBy: [`${placement.terraformResourceType}.${placement.friendlyUniqueId}`],
          precondition: [
            {
              condition: Op.gte(Fn.lengthOf(template.disks), 1),
              errorMessage: `template "${TEMPLATE}" has no disk on its first SCSI controller. Fix: set vsphere.diskController to the controller its disks are on (scsi, nvme or sata).`,
            },
            {
              condition: Fn.contains(["lsilogic", "lsilogic-sas", "pvscsi"], template.scsiType),
              errorMessage: `template "${TEMPLATE}" has no SCSI controller the provider can manage (it takes lsilogic, lsilogic-sas, pvscsi; a template whose disks are on NVMe or SATA reads "unknown"). Fix: set vsphere.diskController: nvme (or sata).`,
            },
            {
              condition: Op.eq(template.firmware, "efi"),
              errorMessage: `template "${TEMPLATE}" boots with BIOS firmware, and its clone gets EFI: the guest would not find its boot loader. Fix: clone an EFI template (a guest installed in EFI mode), or set firmware: "bios" for GPUs that map 16 GB or less.`,
            },
          ],
        },
      });
      // The clone keeps its template's disks and vTPM; dynamic blocks through overrides, as their content names
      // the iterator (on SCSI the controller holds unit 7, so the provider's unit 7 is the template's 8).
      vm.addOverride("dynamic.disk", {
        for_each: Token.asString(template.disks),
        content: {
          label: "disk${disk.key}",
          size: "${disk.value.size}",
          thin_provisioned: "${disk.value.thin_provisioned}",
          eagerly_scrub: "${disk.value.eagerly_scrub}",
          unit_number: "${disk.value.unit_number > 7 ? disk.value.unit_number - 1 : disk.value.unit_number}",
          controller_type: "scsi",
        },
      });
      vm.addOverride("dynamic.vtpm", {
        for_each: Token.asString(Fn.conditional(template.vtpm, ["2.0"], [])),
        content: { version: "2.0" },
      });
    }
    app.synth();
  };
}

// ---- libvirt ----

const LIBVIRT: BenchHypervisor = {
  kind: "libvirt",
  label: "libvirt",
  fleet: (vms) =>
    benchFleet(
      vms,
      { libvirt: {} },
      (i) => ({
        name: `kvm-gpu-${i}`,
        libvirt: {
          uri: `qemu+ssh://root@kvm-gpu-${i}.bench.example.com/system`,
          cpuVendor: "intel",
          iommuGroups: IOMMU_GROUPS,
        },
      }),
      { libvirt: { baseImage: BASE_IMAGE, cloudInit: { sshAuthorizedKeys: [SSH_KEY] } } },
    ),
  baseline: libvirtBaseline,
};

/** The libvirt Terraform written by hand: a provider per host, and per VM its boot volume, seed and domain. */
async function libvirtBaseline(fleet: Fleet, outdir: string): Promise<() => void> {
  const { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } = await import("cdktf");
  const { LibvirtProvider } = await import("../.gen/providers/libvirt/provider");
  const { Domain } = await import("../.gen/providers/libvirt/domain");
  const { Volume } = await import("../.gen/providers/libvirt/volume");
  const { CloudinitDisk } = await import("../.gen/providers/libvirt/cloudinit-disk");
  return () => {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "bench");
    new LocalBackend(stack, { path: STATE });
    const steps = linuxHostSteps(KERNEL_ARGS.map(grubArg), "update-grub");
    const providers = new Map(
      fleet.hosts.map((h) => {
        const alias = h.name.replace(/[^A-Za-z0-9]/g, "_");
        const uri = new TerraformVariable(stack, `libvirt_uri_${alias}`, {
          type: "string",
          description: `libvirt connection URI of ${h.name} (TF_VAR_libvirt_uri_${alias})`,
          sensitive: true,
          nullable: true,
        });
        uri.addOverride("default", (h.libvirt as { uri: string }).uri);
        new TerraformOutput(stack, outputName(h.name), { description: hostStepsDescription(h.name), value: steps });
        return [h.name, new LibvirtProvider(stack, `libvirt-${alias}`, { alias, uri: uri.stringValue })];
      }),
    );
    for (const v of fleet.vms) {
      const provider = providers.get(v.host);
      const gpu = gpuOf(v);
      const userData = `#cloud-config\nhostname: ${JSON.stringify(v.name)}\nssh_authorized_keys:\n  - ${JSON.stringify(SSH_KEY)}\n`;
      const metaData = `instance-id: ${JSON.stringify(v.name)}\nlocal-hostname: ${JSON.stringify(v.name)}\n`;
      // Named by content, as provider 0.9.7 names the ISO: a volume cannot be updated, a new name replaces it.
      const isoId = createHash("sha256").update(userData).update(metaData).digest("hex").slice(0, 16);
      const isoName = `${v.name}-cloudinit-${isoId}.iso`;
      const boot = new Volume(stack, `${v.name}-boot`, {
        provider,
        name: `${v.name}-boot.qcow2`,
        pool: "default",
        capacity: 40 * 1024 ** 3,
        target: { format: { type: "qcow2" }, compat: "1.1" },
        backingStore: { path: BASE_IMAGE, format: { type: "qcow2" } },
      });
      const seed = new CloudinitDisk(stack, `${v.name}-seed`, {
        provider,
        name: `${v.name}-cloudinit`,
        userData,
        metaData,
      });
      const iso = new Volume(stack, `${v.name}-iso`, {
        provider,
        name: isoName,
        pool: "default",
        target: { format: { type: "raw" } },
        create: { content: { url: seed.path } },
        lifecycle: { ignoreChanges: ["create"], createBeforeDestroy: true },
      });
      new Domain(stack, v.name, {
        provider,
        dependsOn: [boot, iso],
        name: v.name,
        type: "kvm",
        description: `GPU passthrough VM: ${gpu} ${GPU_NAME}`,
        memory: v.memoryGib * 1024,
        memoryUnit: "MiB",
        vcpu: v.cpus,
        running: true,
        autostart: false,
        update: { shutdown: { timeout: 300 } },
        os: {
          type: "hvm",
          typeArch: "x86_64",
          typeMachine: "q35",
          loader: "/usr/share/OVMF/OVMF_CODE_4M.fd",
          loaderReadonly: "yes",
          loaderType: "pflash",
          loaderSecure: "no",
          nvRam: {
            nvRam: `/var/lib/libvirt/qemu/nvram/${v.name}_VARS.fd`,
            template: "/usr/share/OVMF/OVMF_VARS_4M.fd",
          },
          bootDevices: [{ dev: "hd" }],
        },
        cpu: {
          mode: "host-passthrough",
          check: "none",
          topology: { sockets: 1, dies: 1, cores: v.cpus, threads: 1 },
          maxPhysAddr: { mode: "passthrough" },
        },
        memoryTune: { hardLimit: v.memoryGib * 1024 + 1024, hardLimitUnit: "MiB" },
        memoryBacking: { memoryLocked: true },
        features: { acpi: true, apic: {}, ioapic: { driver: "kvm" } },
        clock: {
          offset: "utc",
          timer: [
            { name: "rtc", tickPolicy: "catchup" },
            { name: "pit", tickPolicy: "delay" },
            { name: "hpet", present: "no" },
          ],
        },
        devices: {
          disks: [
            {
              device: "disk",
              driver: { name: "qemu", type: "qcow2" },
              source: { volume: { pool: "default", volume: `${v.name}-boot.qcow2` } },
              target: { dev: "vda", bus: "virtio" },
            },
            {
              device: "cdrom",
              source: { volume: { pool: "default", volume: isoName } },
              target: { dev: "sda", bus: "sata" },
              readOnly: true,
            },
          ],
          interfaces: [{ source: { network: { network: "default" } }, model: { type: "virtio" } }],
          serials: [{ target: { type: "isa-serial", port: 0, model: { name: "isa-serial" } } }],
          consoles: [{ target: { type: "serial", port: 0 } }],
          memBalloon: { model: "none" },
          hostdevs: [
            {
              managed: true,
              subsysPci: {
                source: { address: { domain: gpu.domain, bus: gpu.bus, slot: gpu.slot, function: gpu.fn } },
                driver: { name: "vfio" },
              },
            },
          ],
        },
        qemuCommandline: {
          args: [{ value: "-fw_cfg" }, { value: `name=opt/ovmf/X-PciMmio64Mb,string=${MMIO_GB * 1024}` }],
        },
      });
    }
    app.synth();
  };
}

// ---- Proxmox VE ----

const PROXMOX: BenchHypervisor = {
  kind: "proxmox",
  label: "Proxmox",
  fleet: (vms) =>
    benchFleet(
      vms,
      { proxmox: { endpoint: "https://pve.bench.example.com:8006/" } },
      (i) => ({ name: `pve-gpu-${i}`, proxmox: { cpuVendor: "intel", iommuGroups: IOMMU_GROUPS } }),
      { proxmox: { template: PROXMOX_TEMPLATE } },
    ),
  baseline: proxmoxBaseline,
};

/** The Proxmox VE Terraform written by hand: one provider for the cluster, and per VM a clone with its GPU. */
async function proxmoxBaseline(fleet: Fleet, outdir: string): Promise<() => void> {
  const { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } = await import("cdktf");
  const { ProxmoxProvider } = await import("../.gen/providers/proxmox/provider");
  const { VirtualEnvironmentVm } = await import("../.gen/providers/proxmox/virtual-environment-vm");
  return () => {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "bench");
    new LocalBackend(stack, { path: STATE });
    const secret = (name: string, description: string) => {
      const v = new TerraformVariable(stack, name, { type: "string", description, sensitive: true, nullable: true });
      v.addOverride("default", null);
      return v.stringValue;
    };
    const provider = new ProxmoxProvider(stack, "proxmox", {
      endpoint: (fleet.sites[0].proxmox as { endpoint: string }).endpoint,
      username: secret(
        "proxmox_username",
        "Proxmox VE user, root@pam for hostpci by id and kvm_arguments; unset, the provider reads PROXMOX_VE_USERNAME",
      ),
      password: secret("proxmox_password", "Proxmox VE password; unset, the provider reads PROXMOX_VE_PASSWORD"),
    });
    // PVE boots with systemd-boot (/etc/kernel/cmdline) or GRUB: the steps edit whichever the node has.
    const cmdline = (arg: string) =>
      `[ ! -f /etc/kernel/cmdline ] || grep -qE '(^| )${arg}( |$)' /etc/kernel/cmdline || sed -i '1s/$/ ${arg}/' /etc/kernel/cmdline`;
    const steps = linuxHostSteps(
      [...KERNEL_ARGS.map(cmdline), ...KERNEL_ARGS.map((arg) => `[ ! -f /etc/default/grub ] || ${grubArg(arg)}`)],
      "if proxmox-boot-tool status --quiet >/dev/null 2>&1; then proxmox-boot-tool refresh; else update-grub; fi",
    );
    for (const h of fleet.hosts) {
      new TerraformOutput(stack, outputName(h.name), { description: hostStepsDescription(h.name), value: steps });
    }
    for (const v of fleet.vms) {
      const gpu = gpuOf(v);
      new VirtualEnvironmentVm(stack, v.name, {
        provider,
        nodeName: v.host,
        name: v.name,
        description: `GPU passthrough VM: ${gpu} ${GPU_NAME}`,
        tags: ["gpu-passthrough"],
        machine: "q35",
        bios: "ovmf",
        efiDisk: { datastoreId: "local-lvm", type: "4m", preEnrolledKeys: false },
        cpu: { type: "host", cores: v.cpus, sockets: 1 },
        memory: { dedicated: v.memoryGib * 1024, floating: 0 },
        operatingSystem: { type: "l26" },
        clone: { vmId: PROXMOX_TEMPLATE, full: true },
        scsiHardware: "virtio-scsi-single",
        disk: [{ interface: "scsi0", datastoreId: "local-lvm", iothread: true, discard: "on" }],
        // network_device is an attribute in the provider's schema: Terraform's JSON syntax wants every key.
        networkDevice: [
          {
            bridge: "vmbr0",
            model: "virtio",
            enabled: null as unknown as boolean,
            disconnected: false,
            firewall: false,
            mtu: 0,
            queues: 0,
            rateLimit: 0,
            vlanId: 0,
            macAddress: null as unknown as string,
            trunks: null as unknown as string,
          },
        ],
        agent: { enabled: false },
        started: true,
        onBoot: false,
        rebootAfterUpdate: true,
        timeoutShutdownVm: 300,
        // The GPU's functions, ";"-separated (an A100 has one); rombar written, as the provider's default hides the ROM.
        hostpci: [{ device: "hostpci0", id: String(gpu), pcie: true, rombar: true }],
        kvmArguments: `-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=${MMIO_GB * 1024}`,
        vga: { type: "std" },
      });
    }
    app.synth();
  };
}

/** The hypervisors measured, in table order. A plug-in of the registry missing here is noted when the bench runs. */
const HYPERVISORS: readonly BenchHypervisor[] = [VSPHERE, LIBVIRT, PROXMOX];

// ---- child side: one case, one size, one JSON line on stdout ----

async function child(hypervisor: BenchHypervisor, kind: Case, vms: number, keep?: string): Promise<void> {
  const outdir = keep ?? mkdtempSync(join(tmpdir(), "bench-synth-"));
  try {
    const fleet = hypervisor.fleet(vms); // the input, built before the clock starts in both cases
    const loadStart = performance.now();
    const synth = kind === "library" ? await loadLibrary(fleet, outdir) : await hypervisor.baseline(fleet, outdir);
    const [synthStart, cpuStart] = [performance.now(), process.cpuUsage()];
    synth();
    const [end, cpu] = [performance.now(), process.cpuUsage(cpuStart)];
    const sample: Sample = {
      loadMs: synthStart - loadStart,
      synthMs: end - synthStart,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: process.resourceUsage().maxRSS / 1024, // kB
      heapMb: process.memoryUsage().heapUsed / 2 ** 20,
      shape: outputShape(join(outdir, "stacks", "bench", "cdk.tf.json")),
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    if (!keep) rmSync(outdir, { recursive: true, force: true }); // also when the synth throws (not when V8 aborts)
  }
}

/** Loads the modules a fleet app loads (timed as module load) and returns the synth (timed as synth). */
async function loadLibrary(fleet: Fleet, outdir: string): Promise<() => void> {
  const { PassthroughApp } = await import("../lib/validation/app");
  const { buildFleetStacks } = await import("../stacks/fleet-app");
  return () => {
    const app = new PassthroughApp({ outdir });
    buildFleetStacks(app, fleet);
    app.synth(); // validates every construct of the app first, as users get it
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The output as lines: `resource.libvirt_volume=2000` for each block type and its count (outputs, variables and
 * providers too), then `resource.libvirt_domain.os.loader="/usr/share/..."` for every value of the first item of each
 * type (in name order), the `terraform` block and the first output and variable. Names cdktf makes from construct ids
 * (`gpu-vm-0_vm_FE89C758`) are left out, in references too (`${data.vsphere_host.*.id}`), as is cdktf's metadata.
 */
function outputShape(file: string): string[] {
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, Json>;
  const blocks = (v: Json | undefined) => (v ?? {}) as Record<string, Record<string, Json>>;
  const types = new Set([...Object.keys(blocks(json.resource)), ...Object.keys(blocks(json.data))]);
  const typeAlternation = [...types].map((t) => t.replace(/[^A-Za-z0-9_]/g, "")).join("|");
  const reference = new RegExp(`\\b(${typeAlternation})\\.[A-Za-z0-9_-]+`, "g");
  const lines: string[] = [];
  const walk = (path: string, value: Json): void => {
    if (Array.isArray(value)) {
      if (!value.length) lines.push(`${path}=[]`);
      value.forEach((v, i) => walk(`${path}[${i}]`, v));
    } else if (value !== null && typeof value === "object") {
      const keys = Object.keys(value).filter((k) => k !== "//");
      if (!keys.length) lines.push(`${path}={}`);
      for (const k of keys.sort()) walk(`${path}.${k}`, value[k]);
    } else {
      const text = typeof value === "string" && types.size ? value.replace(reference, "$1.*") : value;
      lines.push(`${path}=${JSON.stringify(text)}`);
    }
  };
  const first = (items: Record<string, Json>) => items[Object.keys(items).sort()[0]];
  for (const kind of ["resource", "data"]) {
    for (const [type, items] of Object.entries(blocks(json[kind]))) {
      lines.push(`${kind}.${type}=${Object.keys(items).length}`);
      walk(`${kind}.${type}`, first(items));
    }
  }
  for (const [type, items] of Object.entries((json.provider ?? {}) as Record<string, Json[]>)) {
    lines.push(`provider.${type}=${items.length}`);
    walk(`provider.${type}`, items[0]);
  }
  for (const kind of ["output", "variable"]) {
    const items = blocks(json[kind]);
    lines.push(`${kind}=${Object.keys(items).length}`);
    const name = Object.keys(items).sort()[0];
    if (name) walk(`${kind}.${name}`, items[name]);
  }
  walk("terraform", json.terraform ?? null);
  return lines.sort();
}

// ---- parent side: spawn, collect, print ----

/** Runs a child and returns its sample; a failed child ends the benchmark with its output. */
function runChild(hypervisor: BenchHypervisor, kind: Case, vms: number): Sample {
  const args = [__filename, "--child", hypervisor.kind, kind, String(vms)];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 2 ** 26 });
  const line = r.stdout?.trim().split("\n").pop();
  if (r.status !== 0 || !line) fail(`child ${hypervisor.kind} ${kind} ${vms}`, r);
  return JSON.parse(line) as Sample;
}

/** Wall time of a whole `node` process, as a user (or the cdktf CLI, minus its own start) waits for it. */
function timeProcess(args: string[], env: NodeJS.ProcessEnv, file = process.execPath): number {
  const cwd = mkdtempSync(join(tmpdir(), "bench-app-"));
  const start = process.hrtime.bigint();
  const r = spawnSync(file, args, { cwd, env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const wrote = existsSync(join(cwd, "cdktf.out", "manifest.json"));
  rmSync(cwd, { recursive: true, force: true });
  if (r.status !== 0 || !wrote) fail(`${file} ${args.join(" ")}`, r);
  return ms;
}

/** Wall time of a process (`node` unless `file` is given) that writes nothing; `ok` are the exit codes it may end with. */
function timeCommand(args: string[], ok: readonly number[] = [0], file = process.execPath): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(file, args, { encoding: "utf8", maxBuffer: 2 ** 26 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status === null || !ok.includes(r.status)) fail(`${file} ${args.join(" ")}`, r);
  return ms;
}

/** Generated provider bindings: the prebuilt vSphere package and the ones `npm run build` generates into .gen. */
const BINDING_FILE = String(/[\\/](@cdktf[\\/]provider-[^\\/]+|\.gen[\\/]providers)[\\/]/);

/**
 * The stacks the example app writes (its cdktf.out/manifest.json), synthesized into `outdir`, and the provider
 * binding modules it loaded (recorded by a preloaded module as the process exits).
 */
function synthExample(env: NodeJS.ProcessEnv, outdir: string): { stacks: number; bindings: string[] } {
  const scratch = mkdtempSync(join(tmpdir(), "bench-bindings-"));
  const [recorder, loaded] = [join(scratch, "record.js"), join(scratch, "bindings.json")];
  writeFileSync(
    recorder,
    `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(loaded)}, JSON.stringify(` +
      `Object.keys(require.cache).filter((f) => ${BINDING_FILE}.test(f)))));`,
  );
  const r = spawnSync(process.execPath, ["--require", recorder, join(ROOT, "dist", "main.js")], {
    env: { ...env, CDKTF_OUTDIR: outdir },
    encoding: "utf8",
  });
  if (r.status !== 0) fail("node dist/main.js", r);
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as { stacks: object };
  const bindings = JSON.parse(readFileSync(loaded, "utf8")) as string[];
  rmSync(scratch, { recursive: true, force: true });
  return { stacks: Object.keys(manifest.stacks).length, bindings };
}

/** The launcher of the startup snapshots (scripts/startup-snapshot.js): the bin sources it, cdktf.json's app runs it. */
const SNAPSHOT_RUN = join(ROOT, "scripts", "snapshot-run.sh");

/**
 * Whether `npm run build` wrote the startup snapshot `target` for this node (the blob scripts/snapshot-run.sh picks);
 * if not, says so, as the launcher then runs the plain JavaScript and there is nothing to compare.
 */
function snapshotBuilt(target: "cli" | "app"): boolean {
  const s = statSync(process.execPath);
  const blob = join(ROOT, "dist", "snapshot", `${target}-${s.size}-${Math.floor(s.mtimeMs / 1000)}.blob`);
  if (!existsSync(blob))
    console.log(`note: no startup snapshot ${target} for this node (${blob}): build it with Go on PATH`);
  return existsSync(blob);
}

/**
 * Each command run as plain JavaScript (`node dist/lib/cli/main.js`, how it started before the startup snapshot) and
 * as users run it (the bin, scripts/gpu-passthrough: the startup snapshot), against `node -e 0` in the same run,
 * alternating. preflight and discover read a copy of a four-A100 server's /proc and /sys (the test fixture); report
 * reads the example's synth. The target is judged on the bin.
 */
function benchCommands(outdir: string): void {
  const host = writeHost(gpuServer());
  const fleetFile = join(mkdtempSync(join(tmpdir(), "bench-fleet-")), "fleet.yaml");
  writeFileSync(fleetFile, FLEET_YAML);
  const bin = join(ROOT, "dist", "lib", "cli", "main.js");
  const shipped = join(ROOT, "scripts", "gpu-passthrough");
  const snapshot = snapshotBuilt("cli");
  const commands: [string, string[], number[]][] = [
    ["--help", ["--help"], [0]],
    ["mmio nvidia-a30", ["mmio", "nvidia-a30"], [0]],
    ["catalog", ["catalog"], [0]],
    ["preflight", ["preflight", "--root", host], [0, 1]],
    ["preflight --fleet", ["preflight", "--root", host, "--fleet", fleetFile, "--host", "kvm-gpu-01"], [0, 1]],
    ["discover", ["discover", "--root", host, "--site", "lab"], [0]],
    ["report", ["report", "--outdir", outdir], [0]],
  ];
  try {
    const walls: number[][] = commands.map(() => []);
    const snapWalls: number[][] = commands.map(() => []);
    const node: number[] = [];
    for (let i = 0; i < runsFor("cli"); i++) {
      node.push(timeCommand(["-e", "0"]));
      commands.forEach(([, args, ok], c) => {
        walls[c].push(timeCommand([bin, ...args], ok));
        if (snapshot) snapWalls[c].push(timeCommand(args, ok, shipped));
      });
    }
    const nodeMs = median(node);
    console.log(
      `node -e 0: ${nodeMs.toFixed(0)} ms (median of ${node.length}); gpu-passthrough <command>, plain JavaScript` +
        (snapshot ? " -> the bin, from its startup snapshot:" : ":"),
    );
    commands.forEach(([name], c) => {
      const [plainMs, snapMs] = [median(walls[c]), snapshot ? median(snapWalls[c]) : NaN];
      const ratio = (snapshot ? snapMs : plainMs) / nodeMs;
      const cell = (ms: number) => `${ms.toFixed(0).padStart(5)} ms  ${times(ms / nodeMs)}`;
      const line = `  ${name.padEnd(18)} ${cell(plainMs)}${snapshot ? ` -> ${cell(snapMs)}` : ""}`;
      console.log(`${line}  target <= ${TARGET_CLI_RATIO}x node -e 0: ${verdict(ratio <= TARGET_CLI_RATIO)}`);
    });
  } finally {
    removeHost(host);
    rmSync(dirname(fleetFile), { recursive: true, force: true });
  }
}

function fail(what: string, r: SpawnSyncReturns<string>): never {
  process.stderr.write(`${what} failed (status ${r.status}, signal ${r.signal})\n${r.stderr}${r.stdout}\n`);
  process.exit(1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** What one output has and the other lacks, a line each, at most `max` lines. */
function shapeDiff(library: string[], baseline: string[], max = 24): string[] {
  const [lib, base] = [new Set(library), new Set(baseline)];
  const diff = [
    ...library.filter((l) => !base.has(l)).map((l) => `library only:  ${l}`),
    ...baseline.filter((l) => !lib.has(l)).map((l) => `baseline only: ${l}`),
  ];
  return diff.length > max ? [...diff.slice(0, max), `... and ${diff.length - max} more`] : diff;
}

const COLUMNS = ["case", "VMs", "runs", "load lib ms", "load base ms", "library ms", "baseline ms", "ratio"];
COLUMNS.push("cpu ratio", "library MB", "baseline MB", "mem ratio", "heap lib MB", "heap base MB");

/** A table row: the first cell left-aligned, the others right-aligned under their column names. */
function row(cells: (string | number)[]): string {
  const text = (v: string | number) =>
    typeof v === "string" || Number.isInteger(v) ? String(v) : v.toFixed(v < 100 ? 1 : 0);
  return cells.map((c, i) => (i ? text(c).padStart(Math.max(5, COLUMNS[i].length)) : text(c).padEnd(16))).join("  ");
}

const times = (x: number) => `${x.toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? "ok" : "OVER");

async function parent(): Promise<void> {
  // The launchers run the `node` on PATH: the one running the bench, whose startup snapshot snapshotBuilt finds.
  process.env.PATH = `${dirname(process.execPath)}:${process.env.PATH}`;
  const { HYPERVISORS: plugins } = await import("../lib/backends/registry");
  for (const p of plugins.filter((p) => !HYPERVISORS.some((h) => h.kind === p.kind))) {
    console.log(
      `note: hypervisor "${p.kind}" is in lib/backends/registry.ts but not measured: add it to scripts/bench.ts`,
    );
  }
  const only = (process.env.BENCH_HYPERVISORS ?? "").split(",").filter(Boolean);
  const measured = HYPERVISORS.filter((h) => !only.length || only.includes(h.kind));

  // One discarded pair first: the first process to read node_modules from a cold page cache would pay for it.
  runChild(measured[0], "library", 10);
  runChild(measured[0], "baseline", 10);

  console.log(row(COLUMNS));
  const at1000: Record<string, number> = {};
  for (const hypervisor of measured)
    for (const vms of sizes()) {
      const samples: Record<Case, Sample[]> = { library: [], baseline: [] };
      for (let i = 0; i < runsFor(vms); i++) {
        samples.library.push(runChild(hypervisor, "library", vms)); // A B A B: noise hits both alike
        samples.baseline.push(runChild(hypervisor, "baseline", vms));
      }
      type Key = Exclude<keyof Sample, "shape">;
      const [lib, base] = (["library", "baseline"] as const).map(
        (kind) => (key: Key) => median(samples[kind].map((s) => s[key])),
      );
      const ratio = (key: Key) => times(lib(key) / base(key));
      if (vms === 1000) {
        at1000[`${hypervisor.label} time`] = lib("synthMs") / base("synthMs");
        at1000[`${hypervisor.label} memory`] = lib("rssMb") / base("rssMb");
      }
      const cells = [
        `${hypervisor.label} fleet`,
        vms,
        runsFor(vms),
        lib("loadMs"),
        base("loadMs"),
        lib("synthMs"),
        base("synthMs"),
      ];
      cells.push(ratio("synthMs"), ratio("cpuMs"), lib("rssMb"), base("rssMb"), ratio("rssMb"));
      console.log(row([...cells, lib("heapMb"), base("heapMb")]));
      const diff = shapeDiff(samples.library[0].shape, samples.baseline[0].shape);
      if (diff.length) {
        console.log(`  note: the baseline does not write what the library writes:\n    ${diff.join("\n    ")}`);
      }
    }
  console.log("ms: median synth time in the child, from constructing the app to cdk.tf.json written (load: requiring");
  console.log("the modules before that); cpu: user + system time of the synth; MB: peak RSS of the child process;");
  console.log("heap: V8 heap used after synth.\n");

  // The example app as `cdktf synth` runs it, next to the fixed cost of starting Node and cdktf and writing as many
  // (empty) stacks.
  const appEnv = { ...process.env, FLEET_FILE: join(ROOT, "fleet.yaml") };
  const exampleOut = mkdtempSync(join(tmpdir(), "bench-example-"));
  try {
    const { stacks, bindings } = synthExample(appEnv, exampleOut);
    const cdktf = JSON.stringify(require.resolve("cdktf"));
    const bare =
      `const c = require(${cdktf}); const a = new c.App(); ` +
      `for (let i = 0; i < ${stacks}; i++) new c.TerraformStack(a, "s" + i); a.synth();`;
    // The floor of any app using these providers through cdktf's bindings: the bare app that also loads them.
    const withBindings = `${bindings.map((f) => `require(${JSON.stringify(f)});`).join("")}${bare}`;
    const snapshot = snapshotBuilt("app");
    const [appTimes, snapTimes, bareTimes, floorTimes]: number[][] = [[], [], [], []];
    for (let i = 0; i < runsFor("app"); i++) {
      appTimes.push(timeProcess([join(ROOT, "dist", "main.js")], appEnv));
      // What cdktf.json's app runs: the startup snapshot.
      if (snapshot) snapTimes.push(timeProcess([SNAPSHOT_RUN, "app", join(ROOT, "dist", "main.js")], appEnv, "sh"));
      bareTimes.push(timeProcess(["-e", bare], process.env));
      floorTimes.push(timeProcess(["-e", withBindings], process.env));
    }
    const [appMs, bareMs, floorMs] = [median(appTimes), median(bareTimes), median(floorTimes)];
    const snapMs = snapshot ? median(snapTimes) : NaN;
    console.log(
      `example app, node dist/main.js with fleet.yaml: ${appMs.toFixed(0)} ms (median of ${appTimes.length})`,
    );
    if (snapshot) {
      console.log(
        `the same from its startup snapshot (cdktf.json's app): ${snapMs.toFixed(0)} ms (${times(snapMs / bareMs)} the bare app)`,
      );
    }
    console.log(
      `bare cdktf app, ${stacks} empty stacks:                ${bareMs.toFixed(0)} ms (starting Node and cdktf)`,
    );
    console.log(
      `the same, loading the app's ${bindings.length} provider binding modules: ${floorMs.toFixed(0)} ms ` +
        `(${times(floorMs / bareMs)} the bare app: no app using these providers starts faster)\n`,
    );
    benchCommands(exampleOut);
    console.log("");
    for (const [what, ratio] of Object.entries(at1000)) {
      // Time has a target; peak memory is reported next to it.
      const judged = what.endsWith("time") ? ` ${verdict(ratio <= TARGET_RATIO)}` : " (reported)";
      const target = what.endsWith("time") ? ` <= ${TARGET_RATIO}x baseline` : " against the baseline";
      console.log(`target: synth ${what} at 1000 VMs${target}: ${times(ratio)}${judged}`);
    }
    // Judged on what cdktf synth runs: the snapshot when built, else the plain script.
    const appRatio = (snapshot ? snapMs : appMs) / bareMs;
    console.log(
      `target: example app${snapshot ? " (startup snapshot)" : ""} <= ${TARGET_APP_RATIO}x the bare app: ` +
        `${times(appRatio)} ${verdict(appRatio <= TARGET_APP_RATIO)} (plain JavaScript: ${times(appMs / bareMs)}; ` +
        `${times(appMs / floorMs)} the bare app with the same provider bindings)`,
    );
  } finally {
    rmSync(exampleOut, { recursive: true, force: true });
  }
}

const main =
  process.argv[2] === "--child"
    ? () => {
        const [kind, which, vms, keep] = [process.argv[3], process.argv[4], Number(process.argv[5]), process.argv[6]];
        const hypervisor = HYPERVISORS.find((h) => h.kind === kind);
        if (!hypervisor || (which !== "library" && which !== "baseline") || !(vms > 0)) {
          const kinds = HYPERVISORS.map((h) => h.kind).join("|");
          throw new Error(`usage: --child ${kinds} library|baseline N [outdir to keep]; got ${process.argv.slice(3)}`);
        }
        return child(hypervisor, which, vms, keep);
      }
    : parent;
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
