import { DataVsphereHost } from "@cdktf/provider-vsphere/lib/data-vsphere-host";
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { TerraformOutput, Testing } from "cdktf";
import { toolsInstallCommand } from "../lib/backends/vsphere/horizon";
import { VsphereHostBinding } from "../lib/backends/vsphere/vsphere-backend";
import { A100, newHorizonDesktop, newHost, newStack, newVm, problemsOf, renderedVm } from "./helpers";

describe("GpuPassthroughVm on vSphere", () => {
  test("derives every passthrough setting for two A100s", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "0000:3b:00.0", model: A100 },
      { address: "0000:5e:00.0", model: A100 },
    ]);
    const vm = newVm(stack, "train", host, { gpuCount: 2, cpus: 32, coresPerSocket: 16, memoryGib: 512 });
    const r = renderedVm(vm);
    expect(r).toMatchObject({
      name: "train",
      firmware: "efi",
      num_cpus: 32,
      num_cores_per_socket: 16,
      memory: 524288,
      memory_reservation: 524288,
      memory_reservation_locked_to_max: true,
      cpu_hot_add_enabled: false,
      cpu_hot_remove_enabled: false,
      memory_hot_add_enabled: false,
      nested_hv_enabled: false,
      pci_device_id: ["0000:3b:00.0", "0000:5e:00.0"],
      extra_config: { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "512" },
    });
    expect(r.extra_config).not.toHaveProperty("hypervisor.cpuid.v0");
    expect(r.host_system_id).toMatch(/^\$\{data\.vsphere_host\.[\w-]+\.id\}$/);
    expect(r.resource_pool_id).toMatch(/^\$\{data\.vsphere_host\.[\w-]+\.resource_pool_id\}$/);
    expect(r.clone.template_uuid).toMatch(/^\$\{data\.vsphere_virtual_machine\.[\w-]+\.id\}$/);
    expect(r.guest_id).toMatch(/data\.vsphere_virtual_machine\.[\w-]+\.guest_id/);
    expect(r.dynamic.disk.content).toMatchObject({ label: "disk${disk.key}" });
    expect(problemsOf(stack)).toEqual([]);
  });

  test("exposes derived settings and the resource as public fields", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: "nvidia-h100-80gb" }]);
    const vm = newVm(stack, "h100", host, { gpus: ["0000:3b:00.0"] });
    expect(vm.firmware).toBe("efi");
    expect(vm.mmio).toMatchObject({ needs64BitMmio: true, sizeGb: 256, overridden: false });
    expect(vm.memoryReservationMib).toBe(64 * 1024);
    expect(vm.pciFunctions.map(String)).toEqual(["0000:3b:00.0"]);
    expect(vm.resource).toBeInstanceOf(VirtualMachine);
    expect((host.binding as VsphereHostBinding).hostData).toBeInstanceOf(DataVsphereHost);
  });

  test("escape hatch: an override on the resource lands in the output", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
    const vm = newVm(stack, "vm", host, { gpuCount: 1 });
    vm.resource.addOverride("latency_sensitivity", "high");
    expect(renderedVm(vm).latency_sensitivity).toBe("high");
  });

  test("a small-BAR GPU gets no MMIO keys, and BIOS is allowed when asked for", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "65:00.0", model: "nvidia-t4" }]);
    const vm = newVm(stack, "t4", host, { gpuCount: 1, firmware: "bios" });
    const r = renderedVm(vm);
    expect(r.firmware).toBe("bios");
    expect(r.extra_config).toBeUndefined();
    expect(r.efi_secure_boot_enabled).toBeUndefined();
    expect(problemsOf(stack)).toEqual([]);
  });

  test("a consumer GeForce passes all its functions and hides the hypervisor (error 43)", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:01:00.0", model: "nvidia-rtx-3090" }]);
    const vm = newVm(stack, "gamer", host, { gpuCount: 1 });
    const r = renderedVm(vm);
    expect(r.pci_device_id).toEqual(["0000:01:00.0", "0000:01:00.1"]);
    expect(r.extra_config["hypervisor.cpuid.v0"]).toBe("FALSE");
    expect(vm.hideHypervisorReason).toMatch(/error 43/);
  });

  test("hiding the hypervisor can be turned off explicitly, and the report says so", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:01:00.0", model: "nvidia-rtx-3090" }]);
    const vm = newVm(stack, "vm", host, { gpuCount: 1, hideHypervisor: false });
    expect(renderedVm(vm).extra_config ?? {}).not.toHaveProperty("hypervisor.cpuid.v0");
    expect(vm.hideHypervisorReason).toBe("set by the user (false)");
  });

  test("a GPU the catalog lacks is declared by its BAR sizes", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:81:00.0", model: { name: "Prototype", barsMib: [16, 65536, 32] } }]);
    const vm = newVm(stack, "vm", host, { gpuCount: 1 });
    expect(renderedVm(vm).extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("128");
    expect(problemsOf(stack)).toEqual([]);
  });

  test("data sources are read once per stack however many VMs use them", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "3b:00.0", model: A100 },
      { address: "5e:00.0", model: A100 },
    ]);
    newVm(stack, "a", host, { gpuCount: 1 });
    newVm(stack, "b", host, { gpuCount: 1 });
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.keys(json.data.vsphere_virtual_machine)).toHaveLength(1);
    expect(Object.keys(json.data.vsphere_host)).toHaveLength(1);
    expect(Object.keys(json.data.vsphere_datacenter)).toHaveLength(1);
    expect(json.data.vsphere_datacenter[Object.keys(json.data.vsphere_datacenter)[0]].name).toBe("dc1");
  });

  test("a linux customization and a static address reach the clone", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
    const vm = newVm(stack, "vm", host, {
      gpuCount: 1,
      vsphere: {
        template: "ubuntu-efi",
        customize: {
          linux: { hostName: "vm", domain: "lab" },
          ipv4: { address: "10.0.0.5", netmask: 24, gateway: "10.0.0.1", dnsServers: ["10.0.0.2"] },
        },
      },
    });
    expect(renderedVm(vm).clone.customize).toEqual({
      linux_options: { host_name: "vm", domain: "lab" },
      network_interface: [{ ipv4_address: "10.0.0.5", ipv4_netmask: 24 }],
      ipv4_gateway: "10.0.0.1",
      dns_server_list: ["10.0.0.2"],
    });
  });
});

