/**
 * What a KVM guest gets from its operating system (lib/backends/libvirt/guest.ts): the elements VFIO guides give a
 * Windows 11 or Linux guest, as the provider receives them, and the errors a user reads.
 */
import { Volume } from "../.gen/providers/libvirt/volume";
import { LibvirtHostBinding } from "../lib/backends/libvirt/libvirt-backend";
import type { LibvirtVmOptions } from "../lib/backends/libvirt/vm-options";
import { formatProblem } from "../lib/problems";
import { newKvmHost, newKvmStack, newKvmVm, renderedDomain, synthesized } from "./libvirt-helpers";

const KEY = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"];
const WIN = { guestOs: "windows", baseImage: "/img/win11.qcow2" } as const;
const LINUX = { baseImage: "/img/noble.img", cloudInit: { sshAuthorizedKeys: KEY } } as const;

type Options = Omit<LibvirtVmOptions, "kind">;

function guestVm(name: string, base: Options) {
  return (libvirt: Partial<Options> = {}, props: Record<string, unknown> = {}) => {
    const stack = newKvmStack();
    return newKvmVm(stack, name, newKvmHost(stack), {
      gpus: ["0000:0b:00.0"],
      ...props,
      libvirt: { ...base, ...libvirt },
    });
  };
}
const windowsVm = guestVm("win", WIN);
const linuxVm = guestVm("lin", LINUX);

const settingsOf = (vm: ReturnType<typeof linuxVm>) =>
  Object.fromEntries(vm.backendSettings.map((s) => [s.setting, s]));

