/** Rendering a GpuPassthroughVm on Proxmox VE: what the proxmox_virtual_environment_vm and the PCI mappings hold. */
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { ProxmoxHostBinding } from "../lib/backends/proxmox/proxmox-backend";
import { GpuPassthroughVm } from "../lib/vm";
import { newPveHost, newPveStack, newPveVm, problemTexts, renderedPveVm, synthesized } from "./proxmox-helpers";

describe("a VM on a Proxmox VE node", () => {
  test("q35, OVMF with a 4m EFI disk, CPU host, memory dedicated without balloon, one hostpci with both functions", () => {
    const stack = newPveStack();
    const vm = newPveVm(stack, "ml", newPveHost(stack), { gpus: ["0000:0c:00.0"], cpus: 16, coresPerSocket: 8 });
    expect(problemTexts(vm)).toEqual([]);
    expect(renderedPveVm(vm)).toMatchObject({
      name: "ml",
      node_name: "pve-01",
      machine: "q35",
      bios: "ovmf",
      efi_disk: { datastore_id: "local-lvm", type: "4m", pre_enrolled_keys: false },
      cpu: { type: "host", cores: 8, sockets: 2 },
      memory: { dedicated: 32768, floating: 0 },
      hostpci: [{ device: "hostpci0", id: "0000:0c:00.0;0000:0c:00.1", pcie: true, rombar: true }],
      // The A6000's 64 GiB BAR1 + 48 MiB: a 128 GB aperture.
      kvm_arguments: "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072",
      vga: { type: "std" },
      clone: { vm_id: 9000, full: true },
      tags: ["gpu-passthrough"],
      started: true,
      reboot_after_update: true,
      timeout_shutdown_vm: 300,
    });
    // A clone keeps its template's disk size unless diskGib says otherwise.
    expect(renderedPveVm(vm).disk).toEqual([
      { interface: "scsi0", datastore_id: "local-lvm", iothread: true, discard: "on" },
    ]);
    expect(renderedPveVm(vm).hostpci[0].xvga).toBeUndefined();
  });

  test("a consumer GPU's VM is hidden through x-vga on its GPU (no -cpu of its own), and shows no emulated display", () => {
    const stack = newPveStack();
    const vm = newPveVm(stack, "play", newPveHost(stack), { gpus: ["0000:0b:00.0"] });
    const rendered = renderedPveVm(vm);
    expect(vm.hideHypervisor).toBe(true);
    expect(rendered.hostpci).toEqual([
      { device: "hostpci0", id: "0000:0b:00.0;0000:0b:00.1", pcie: true, rombar: true, xvga: true },
    ]);
    expect(rendered.vga).toEqual({ type: "none" });
    expect(rendered.kvm_arguments).toBeUndefined();
    expect(vm.backendSettings.find((s) => s.setting === "primary-gpu")).toMatchObject({
      value: "x-vga on hostpci0",
      why: expect.stringContaining("kvm=off"),
    });
  });

  test("primaryGpu and vga override the defaults; hideHypervisor: false leaves x-vga off", () => {
    const stack = newPveStack();
    const host = newPveHost(stack);
    const workstation = newPveVm(stack, "cad", host, {
      gpus: ["0000:0c:00.0"],
      proxmox: { template: 9000, primaryGpu: true, vga: "std" },
    });
    const unhidden = newPveVm(stack, "play", host, { gpus: ["0000:0b:00.0"], hideHypervisor: false });
    expect(renderedPveVm(workstation).hostpci[0].xvga).toBe(true);
    expect(renderedPveVm(workstation).vga).toEqual({ type: "std" });
    expect(renderedPveVm(unhidden).hostpci[0].xvga).toBeUndefined();
    expect(renderedPveVm(unhidden).vga).toEqual({ type: "std" });
    expect([...problemTexts(workstation), ...problemTexts(unhidden)]).toEqual([]);
  });

  test("a new Windows 11 VM: empty 64 GiB disk, installer ISO, TPM 2.0, secure boot keys, on its own storage", () => {
    const stack = newPveStack();
    const vm = newPveVm(stack, "win", newPveHost(stack, { datastore: "local-zfs", bridge: "vmbr1" }), {
      gpus: ["0000:0b:00.0"],
      secureBoot: true,
      proxmox: { vmId: 201, osType: "win11", iso: "local:iso/Win11.iso", onBoot: true, tags: ["games", "b-tag"] },
    });
    expect(problemTexts(vm)).toEqual([]);
    const rendered = renderedPveVm(vm);
    expect(rendered).toMatchObject({
      vm_id: 201,
      operating_system: { type: "win11" },
      efi_disk: { datastore_id: "local-zfs", type: "4m", pre_enrolled_keys: true },
      tpm_state: { datastore_id: "local-zfs", version: "v2.0" },
      cdrom: { file_id: "local:iso/Win11.iso", interface: "ide2" },
      disk: [{ interface: "scsi0", datastore_id: "local-zfs", size: 64 }],
      on_boot: true,
      tags: ["b-tag", "games", "gpu-passthrough"],
    });
    expect(rendered.clone).toBeUndefined();
    // Every key of the network device: Terraform's JSON reads it as an attribute (ConfigModeAttr).
    expect(rendered.network_device).toEqual([
      {
        bridge: "vmbr1",
        model: "virtio",
        enabled: null,
        disconnected: false,
        firewall: false,
        mtu: 0,
        queues: 0,
        rate_limit: 0,
        vlan_id: 0,
        mac_address: null,
        trunks: null,
      },
    ]);
  });

  test("ROM file and ROM BAR, huge pages with NUMA, linked clone, BIOS firmware for a small-BAR GPU", () => {
    const stack = newPveStack();
    const host = newPveHost(stack);
    const rom = newPveVm(stack, "rom", host, {
      gpus: ["0000:0b:00.0"],
      memoryGib: 16,
      proxmox: { template: 9000, linkedClone: true, gpuRom: { file: "rtx4090.rom", bar: false }, hugepages: "1G" },
    });
    const bios = newPveVm(
      stack,
      "legacy",
      newPveHost(stack, { iommuGroups: [] }, [{ address: "0000:65:00.0", model: "nvidia-t4" }], "pve-02"),
      {
        gpus: ["0000:65:00.0"],
        firmware: "bios",
      },
    );
    expect(renderedPveVm(rom)).toMatchObject({
      hostpci: [{ rom_file: "rtx4090.rom", rombar: false }],
      memory: { dedicated: 16384, floating: 0, hugepages: "1024" },
      cpu: { numa: true },
      clone: { vm_id: 9000, full: false },
    });
    const legacy = renderedPveVm(bios);
    expect(legacy.bios).toBe("seabios");
    expect(legacy.efi_disk).toBeUndefined();
    expect(legacy.hostpci).toEqual([{ device: "hostpci0", id: "0000:65:00.0", pcie: true, rombar: true }]);
    expect([...problemTexts(rom), ...problemTexts(bios)]).toEqual([]);
  });

  test("without Proxmox settings: a new, empty VM on the backend's defaults, and no problem", () => {
    const stack = newPveStack();
    const vm = newPveVm(stack, "bare", newPveHost(stack), { gpus: ["0000:0c:00.0"], proxmox: undefined });
    expect(problemTexts(vm)).toEqual([]);
    expect(renderedPveVm(vm)).toMatchObject({ disk: [{ size: 64, datastore_id: "local-lvm" }], bios: "ovmf" });
  });

  test("GPUs are written at synth from the app's allocation, whatever the construction order", () => {
    const stack = newPveStack();
    const host = newPveHost(stack);
    // Defined first, by count: it must not take 0b, which the second VM names.
    const counted = newPveVm(stack, "counted", host, { gpuCount: 1 });
    const named = newPveVm(stack, "named", host, { gpus: ["0000:0b:00.0"] });
    expect(renderedPveVm(counted).hostpci[0].id).toBe("0000:0c:00.0;0000:0c:00.1");
    expect(renderedPveVm(named).hostpci[0].id).toBe("0000:0b:00.0;0000:0b:00.1");
    expect(renderedPveVm(counted).description).toBe("GPU passthrough VM: 0000:0c:00.0 NVIDIA RTX A6000");
    expect(renderedPveVm(counted).kvm_arguments).toMatch(/X-PciMmio64Mb,string=131072/);
    expect(renderedPveVm(named).kvm_arguments).toBeUndefined();
  });

  test("cpus as a Token: sockets stay 1, and no placeholder number is written", () => {
    const stack = newPveStack();
    const cpus = new TerraformVariable(stack, "cpus", { type: "number" });
    const vm = newPveVm(stack, "tok", newPveHost(stack), { gpus: ["0000:0c:00.0"], cpus: cpus.numberValue });
    const { cpu } = renderedPveVm(vm);
    expect(cpu).toEqual({ type: "host", cores: "${var.cpus}", sockets: 1 });
  });
});

