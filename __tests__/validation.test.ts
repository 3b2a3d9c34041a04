import { VirtualMachineSnapshot } from "@cdktf/provider-vsphere/lib/virtual-machine-snapshot";
import { Aspects, Testing } from "cdktf";
import { existsSync, readdirSync } from "fs";
import { join } from "path";
import { PassthroughValidationError } from "../lib/problems";
import { PassthroughApp } from "../lib/validation/app";
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { A100, newHost, newStack, newVm, problemsOf } from "./helpers";
import { tempDir } from "./temp";

const twoA100 = [
  { address: "0000:3b:00.0", model: A100 },
  { address: "0000:5e:00.0", model: A100 },
];

describe("rules checked before deploy", () => {
  test("a GPU given to two VMs in one stack names both VMs", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100);
    newVm(stack, "first", host, { gpus: ["0000:3b:00.0"] });
    newVm(stack, "second", host, { gpus: ["3b:00.0"] });
    expect(problemsOf(stack)).toEqual([
      'VM "second": GPU 0000:3b:00.0 on host "esx01" is already given to VM "first" (test/first). Fix: a GPU can belong to one VM only: give this VM another GPU or remove it from the other VM',
    ]);
  });

  test("a GPU given to two VMs in different stacks of one app is caught", () => {
    const app = Testing.app();
    const a = newStack(app, "site-a");
    const b = newStack(app, "site-b");
    newVm(a, "vm-a", newHost(a, twoA100), { gpus: ["0000:5e:00.0"] });
    newVm(b, "vm-b", newHost(b, twoA100), { gpus: ["0000:5e:00.0"] });
    expect(problemsOf(a)).toEqual([
      expect.stringContaining(
        'VM "vm-b": GPU 0000:5e:00.0 on host "esx01" is already given to VM "vm-a" (site-a/vm-a)',
      ),
    ]);
  });

  test("the same host name in two datacenters is two machines", () => {
    const app = Testing.app();
    const a = newStack(app, "a");
    const b = newStack(app, "b");
    newVm(a, "vm-a", newHost(a, twoA100, { datacenter: "dc-a" }), { gpus: ["0000:5e:00.0"] });
    newVm(b, "vm-b", newHost(b, twoA100, { datacenter: "dc-b" }), { gpus: ["0000:5e:00.0"] });
    expect(problemsOf(a)).toEqual([]);
  });

  test("count-based VMs take what is free and say who holds the rest", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100);
    const first = newVm(stack, "first", host, { gpuCount: 1 });
    const second = newVm(stack, "second", host, { gpuCount: 1 });
    newVm(stack, "third", host, { gpuCount: 1 });
    expect(first.gpus.map((g) => String(g.address))).toEqual(["0000:3b:00.0"]);
    expect(second.gpus.map((g) => String(g.address))).toEqual(["0000:5e:00.0"]);
    expect(problemsOf(stack)).toEqual([
      'VM "third": asks for 1 GPU(s) but host "esx01" has 0 free of 2 guest GPU(s) (taken: 0000:3b:00.0 → first, 0000:5e:00.0 → second). Fix: free a GPU, or move the VM to another host',
    ]);
  });

  test("the host's own GPU cannot go to a guest", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "0000:00:02.0", model: { name: "Intel iGPU", barsMib: [16, 256] }, role: "host" },
      { address: "0000:01:00.0", model: "nvidia-rtx-3090" },
    ]);
    newVm(stack, "vm", host, { gpus: ["0000:00:02.0"] });
    expect(problemsOf(stack)).toEqual([
      'VM "vm" gpus[0]: GPU 0000:00:02.0 (Intel iGPU) is kept by host "esx01" (role: host). Fix: use one of its guest GPUs: 0000:01:00.0 (NVIDIA GeForce RTX 3090)',
    ]);
  });

  test("a GPU the host does not have lists the ones it has; a non-zero function points at the GPU", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:01:00.0", model: "nvidia-rtx-3090" }]);
    newVm(stack, "vm", host, { gpus: ["0000:02:00.0", "0000:01:00.1", "0000:3b:00.9"] });
    expect(problemsOf(stack)).toEqual([
      'VM "vm" gpus[0]: host "esx01" has no GPU at 0000:02:00.0. Fix: use one of its guest GPUs: 0000:01:00.0 (NVIDIA GeForce RTX 3090)',
      'VM "vm" gpus[1]: 0000:01:00.1 is function 1 of GPU 0000:01:00.0; VMs take whole GPUs. Fix: write "0000:01:00.0" (all its functions are passed together)',
      'VM "vm" gpus[2]: "0000:3b:00.9": function must be 0-7 (it is 9)',
    ]);
  });

  test("more than 16 PCI functions in one VM", () => {
    const stack = newStack();
    const gpus = Array.from({ length: 9 }, (_, i) => ({
      address: `0000:${(0x10 + i).toString(16)}:00.0`,
      model: "nvidia-rtx-3090",
    }));
    newVm(stack, "big", newHost(stack, gpus), { gpuCount: 9 });
    expect(problemsOf(stack)).toContain(
      'VM "big": passes 18 PCI functions (9 GPUs with all their functions); vsphere allows 16 per VM. Fix: give the VM fewer GPUs, or split the work over two VMs',
    );
  });

  test("memory and CPU out of range", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "3b:00.0", model: "nvidia-t4" },
      { address: "5e:00.0", model: "nvidia-t4" },
      { address: "af:00.0", model: "nvidia-t4" },
    ]);
    newVm(stack, "a", host, { gpuCount: 1, cpus: 0, memoryGib: 0 });
    newVm(stack, "b", host, { gpuCount: 1, cpus: 1000, memoryGib: 30000 });
    newVm(stack, "c", host, { gpuCount: 1, cpus: 12, coresPerSocket: 5, memoryGib: 1.001 });
    expect(problemsOf(stack)).toEqual([
      'VM "a": cpus 0 is out of range. Fix: give a whole number from 1 to 768 (vsphere\'s maximum)',
      'VM "a": memoryGib 0 is out of range. Fix: give more than 0 and at most 24576 (vsphere\'s maximum)',
      'VM "b": cpus 1000 is out of range. Fix: give a whole number from 1 to 768 (vsphere\'s maximum)',
      'VM "b": memoryGib 30000 is out of range. Fix: give more than 0 and at most 24576 (vsphere\'s maximum)',
      'VM "c": coresPerSocket 5 does not divide cpus 12. Fix: give a divisor of cpus, or leave it out',
      'VM "c": memoryGib 1.001 is 1025.024 MiB, not a multiple of 4 MiB. Fix: round it, e.g. memoryGib: 1',
    ]);
  });

  test("BIOS with a large-BAR GPU, secure boot without EFI, and bad MMIO overrides", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100);
    newVm(stack, "bios", host, { gpus: ["3b:00.0"], firmware: "bios", secureBoot: true });
    newVm(stack, "small", host, { gpus: ["5e:00.0"], mmioSizeGb: 128 });
    const problems = problemsOf(stack);
    expect(problems).toEqual([
      'VM "bios": firmware "bios" cannot map GPUs above 4 GB (0000:3b:00.0 NVIDIA A100 80GB PCIe maps 128.05 GiB); the VM would not power on. Fix: use firmware "efi" (the default) and a guest installed in UEFI mode',
      'VM "bios": secureBoot needs firmware "efi". Fix: set firmware "efi" or drop secureBoot',
      'VM "bios": firmware is "bios" but the 64-bit MMIO window needs EFI. Fix: use firmware "efi"',
      expect.stringMatching(
        /^VM "small": mmioSizeGb 128 is below what the GPUs map \(256 GB for 0000:5e:00.0 NVIDIA A100 80GB PCIe\): use 256 or more/,
      ),
    ]);
  });

  test("options vSphere forbids with passthrough are errors, including through the escape hatch", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100);
    newVm(stack, "nested", host, {
      gpuCount: 1,
      vsphere: { template: "t", nestedVirtualization: true, cpuHotAdd: true, memoryHotAdd: true },
    });
    const hatch = newVm(stack, "hatch", host, { gpuCount: 1 });
    hatch.resource.addOverride("memory_reservation", 1024);
    hatch.resource.addOverride("cpu_hot_remove_enabled", true);
    expect(problemsOf(stack)).toEqual([
      'VM "nested": nested_hv_enabled = true (vsphere.nestedVirtualization): ESXi does not power on a VM with a passthrough device and nested virtualization. Fix: set vsphere.nestedVirtualization to false or remove it',
      'VM "nested": cpu_hot_add_enabled = true (vsphere.cpuHotAdd): vSphere forbids hot add on a VM with DirectPath I/O devices. Fix: set vsphere.cpuHotAdd to false or remove it',
      'VM "nested": memory_hot_add_enabled = true (vsphere.memoryHotAdd): vSphere forbids hot add on a VM with DirectPath I/O devices. Fix: set vsphere.memoryHotAdd to false or remove it',
      'VM "hatch": cpu_hot_remove_enabled = true ((override)): vSphere forbids hot remove on a VM with DirectPath I/O devices. Fix: set (override) to false or remove it',
      'VM "hatch": memory_reservation 1024 MB does not lock all 65536 MB: a VM with a passthrough device does not power on without a full reservation. Fix: remove the override of memory_reservation / memory_reservation_locked_to_max',
    ]);
  });

  test("a snapshot of a passthrough VM is an error", () => {
    const stack = newStack();
    const vm = newVm(stack, "vm", newHost(stack, twoA100), { gpuCount: 1 });
    new VirtualMachineSnapshot(stack, "snap", {
      virtualMachineUuid: (vm.resource as VirtualMachine).uuid,
      snapshotName: "before-upgrade",
      description: "",
      memory: false,
      quiesce: false,
    });
    expect(problemsOf(stack)).toEqual([
      expect.stringMatching(
        /^VM "vm": has a snapshot resource \(test\/snap\): vSphere cannot snapshot a VM with a passthrough device/,
      ),
    ]);
  });

  test("a literal Windows password, a Horizon desktop without Windows customization, missing placement", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100, { datastore: undefined, network: undefined });
    newVm(stack, "win", host, {
      gpuCount: 1,
      vsphere: {
        template: "w",
        datastore: "d",
        network: "n",
        customize: { windows: { computerName: "WIN", adminPassword: "hunter2" } },
      },
    });
    newVm(stack, "desk", host, { gpuCount: 1, vsphere: { template: "w", horizon: {} } });
    const problems = problemsOf(stack);
    expect(problems).toEqual([
      'VM "win": customize.windows.adminPassword is a literal string: it would be written into cdk.tf.json. Fix: pass the value of a sensitive TerraformVariable (TF_VAR_...) instead',
      'VM "desk": has no datastore. Fix: give vsphere.datastore, or a default datastore on the host\'s backend',
      'VM "desk": has no network. Fix: give vsphere.network, or a default network on the host\'s backend',
      'VM "desk": is a Horizon desktop without customize.windows: each cloned Windows desktop needs its own computer name. Fix: add customize: { windows: { computerName: ... } }',
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  test("bad host inventory: unknown model lists the known ones, bad address, duplicate GPU", () => {
    const stack = newStack();
    newHost(stack, [
      { address: "0000:3b:00.0", model: "nvidia-a1000" },
      { address: "0000:3b:00.9", model: A100 },
      { address: "0000:5e:00.0", model: A100 },
      { address: "5e:00.0", model: A100 },
      { address: "0000:af:00.1", model: A100 },
    ]);
    const problems = problemsOf(stack);
    expect(problems[0]).toMatch(
      /^host "esx01" gpus\[0\]: unknown GPU model "nvidia-a1000"\. Known models: .*nvidia-a100-80gb.*barsMib/,
    );
    expect(problems.slice(1)).toEqual([
      'host "esx01" gpus[1]: "0000:3b:00.9": function must be 0-7 (it is 9)',
      'host "esx01" gpus[3]: GPU 0000:5e:00.0 is declared twice. Fix: declare each GPU once',
      'host "esx01" gpus[4]: 0000:af:00.1 is function 1; a GPU is declared by its first function. Fix: write "0000:af:00.0" (its other functions come from the GPU model)',
    ]);
  });

  test("gpus and gpuCount together, or neither", () => {
    const stack = newStack();
    const host = newHost(stack, twoA100);
    newVm(stack, "both", host, { gpus: ["3b:00.0"], gpuCount: 1 });
    newVm(stack, "none", host, {});
    expect(problemsOf(stack)).toEqual([
      'VM "both": gives both gpus and gpuCount, which disagree about which GPUs. Fix: give gpus (addresses on host "esx01") or gpuCount, not both',
      'VM "none": asks for no GPU. Fix: give gpus (addresses on host "esx01") or gpuCount, not both',
    ]);
  });
});

