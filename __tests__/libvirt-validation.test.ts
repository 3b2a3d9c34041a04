import { Testing } from "cdktf";
import { PassthroughApp } from "../lib/validation/app";
import { PassthroughValidationError } from "../lib/problems";
import { problemsOf } from "./helpers";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";
import { existsSync } from "fs";
import { join } from "path";
import { tempDir } from "./temp";

describe("libvirt rules, checked before deploy", () => {
  test("bad input of every kind is reported together, each naming the value and the fix, and nothing is written", () => {
    const outdir = join(tempDir("gpt-kvm-"), "out");
    const app = new PassthroughApp({ outdir });
    const stack = newKvmStack(app);
    const host = newKvmHost(
      stack,
      [
        // Its audio function sits in another group with a USB controller nobody passes.
        { address: "0000:0b:00.0", model: "nvidia-rtx-3080" },
        // The catalog says the RTX 2080 Ti has 4 functions; the host's groups list only two.
        { address: "0000:0d:00.0", model: "nvidia-rtx-2080-ti" },
      ],
      {
        ovmf: { code: "OVMF_CODE_4M.fd" },
        iommuGroups: [
          { id: 14, devices: ["0000:0b:00.0"] },
          { id: 16, devices: ["0000:0b:00.1", "0000:0e:00.3"] },
          { id: 18, devices: ["0000:0d:00.0", "0000:0d:00.1"] },
        ],
      },
    );
    newKvmVm(stack, "split", host, { gpus: ["0000:0b:00.0"] });
    newKvmVm(stack, "turing", host, {
      gpus: ["0000:0d:00.0"],
      libvirt: { guestOs: "windows", baseImage: "/img/w.qcow2", hypervisorVendorId: "NotARealVendor1" },
    });

    let error: unknown;
    try {
      app.synth();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PassthroughValidationError);
    const problems = (error as PassthroughValidationError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^host "ws-01": ovmf.code "OVMF_CODE_4M.fd" is not an absolute path.*Fix: give the full path, e.g. "\/usr\/share\/OVMF\/OVMF_CODE_4M.fd"/,
        ),
        expect.stringMatching(
          /^VM "split": IOMMU group 16 on host "ws-01" also holds 0000:0e:00.3, which the VM does not get; VFIO passes whole groups.*Fix: move the card to a slot wired to the CPU .*otherwise give 0000:0e:00.3 to the same VM/,
        ),
        expect.stringMatching(
          /^VM "turing": GPU 0000:0d:00.0 \(NVIDIA GeForce RTX 2080 Ti\) has function\(s\) 0000:0d:00.2 \(usb\), 0000:0d:00.3 \(serial-bus\) that host "ws-01"'s IOMMU groups do not list/,
        ),
        expect.stringMatching(
          /^VM "turing": libvirt.hypervisorVendorId "NotARealVendor1" is 15 characters; QEMU takes 1 to 12.*Fix: shorten it, e.g. "NotARealVend"/,
        ),
      ]),
    );
    expect(problems).toHaveLength(4);
    expect(existsSync(outdir)).toBe(false);
  });

  test("a function of the GPU itself that its model lacks is named as such", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, [{ address: "0000:0b:00.0", model: { name: "Lab GPU", barsMib: [16, 256] } }], {
      iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }],
    });
    newKvmVm(stack, "vm", host, { gpus: ["0000:0b:00.0"] });
    expect(problemsOf(stack)).toEqual([
      expect.stringContaining(
        "(0000:0b:00.1 is a function of the VM's own GPU that its model does not list). Fix: declare the GPU with a model that lists that function",
      ),
    ]);
  });

  test("bridges in a GPU's group stay with the host; the host's own GPU sharing a group is an error", () => {
    const ok = newKvmStack();
    newKvmVm(ok, "vm", newKvmHost(ok), { gpus: ["0000:0b:00.0"] }); // group 14 holds a bridge too
    expect(problemsOf(ok)).toEqual([]);

    const shared = newKvmStack(Testing.app());
    const host = newKvmHost(shared, undefined, {
      iommuGroups: [{ id: 1, devices: ["0000:0b:00.0", "0000:0b:00.1", "0000:0c:00.0", "0000:0c:00.1"] }],
    });
    newKvmVm(shared, "vm", host, { gpus: ["0000:0b:00.0"] });
    expect(problemsOf(shared)).toEqual([
      expect.stringContaining(
        'IOMMU group 1 on host "ws-01" also holds 0000:0c:00.0 (GPU 0000:0c:00.0, kept by the host), 0000:0c:00.1 (GPU 0000:0c:00.0, kept by the host)',
      ),
    ]);
  });

  test("options libvirt or QEMU would refuse at apply time", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    newKvmVm(stack, "bad name", host, {
      gpus: ["0000:0b:00.0"],
      cpus: 4,
      memoryGib: 3.5,
      hideHypervisor: false,
      libvirt: {
        baseImage: "images/base.qcow2",
        vcpuPins: ["2", "3", "x"],
        hugepages: "1G",
        gpuRom: { file: "3080.rom" },
        usbDevices: [{ vendorId: "46d", productId: "c52b" }],
        hypervisorVendorId: "abc",
        diskGib: 0,
      },
    });
    const problems = problemsOf(stack).join("\n");
    for (const expected of [
      'libvirt.baseImage "images/base.qcow2" is not an absolute path on the host',
      "libvirt.diskGib 0 is not a whole number of GiB ≥ 1",
      'libvirt.gpuRom.file "3080.rom" is not an absolute path; QEMU opens it on the host',
      "libvirt.hypervisorVendorId is set but the hypervisor is not hidden",
      "libvirt.vcpuPins has 3 entries for 4 vCPUs",
      'libvirt.vcpuPins[2] "x" is not a host CPU set',
      "memory 3584 MiB is not a whole number of 1G huge pages",
      'libvirt.usbDevices[0].vendorId "46d" must be 4 hex digits',
      'name "bad name" has a slash or a space',
    ]) {
      expect(problems).toContain(expected);
    }
  });

  test("a VM on a libvirt host without libvirt settings, and a GPU declared by match, are refused", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, [
      { address: "0000:0b:00.0", model: "nvidia-rtx-3080" },
      { match: { vendorId: "10de", nameRegex: "A100" }, model: "nvidia-a100-80gb" },
    ]);
    newKvmVm(stack, "vm", host, { gpus: ["0000:0b:00.0"], libvirt: undefined });
    const problems = problemsOf(stack);
    expect(problems).toContain(
      'host "ws-01" GPU match(vendor 10de, name /A100/): libvirt hosts declare GPUs by address (a hostdev names its PCI address). Fix: give address: (gpu-passthrough discover prints it)',
    );
    expect(problems).toContain(
      'VM "vm": runs on libvirt host "ws-01" but has no libvirt settings. Fix: give hypervisor: { kind: "libvirt", baseImage: "/var/lib/libvirt/images/<image>.qcow2" } (libvirt: { baseImage } in a fleet file)',
    );
  });
});