describe("devices: mapping", () => {
  test("a proxmox_hardware_mapping_pci per guest GPU with its id, node, whole-device path, group and subsystem id", () => {
    const stack = newPveStack();
    const host = newPveHost(stack, {
      devices: "mapping",
      node: "pve-a",
      subsystemIds: { "0000:0b:00.0": "1458:4105" },
    });
    const vm = newPveVm(stack, "play", host, { gpus: ["0000:0b:00.0"] });
    expect(problemTexts(vm)).toEqual([]);
    const mappings = Object.values(synthesized(stack).proxmox_hardware_mapping_pci);
    expect(mappings).toEqual([
      expect.objectContaining({
        name: "gpu-pve-a-0000-0b-00",
        map: [{ id: "10de:2684", node: "pve-a", path: "0000:0b:00", iommu_group: 14, subsystem_id: "1458:4105" }],
      }),
      // Every guest GPU has its mapping, whether a VM holds it yet or not.
      expect.objectContaining({
        name: "gpu-pve-a-0000-0c-00",
        map: [{ id: "10de:2230", node: "pve-a", path: "0000:0c:00", iommu_group: 15 }],
      }),
    ]);
    const binding = host.binding as ProxmoxHostBinding;
    const mapping = binding.mappings.get("0000:0b:00");
    expect(renderedPveVm(vm).hostpci).toEqual([
      {
        device: "hostpci0",
        mapping: `\${proxmox_hardware_mapping_pci.${mapping?.friendlyUniqueId}.name}`,
        pcie: true,
        rombar: true,
        xvga: true,
      },
    ]);
    expect(vm.backendSettings.find((s) => s.setting === "hostpci")?.value).toBe(
      "hostpci0 mapping gpu-pve-a-0000-0b-00",
    );
  });

  test("no root@pam needed for a small-BAR GPU by mapping; the report says when it is", () => {
    const stack = newPveStack();
    const host = newPveHost(stack, { devices: "mapping" });
    const small = newPveVm(stack, "play", host, { gpus: ["0000:0b:00.0"] });
    const large = newPveVm(stack, "ml", host, { gpus: ["0000:0c:00.0"] });
    expect(small.backendSettings.find((s) => s.setting === "credentials")).toBeUndefined();
    expect(large.backendSettings.find((s) => s.setting === "credentials")).toMatchObject({
      value: "root@pam with a password",
      why: expect.stringMatching(/^kvm_arguments \(the 64-bit MMIO aperture\): PVE allows these only to root@pam/),
    });
  });
});