describe("Horizon desktops (seed 001)", () => {
  test("the VMware Tools command removes the drivers Horizon does not use, as the seed writes it", () => {
    expect(toolsInstallCommand({})).toBe(
      'd:\\setup64.exe /s /v" /qb REBOOT=R ADDLOCAL=ALL REMOVE=Hgfs,VSS,AppDefense,NetworkIntrospection"',
    );
  });

  test("NSX keeps NetworkIntrospection; removeSvga drops SVGA", () => {
    expect(toolsInstallCommand({ nsx: true })).toMatch(/REMOVE=Hgfs,VSS,AppDefense"$/);
    expect(toolsInstallCommand({ removeSvga: true, toolsInstaller: "e:\\setup64.exe" })).toBe(
      'e:\\setup64.exe /s /v" /qb REBOOT=R ADDLOCAL=ALL REMOVE=Hgfs,SVGA,VSS,AppDefense,NetworkIntrospection"',
    );
  });

  test("a Horizon desktop gets no 3D; with the Tools ISO, the Tools command is its first run-once command", () => {
    const { stack, r } = newHorizonDesktop(
      { nsx: true, toolsIso: "[iso] vmtools/windows.iso" },
      { runOnceCommands: ["echo hi"] },
    );
    expect(r.extra_config["mks.enable3d"]).toBe("FALSE");
    expect(r.clone.customize.windows_options).toEqual({
      computer_name: "DESK-01",
      admin_password: "${var.pw}",
      time_zone: 85,
      run_once_command_list: [toolsInstallCommand({ nsx: true }), "echo hi"],
      auto_logon: true,
      auto_logon_count: 1,
    });
    expect(problemsOf(stack)).toEqual([]);
  });
});

describe("PassthroughHost on vSphere", () => {
  test("lists the exact DirectPath toggle for every function of every guest GPU, and BIOS steps", () => {
    const stack = newStack();
    const host = newHost(
      stack,
      [
        { address: "0000:3b:00.0", model: A100 },
        { address: "0000:01:00.0", model: "nvidia-rtx-3090" },
        { address: "0000:02:00.0", model: "nvidia-t4", role: "host" },
      ],
      { datacenter: "DC Lab" },
    );
    const steps = host.hostSteps();
    expect(steps.filter((s) => s.command).map((s) => s.command)).toEqual([
      "govc host.esxcli -dc='DC Lab' -host=esx01 hardware pci pcipassthru set -d 0000:01:00.0 -e true -a",
      "govc host.esxcli -dc='DC Lab' -host=esx01 hardware pci pcipassthru set -d 0000:01:00.1 -e true -a",
      "govc host.esxcli -dc='DC Lab' -host=esx01 hardware pci pcipassthru set -d 0000:3b:00.0 -e true -a",
    ]);
    expect(steps.map((s) => s.kind)).toEqual(["bios", "bios", "command", "command", "command", "reboot"]);
    expect(steps[1].description).toMatch(/Above 4G decoding.*A100/);
  });

  test("runs the toggles from terraform only when the user opts in, and VMs wait for them", () => {
    const manual = newStack();
    newVm(manual, "vm", newHost(manual, [{ address: "3b:00.0", model: A100 }]), { gpuCount: 1 });
    const data = Object.keys(JSON.parse(Testing.synth(manual)).resource.terraform_data);
    expect(data.filter((name) => !name.startsWith("vm_placement_"))).toEqual([]);

    const stack = newStack();
    const vm = newVm(stack, "vm", newHost(stack, [{ address: "3b:00.0", model: A100 }], { enableDirectPath: "govc" }), {
      gpuCount: 1,
    });
    const json = JSON.parse(Testing.synth(stack));
    const [runner] = Object.values(json.resource.terraform_data) as any[];
    expect(runner.provisioner[0]["local-exec"].command).toContain("pcipassthru set -d 0000:3b:00.0 -e true -a");
    expect(renderedVm(vm).depends_on).toEqual([expect.stringMatching(/^terraform_data\./)]);
  });
});

describe("GPUs found by vendor, class or name (vsphere_host_pci_device)", () => {
  test("a matched GPU is looked up on the host and its id is passed and toggled", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "0000:3b:00.0", model: A100 },
      { match: { vendorId: "10de", classId: "302", nameRegex: "H100" }, model: "nvidia-h100-80gb" },
    ]);
    const vm = newVm(stack, "vm", host, { gpuCount: 2 });
    const json = JSON.parse(Testing.synth(stack));
    const [lookupId, lookup] = Object.entries(json.data.vsphere_host_pci_device)[0] as [string, any];
    expect(lookup).toMatchObject({ vendor_id: "10de", class_id: "302", name_regex: "H100" });
    expect(lookup.host_id).toMatch(/^\$\{data\.vsphere_host\./);
    expect(renderedVm(vm).pci_device_id).toEqual(["0000:3b:00.0", `\${data.vsphere_host_pci_device.${lookupId}.id}`]);
    expect(vm.mmio.sizeGb).toBe(512);
    expect(problemsOf(stack)).toEqual([]);
    new TerraformOutput(stack, "steps", { value: host.hostSteps().flatMap((step) => step.command ?? []) });
    expect(JSON.parse(Testing.synth(stack)).output.steps.value).toContain(
      `govc host.esxcli -dc=dc1 -host=esx01 hardware pci pcipassthru set -d \${data.vsphere_host_pci_device.${lookupId}.id} -e true -a`,
    );
  });

  test("a lookup keeps its Terraform name when a GPU is declared before it (ids are not positions)", () => {
    const lookupNames = (gpus: Parameters<typeof newHost>[1]) => {
      const stack = newStack();
      newHost(stack, gpus);
      return Object.keys(JSON.parse(Testing.synth(stack)).data.vsphere_host_pci_device);
    };
    const h100 = { match: { vendorId: "10de", classId: "302", nameRegex: "H100" }, model: "nvidia-h100-80gb" };
    const before = lookupNames([h100]);
    expect(lookupNames([{ address: "0000:3b:00.0", model: A100 }, h100])).toEqual(before);
    expect(lookupNames([{ ...h100, match: { ...h100.match, nameRegex: "H100.*PCIe" } }])).not.toEqual(before);
  });

  test("lookups the provider cannot do are errors: vendor above 7fff, a multi-function GPU, a repeated match", () => {
    const stack = newStack();
    newHost(stack, [
      { match: { vendorId: "8086", classId: "300" }, model: "intel-arc-a770" },
      { match: { nameRegex: "RTX 3090" }, model: "nvidia-rtx-3090" },
      { match: { classId: "302" }, model: "nvidia-t4" },
      { match: { classId: "302" }, model: "nvidia-t4" },
      { match: {}, model: "nvidia-t4" },
      { address: "0000:01:00.0", match: { classId: "302" }, model: "nvidia-t4" },
    ]);
    expect(problemsOf(stack)).toEqual([
      'host "esx01" gpus[3]: two GPUs are declared by the same match(class 302), which finds one device. Fix: declare them by address, or give each a distinct nameRegex',
      'host "esx01" gpus[4]: match needs vendorId, classId or nameRegex',
      'host "esx01" gpus[5]: needs an address or a match, not both. Fix: give address: "0000:3b:00.0" (preferred) or match: { vendorId, classId, nameRegex }',
      'host "esx01" GPU match(vendor 8086, class 300): vendorId 8086 is above 7fff, which vsphere_host_pci_device cannot parse (it reads a signed 16-bit number). Fix: declare the GPU by address, or match it by classId and nameRegex only',
      'host "esx01" GPU match(name /RTX 3090/): NVIDIA GeForce RTX 3090 has 1 more PCI function(s) that a match cannot find (vsphere_host_pci_device returns one device). Fix: declare the GPU by address so all its functions are passed',
    ]);
  });
});