describe("Windows guests", () => {
  test("get a TPM 2.0, secure boot, the Hyper-V set, hypervclock in local time and no HPET", () => {
    const vm = windowsVm();
    expect(vm.secureBoot).toBe(true);
    const d = renderedDomain(vm);
    expect(d.devices.tpms).toEqual([{ model: "tpm-crb", backend: { emulator: { version: "2.0" } } }]);
    expect(d.os).toMatchObject({ loader: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", loader_secure: "yes" });
    expect(d.os.nv_ram.template).toBe("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    expect(d.features.smm).toEqual({ state: "on" });
    const on = { state: "on" };
    expect(d.features.hyper_v).toEqual({
      mode: "custom",
      relaxed: on,
      vapic: on,
      spinlocks: { state: "on", retries: 8191 },
      vp_index: on,
      runtime: on,
      synic: on,
      stimer: { state: "on", direct: on },
      reset: on,
      // The RTX 3080's driver needs the hypervisor hidden: a vendor id that is not KVM's.
      vendor_id: { state: "on", value: "0123456789ab" },
      frequencies: on,
      tlb_flush: on,
      ipi: on,
    });
    expect(d.clock).toEqual({
      offset: "localtime",
      timer: [
        { name: "rtc", tick_policy: "catchup" },
        { name: "pit", tick_policy: "delay" },
        { name: "hpet", present: "no" },
        { name: "hypervclock", present: "yes" },
      ],
    });
  });

  test("the Hyper-V set does not depend on hiding the hypervisor (a data-center GPU's driver does not need it)", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, [{ address: "0000:b1:00.0", model: "nvidia-a100-80gb" }], {
      iommuGroups: [{ id: 71, devices: ["0000:b1:00.0"] }],
    });
    const d = renderedDomain(newKvmVm(stack, "win", host, { gpus: ["0000:b1:00.0"], libvirt: WIN }));
    expect(d.features.kvm).toBeUndefined();
    expect(d.features.hyper_v.vendor_id).toBeUndefined();
    expect(d.features.hyper_v.stimer).toEqual({ state: "on", direct: { state: "on" } });
  });

  test("without the virtio drivers: a SATA boot disk and an e1000e NIC, and no seed unless cloudbase-init reads one", () => {
    const vm = windowsVm();
    const d = renderedDomain(vm);
    expect(d.devices.disks).toEqual([
      {
        device: "disk",
        driver: { name: "qemu", type: "qcow2" },
        source: { volume: { pool: "default", volume: "win-boot.qcow2" } },
        target: { dev: "sda", bus: "sata" },
      },
    ]);
    expect(d.devices.interfaces[0].model).toEqual({ type: "e1000e" });
    const resources = synthesized(vm);
    expect(resources.libvirt_cloudinit_disk).toBeUndefined();
    expect(Object.keys(resources.libvirt_volume)).toHaveLength(1);
    expect((vm.host.binding as LibvirtHostBinding).resourcesOf(vm)?.cloudInit).toBeUndefined();
    expect(settingsOf(vm)["boot disk and NIC"].why).toContain("set libvirt.virtioDrivers once virtio-win");
    expect(settingsOf(vm)["guest initialization"]).toMatchObject({ value: "none" });
  });

  test("with virtio drivers and cloudbase-init: virtio disk and NIC, the seed on the next SATA slot", () => {
    const d = renderedDomain(windowsVm({ virtioDrivers: true, cloudInit: { hostName: "win" } }));
    expect(d.devices.disks.map((x: { target: unknown }) => x.target)).toEqual([
      { dev: "vda", bus: "virtio" },
      { dev: "sda", bus: "sata" },
    ]);
    expect(d.devices.interfaces[0].model).toEqual({ type: "virtio" });
    const sata = renderedDomain(windowsVm({ cloudInit: { hostName: "win" } }));
    expect(sata.devices.disks.map((x: { target: unknown }) => x.target)).toEqual([
      { dev: "sda", bus: "sata" },
      { dev: "sdb", bus: "sata" },
    ]);
  });

  test("secure boot and the TPM can be turned off; BIOS firmware gets no secure boot", () => {
    const off = windowsVm({ tpm: false }, { secureBoot: false });
    expect(off.secureBoot).toBe(false);
    const d = renderedDomain(off);
    expect(d.devices.tpms).toBeUndefined();
    expect(d.os.loader_secure).toBe("no");
    const stack = newKvmStack();
    const bios = newKvmVm(stack, "old", newKvmHost(stack), { gpus: ["0000:0b:00.0"], firmware: "bios", libvirt: WIN });
    expect(bios.secureBoot).toBe(false);
    expect(bios.validate()).toEqual([]);
  });
});

describe("Linux guests", () => {
  test("keep UTC and kvmclock, no TPM, virtio devices and the cloud-init seed", () => {
    const vm = linuxVm();
    expect(vm.secureBoot).toBe(false);
    const d = renderedDomain(vm);
    expect(d.clock).toEqual({
      offset: "utc",
      timer: [
        { name: "rtc", tick_policy: "catchup" },
        { name: "pit", tick_policy: "delay" },
        { name: "hpet", present: "no" },
      ],
    });
    expect(d.devices.tpms).toBeUndefined();
    expect(d.devices.disks[0].target).toEqual({ dev: "vda", bus: "virtio" });
    expect(d.devices.disks[1]).toMatchObject({ device: "cdrom", target: { dev: "sda", bus: "sata" } });
    // Hidden for the GeForce driver, but no Windows enlightenments.
    expect(Object.keys(d.features.hyper_v).sort()).toEqual(["mode", "relaxed", "spinlocks", "vapic", "vendor_id"]);
  });

  test("without an SSH key is an error that says why and how to fix it; userData or a key passes", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    const vm = newKvmVm(stack, "nokey", host, { gpus: ["0000:0b:00.0"], libvirt: { baseImage: "/img/noble.img" } });
    expect(vm.validate().map(formatProblem)).toEqual([
      'VM "nokey": is a Linux guest without an SSH key: cloud images have no password, so nobody could log in ' +
        "(only `virsh console`, which asks for one). Fix: give libvirt.cloudInit.sshAuthorizedKeys: " +
        '["ssh-ed25519 AAAA... you@example"], or a complete cloudInit.userData; a Windows guest says guestOs: windows',
    ]);
    expect(linuxVm({ cloudInit: { userData: "#cloud-config\nusers: []\n" } }).validate()).toEqual([]);
    expect(linuxVm().validate()).toEqual([]);
    expect(windowsVm().validate()).toEqual([]);
  });
});

