import { Testing } from "cdktf";
import { LibvirtHostBinding } from "../lib/backends/libvirt/libvirt-backend";
import { mmioExtraConfig } from "../lib/backends/vsphere/render-vm";
import { newHost, newStack, newVm } from "./helpers";
import { newKvmHost, newKvmStack, newKvmVm, renderedDomain, synthesized } from "./libvirt-helpers";

const SERVER_GPUS = [
  { address: "0000:b1:00.0", model: "nvidia-a100-80gb" },
  { address: "0000:ca:00.0", model: "nvidia-a100-80gb" },
];
const SERVER_GROUPS = [
  { id: 71, devices: ["0000:b1:00.0"], bridges: ["0000:b0:00.0"] },
  { id: 83, devices: ["0000:ca:00.0"], bridges: ["0000:c9:00.0"] },
];

describe("GpuPassthroughVm on libvirt", () => {
  test("a consumer GPU goes to a q35 KVM domain with OVMF, locked memory, every function and a hidden hypervisor", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "gaming", newKvmHost(stack), { gpus: ["0000:0b:00.0"], cpus: 8, coresPerSocket: 4 });
    const d = renderedDomain(vm);
    expect(d).toMatchObject({ name: "gaming", type: "kvm", memory: 16384, memory_unit: "MiB", vcpu: 8 });
    expect(d.os).toEqual({
      type: "hvm",
      type_arch: "x86_64",
      type_machine: "q35",
      loader: "/usr/share/OVMF/OVMF_CODE_4M.fd",
      loader_readonly: "yes",
      loader_type: "pflash",
      loader_secure: "no",
      nv_ram: { nv_ram: "/var/lib/libvirt/qemu/nvram/gaming_VARS.fd", template: "/usr/share/OVMF/OVMF_VARS_4M.fd" },
      boot_devices: [{ dev: "hd" }],
    });
    expect(d.cpu).toEqual({
      mode: "host-passthrough",
      check: "none",
      topology: { sockets: 2, dies: 1, cores: 4, threads: 1 },
    });
    expect(d.memory_backing).toEqual({ memory_locked: true });
    // Function 0 (VGA) and function 1 (HDMI audio), bus 0x0b written as decimal 11.
    expect(d.devices.hostdevs).toEqual(
      [0, 1].map((fn) => ({
        managed: true,
        subsys_pci: { source: { address: { domain: 0, bus: 11, slot: 0, function: fn } }, driver: { name: "vfio" } },
      })),
    );
    expect(d.features.kvm).toEqual({ hidden: { state: "on" } });
    expect(d.features.hyper_v.vendor_id).toEqual({ state: "on", value: "0123456789ab" });
    expect(d.qemu_commandline).toBeUndefined(); // 304 MiB of BARs fit OVMF's default aperture
  });

  test("large-BAR GPUs get OVMF's 64-bit aperture from the same MMIO rule as vSphere", () => {
    const kvm = newKvmStack();
    const kvmVm = newKvmVm(kvm, "train", newKvmHost(kvm, SERVER_GPUS, { iommuGroups: SERVER_GROUPS }, "kvm-01"), {
      gpuCount: 2,
    });
    const vsphere = newStack();
    const esxVm = newVm(vsphere, "train", newHost(vsphere, SERVER_GPUS), { gpuCount: 2 });
    expect(kvmVm.mmio.sizeGb).toBe(512);
    expect(mmioExtraConfig(esxVm.mmio)["pciPassthru.64bitMMIOSizeGB"]).toBe("512");
    const d = renderedDomain(kvmVm);
    expect(d.qemu_commandline).toEqual({
      args: [{ value: "-fw_cfg" }, { value: "name=opt/ovmf/X-PciMmio64Mb,string=524288" }],
    });
    // The aperture sits above guest RAM: the guest gets the host's physical address width.
    expect(d.cpu.max_phys_addr).toEqual({ mode: "passthrough" });
    // Data-center GPUs need no hiding.
    expect(d.features.kvm).toBeUndefined();
    expect(d.features.hyper_v).toBeUndefined();
  });

  test("secure boot uses the distribution's Secure Boot OVMF with SMM; paths follow the distribution and overrides", () => {
    const stack = newKvmStack();
    const fedora = newKvmHost(stack, undefined, { distro: "fedora" });
    const sb = renderedDomain(newKvmVm(stack, "sb", fedora, { gpus: ["0000:0b:00.0"], secureBoot: true }));
    expect(sb.os.loader).toBe("/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd");
    expect(sb.os.loader_secure).toBe("yes");
    expect(sb.os.nv_ram.template).toBe("/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd");
    expect(sb.features.smm).toEqual({ state: "on" });

    const stack2 = newKvmStack(Testing.app());
    const custom = newKvmHost(stack2, undefined, { ovmf: { code: "/opt/edk2/CODE.fd" } });
    const d = renderedDomain(newKvmVm(stack2, "vm", custom, { gpus: ["0000:0b:00.0"] }));
    expect(d.os.loader).toBe("/opt/edk2/CODE.fd");
    expect(d.os.nv_ram.template).toBe("/usr/share/OVMF/OVMF_VARS_4M.fd");
    expect(d.features.smm).toBeUndefined();
  });

  test("BIOS firmware (small-BAR GPUs only) boots SeaBIOS: no loader, no NVRAM", () => {
    const stack = newKvmStack();
    const d = renderedDomain(newKvmVm(stack, "vm", newKvmHost(stack), { gpus: ["0000:0b:00.0"], firmware: "bios" }));
    expect(d.os.loader).toBeUndefined();
    expect(d.os.nv_ram).toBeUndefined();
    expect(d.os.type_machine).toBe("q35");
  });

  test("tuning: huge pages, vCPU pins, a ROM file, USB keyboard and mouse, autostart, another network", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "vm", newKvmHost(stack), {
      gpus: ["0000:0b:00.0"],
      cpus: 4,
      libvirt: {
        baseImage: "/img/base.qcow2",
        cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
        network: "br0",
        hugepages: "1G",
        vcpuPins: ["2", "3", "4", "5"],
        gpuRom: { file: "/usr/share/vgabios/3080.rom", bar: true },
        usbDevices: [
          { vendorId: "046d", productId: "c52b" },
          { vendorId: "1532", productId: "0084" },
        ],
        autostart: true,
      },
    });
    const d = renderedDomain(vm);
    expect(d.memory_backing).toEqual({
      memory_locked: true,
      memory_huge_pages: { hugepages: [{ size: 1048576, unit: "KiB" }] },
    });
    expect(d.cpu_tune.vcpu_pin).toEqual([0, 1, 2, 3].map((vcpu) => ({ vcpu, cpu_set: String(vcpu + 2) })));
    expect(d.devices.hostdevs[0].rom).toEqual({ file: "/usr/share/vgabios/3080.rom", bar: "on" });
    expect(d.devices.hostdevs[1].rom).toBeUndefined(); // the audio function has no ROM
    expect(d.devices.hostdevs.slice(2)).toEqual([
      // Optional at start: an unplugged receiver does not keep the VM from starting.
      {
        managed: true,
        subsys_usb: {
          source: { vendor: { id: "0x046d" }, product: { id: "0xc52b" }, start_up_policy: "optional" },
        },
      },
      {
        managed: true,
        subsys_usb: {
          source: { vendor: { id: "0x1532" }, product: { id: "0x0084" }, start_up_policy: "optional" },
        },
      },
    ]);
    expect(d.devices.interfaces).toEqual([{ source: { network: { network: "br0" } }, model: { type: "virtio" } }]);
    expect(d.autostart).toBe(true);
  });

  test("every resource of a VM is reachable, typed, through its host's binding (the escape hatch)", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    const vm = newKvmVm(stack, "ml", host, { gpus: ["0000:0b:00.0"] });
    const parts = (host.binding as LibvirtHostBinding).resourcesOf(vm);
    expect(parts?.domain).toBe(vm.resource);
    parts?.bootVolume.putTarget({ format: { type: "raw" } });
    const boot = Object.values(synthesized(vm).libvirt_volume).find((v: any) => v.name === "ml-boot.qcow2");
    expect(boot.target).toEqual({ format: { type: "raw" } });
  });

  test("the boot disk is a qcow2 overlay on the base image; cloud-init is uploaded and attached read-only", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "ml", newKvmHost(stack, undefined, { pool: "nvme" }), {
      gpus: ["0000:0b:00.0"],
      libvirt: {
        baseImage: "/var/lib/libvirt/images/noble.img",
        diskGib: 100,
        cloudInit: { hostName: "ml-01", sshAuthorizedKeys: ["ssh-ed25519 AAAA ops"] },
      },
    });
    const r = synthesized(vm);
    const volumes = Object.values(r.libvirt_volume);
    const boot = volumes.find((v: any) => v.name === "ml-boot.qcow2");
    expect(boot).toMatchObject({
      pool: "nvme",
      capacity: 100 * 1024 ** 3,
      target: { format: { type: "qcow2" } },
      backing_store: { path: "/var/lib/libvirt/images/noble.img", format: { type: "qcow2" } },
    });
    const [seedId, seed] = Object.entries(r.libvirt_cloudinit_disk)[0];
    expect(seed.user_data).toBe('#cloud-config\nhostname: "ml-01"\nssh_authorized_keys:\n  - "ssh-ed25519 AAAA ops"\n');
    expect(seed.meta_data).toBe('instance-id: "ml"\nlocal-hostname: "ml-01"\n');
    // Named by the content's hash (see libvirt-lifecycle.test.ts).
    const iso = volumes.find((v: any) => /^ml-cloudinit-[0-9a-f]{16}\.iso$/.test(v.name));
    expect(iso).toMatchObject({
      pool: "nvme",
      create: { content: { url: `\${libvirt_cloudinit_disk.${seedId}.path}` } },
    });
    const d = renderedDomain(vm);
    expect(d.devices.disks).toEqual([
      {
        device: "disk",
        driver: { name: "qemu", type: "qcow2" },
        source: { volume: { pool: "nvme", volume: "ml-boot.qcow2" } },
        target: { dev: "vda", bus: "virtio" },
      },
      {
        device: "cdrom",
        read_only: true,
        source: { volume: { pool: "nvme", volume: iso.name } },
        target: { dev: "sda", bus: "sata" },
      },
    ]);
    expect(d.depends_on).toHaveLength(2);
    // Updates shut the guest down cleanly before the provider redefines the domain (destroy: libvirt-lifecycle.test.ts).
    expect(d.update).toEqual({ shutdown: { timeout: 300 } });
  });
});