describe("library use", () => {
  test("the VM's resource is the typed escape hatch, also node.defaultChild", () => {
    const stack = newPveStack();
    const vm: GpuPassthroughVm = newPveVm(stack, "ml", newPveHost(stack), { gpus: ["0000:0c:00.0"] });
    expect(vm.resource.terraformResourceType).toBe("proxmox_virtual_environment_vm");
    expect(vm.node.defaultChild).toBe(vm.resource);
  });

  test("two clusters' nodes of one name are two hosts; one node in two stacks is one", () => {
    const app = Testing.app();
    const [a, b, c] = ["a", "b", "c"].map((id) => newPveStack(app, id));
    const hostA = newPveHost(a, { cluster: "pve-a.example.com:8006", node: "pve" });
    const hostB = newPveHost(b, { cluster: "pve-b.example.com:8006", node: "pve" });
    const hostC = newPveHost(c, { cluster: "pve-a.example.com:8006", node: "pve" });
    expect(hostA.backend.hostKey(hostA.hostName)).not.toBe(hostB.backend.hostKey(hostB.hostName));
    expect(hostA.backend.hostKey(hostA.hostName)).toBe(hostC.backend.hostKey(hostC.hostName));
    expect(TerraformStack.of(hostA)).toBe(a);
  });
});