describe("PassthroughApp", () => {
  test("reports the problems of every stack at once and writes nothing", () => {
    const outdir = tempDir("gpt-");
    const app = new PassthroughApp({ outdir });
    const good = newStack(app, "good");
    newVm(good, "ok", newHost(good, twoA100), { gpuCount: 1 });
    const bad1 = newStack(app, "bad1");
    newVm(bad1, "x", newHost(bad1, twoA100, { datacenter: "dc2" }), { gpuCount: 1, cpus: 0 });
    const bad2 = newStack(app, "bad2");
    newVm(bad2, "y", newHost(bad2, twoA100, { datacenter: "dc3" }), { gpuCount: 1, memoryGib: -1 });
    let error: unknown;
    try {
      app.synth();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PassthroughValidationError);
    expect((error as PassthroughValidationError).problems).toEqual([
      expect.stringMatching(/^VM "x": cpus 0/),
      expect.stringMatching(/^VM "y": memoryGib -1/),
    ]);
    expect((error as Error).message).toMatch(/^GPU passthrough configuration has problems \(2\):\n {2}- VM "x"/);
    expect(existsSync(join(outdir, "stacks")) ? readdirSync(join(outdir, "stacks")) : []).toEqual([]);
  });

  test("an aspect of the user's that breaks a VM after the check is still caught while writing", () => {
    // The app skips cdktf's repeat of the rules only when no other aspect could change a resource in between.
    const app = new PassthroughApp({ outdir: tempDir("gpt-") });
    const stack = newStack(app, "s");
    const vm = newVm(stack, "ok", newHost(stack, twoA100), { gpuCount: 1 });
    Aspects.of(stack).add({
      visit: (node) => {
        if (node === vm.resource) vm.resource.addOverride("memory_reservation", 1024);
      },
    });
    expect(() => app.synth()).toThrow(/memory_reservation 1024 MB does not lock all 65536 MB/);
  });
});