describe("every guest", () => {
  test("has a hard memory limit of its memory + 1 GiB, no balloon, a serial console and a qcow2 v3 boot disk", () => {
    const vm = linuxVm({}, { memoryGib: 64 });
    const d = renderedDomain(vm);
    expect(d.memory_tune).toEqual({ hard_limit: 65536 + 1024, hard_limit_unit: "MiB" });
    expect(d.devices.mem_balloon).toEqual({ model: "none" });
    // No source: libvirt makes it a pty (a path in the plan would differ from the running domain's /dev/pts/N).
    expect(d.devices.serials).toEqual([{ target: { type: "isa-serial", port: 0, model: { name: "isa-serial" } } }]);
    expect(d.devices.consoles).toEqual([{ target: { type: "serial", port: 0 } }]);
    const boot = synthesized(vm)[Volume.tfResourceType];
    const bootVolume = Object.values(boot).find((v: { name: string }) => v.name === "lin-boot.qcow2");
    expect(bootVolume.target).toEqual({ format: { type: "qcow2" }, compat: "1.1" });
    expect(settingsOf(vm)["memory hard limit"]).toMatchObject({ value: "66560 MiB" });
  });

  test("a hard limit of its own, and one below the guest's memory is an error naming both", () => {
    expect(renderedDomain(linuxVm({ memoryHardLimitMib: 20000 })).memory_tune.hard_limit).toBe(20000);
    expect(linuxVm({ memoryHardLimitMib: 16384 }).validate().map(formatProblem)).toEqual([
      "VM \"lin\": libvirt.memoryHardLimitMib 16384 is not above the guest's 16384 MiB: the kernel would kill QEMU when the guest touches its memory. Fix: give at least the guest memory plus QEMU's own (17408 MiB), or leave it out",
    ]);
  });

  test("the report gives each guest setting with its reason", () => {
    const settings = settingsOf(windowsVm());
    expect(settings.TPM).toEqual({
      setting: "TPM",
      value: "TPM 2.0 (CRB), swtpm emulator",
      why: "Windows 11 requires TPM 2.0; the host preparation installs swtpm",
    });
    expect(settings["Hyper-V enlightenments"].value).toBe(
      "relaxed, vapic, spinlocks 8191, vpindex, runtime, synic, stimer (direct), reset, frequencies, tlbflush, ipi",
    );
    expect(settings.clock.value).toBe("local time; hypervclock on, HPET off, RTC catch-up, PIT delay");
    expect(settings["memory balloon"].value).toBe("none");
    expect(settings["serial console"].why).toContain("virsh console");
  });
});

describe("a guest GPU that is the host's boot display", () => {
  const BOOT_VGA = [{ address: "0000:0b:00.0", model: "nvidia-rtx-3080", bootVga: true }];

  test("needs a clean ROM file: the error says why and both ways out", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, BOOT_VGA);
    const vm = newKvmVm(stack, "single", host, { gpus: ["0000:0b:00.0"], libvirt: WIN });
    expect(vm.validate().map(formatProblem)).toEqual([
      "VM \"single\": GPU 0000:0b:00.0 (NVIDIA GeForce RTX 3080) is the host's boot display (bootVga): the host firmware ran and shadowed its ROM and the host console is on it, so the guest's driver would read a modified ROM (a black screen, or error 43) and the host would lose its console when the VM starts. Fix: make another GPU primary in the host's firmware settings (then bootVga: false; `gpu-passthrough discover` shows it), or dump a clean vBIOS of this card and give libvirt.gpuRom.file",
    ]);
    const romStack = newKvmStack();
    const withRom = newKvmVm(romStack, "rom", newKvmHost(romStack, BOOT_VGA), {
      gpus: ["0000:0b:00.0"],
      libvirt: { ...WIN, gpuRom: { file: "/var/lib/libvirt/vbios/3080.rom" } },
    });
    expect(withRom.validate()).toEqual([]);
  });
});
