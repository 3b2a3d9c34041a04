/**
 * Proxmox VE's rules: on the VM's options, on the rendered resource after escape-hatch overrides (what the provider
 * passes to a failing apply, or PVE refuses to an API token), on IOMMU isolation, and on the node's settings.
 */
import { appProblems } from "../lib/validation/app";
import { NODE_GPUS, newPveHost, newPveStack, newPveVm, problemTexts } from "./proxmox-helpers";

/** The problems of one VM on the example node, after `override` has changed its resource. */
function vmProblems(
  props: Parameters<typeof newPveVm>[3] = { gpus: ["0000:0c:00.0"] },
  backend: Parameters<typeof newPveHost>[1] = {},
  override?: (resource: { addOverride(path: string, value: unknown): void }) => void,
): string[] {
  const stack = newPveStack();
  const vm = newPveVm(stack, "vm", newPveHost(stack, backend), props);
  override?.(vm.resource);
  return problemTexts(vm);
}

const overridden = (path: string, value: unknown, props?: Parameters<typeof newPveVm>[3]) =>
  vmProblems(props, {}, (r) => r.addOverride(path, value));

describe("overrides of the rendered resource are caught", () => {
  // Paths into the list (hostpci.0.rombar): an array override is appended to the rendered list by cdktf.
  test.each([
    ["hostpci.0.device", "gpu0", /device "gpu0" is not a PVE slot/],
    ["hostpci.0.mapping", "gpu", /has both id and mapping; the provider accepts it and PVE refuses it at apply/],
    // The devices' own rule (rendered-devices.ts) says what the VM then lacks.
    ["hostpci.0.id", null, /has neither id nor mapping/, /its hostpci lacks 0000:0c:00\.0, 0000:0c:00\.1/],
    ["hostpci.0.rombar", null, /has no rombar: provider 0\.112\.0 then sends rombar=0, which hides the GPU's ROM/],
    ["hostpci.0.id", "0c:00.0;zz", /id "0c:00\.0;zz" is not a PCI id/, /its hostpci lacks 0000:0c:00\.1/],
    ["machine", "pc", /is PCIe, but the machine is "pc"; PCIe ports exist on q35 only/],
    ["memory.floating", 2048, /memory\.floating 2048 turns the balloon on/],
    ["memory.dedicated", 1024, /memory\.dedicated 1024 MiB differs from the VM's 32768 MiB/],
    ["memory.hugepages", "2", /memory\.hugepages 2 without cpu\.numa/],
    ["cpu.sockets", 32, /cpu\.sockets 32 is above the provider's 16/],
    ["efi_disk", null, /bios is ovmf without an efi_disk/],
    [
      "efi_disk.type",
      "2m",
      /efi_disk\.type is "2m": the 2m OVMF \(the provider's default\) cannot hold secure boot keys/,
    ],
    ["efi_disk.pre_enrolled_keys", true, /efi_disk\.pre_enrolled_keys is true but secureBoot is false/],
    [
      "kvm_arguments",
      "",
      /kvm_arguments lacks OVMF's 64-bit MMIO aperture \(-fw_cfg name=opt\/ovmf\/X-PciMmio64Mb,string=131072\)/,
    ],
    ["cpu.type", "kvm64", /cpu\.type is "kvm64" with a 64-bit aperture: PVE limits such a guest to 40 address bits/],
    [
      "kvm_arguments",
      "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072 -cpu host,kvm=off",
      /kvm_arguments has -cpu, which replaces the -cpu PVE builds/,
    ],
  ] as [string, unknown, ...RegExp[]][])("%s = %j", (path, value, ...problems) => {
    expect(overridden(path, value)).toEqual(problems.map((p) => expect.stringMatching(p)));
  });

  test("bios seabios under the aperture: the aperture is refused, and the EFI disk without OVMF is the user's", () => {
    expect(overridden("bios", "seabios")).toEqual([
      expect.stringMatching(/kvm_arguments sizes OVMF's 64-bit aperture, but bios is "seabios"/),
    ]);
  });

  test("17 hostpci, two primary displays, the same slot twice", () => {
    const more = Array.from({ length: 16 }, (_, i) => ({
      device: `hostpci${i + 1}`,
      id: `0000:${(0x21 + i).toString(16)}:00.0`,
      rombar: true,
    }));
    expect(overridden("hostpci", more)).toEqual([
      expect.stringMatching(/has 17 hostpci devices; Proxmox VE has 16 \(hostpci0 to hostpci15\)/),
      expect.stringMatching(/hostpci\[16\] \(hostpci16\): device "hostpci16" is not a PVE slot/),
      expect.stringMatching(/its hostpci passes 0000:21:00\.0, .*0000:30:00\.0, which it does not hold/),
    ]);
    const twice = [{ device: "hostpci0", id: "0000:0c:00.0;0000:0c:00.1", rombar: true, xvga: true }];
    expect(overridden("hostpci", twice, { gpus: ["0000:0b:00.0"] })).toEqual([
      expect.stringMatching(/hostpci\[1\] \(hostpci0\): hostpci0 is given twice/),
      expect.stringMatching(/2 hostpci devices have xvga; a VM has one primary display/),
      expect.stringMatching(/its hostpci passes 0000:0c:00\.0, 0000:0c:00\.1, which it does not hold/),
    ]);
  });

  test("another GPU's functions, or a short id of the VM's own device (PVE passes all its functions)", () => {
    expect(overridden("hostpci.0.id", "0000:0b:00.0;0000:0b:00.1")).toEqual([
      expect.stringMatching(/its hostpci lacks 0000:0c:00\.0, 0000:0c:00\.1 and passes 0000:0b:00\.0, 0000:0b:00\.1/),
    ]);
    expect(overridden("hostpci.0.id", "0000:0c:00")).toEqual([]);
  });

  test("the hypervisor of a consumer GPU's VM must stay hidden: x-vga off is refused, however it got there", () => {
    const play = { gpus: ["0000:0b:00.0"] };
    const hidden = /no hostpci has xvga, but the hypervisor must be hidden \(NVIDIA GeForce RTX 4090: consumer driver/;
    expect(vmProblems({ ...play, proxmox: { template: 9000, primaryGpu: false } })).toEqual([
      expect.stringMatching(hidden),
    ]);
    expect(overridden("hostpci.0.xvga", false, play)).toEqual([expect.stringMatching(hidden)]);
    expect(vmProblems({ ...play, hideHypervisor: false, proxmox: { template: 9000, primaryGpu: false } })).toEqual([]);
  });
});

describe("root@pam only: an API-token site is told before deploy", () => {
  const token = { auth: "token" as const };

  test("hostpci by id and kvm_arguments, each with the fix", () => {
    const problems = vmProblems({ gpus: ["0000:0c:00.0"] }, token);
    expect(problems).toEqual([
      expect.stringMatching(
        /hostpci\[0\] \(hostpci0\) assigns 0000:0c:00\.0;0000:0c:00\.1 by PCI id, which PVE allows only to root@pam .*Fix: set devices: mapping on the host/,
      ),
      expect.stringMatching(
        /kvm_arguments \(-fw_cfg name=opt\/ovmf\/X-PciMmio64Mb,string=131072\) is root@pam only in PVE .*the provider has no other way to size OVMF's 64-bit aperture\. Fix: set the site's auth: password and run Terraform as root@pam/,
      ),
    ]);
  });

  test("with a mapping, a small-BAR GPU needs nothing of root; a ROM file and huge pages still do", () => {
    const mapping = { ...token, devices: "mapping" as const };
    expect(vmProblems({ gpus: ["0000:0b:00.0"] }, mapping)).toEqual([]);
    expect(
      vmProblems(
        { gpus: ["0000:0b:00.0"], proxmox: { template: 9000, gpuRom: { file: "a.rom" }, hugepages: "2M" } },
        mapping,
      ),
    ).toEqual([
      expect.stringMatching(/has rom_file, which PVE allows only to root@pam, even with a mapping/),
      expect.stringMatching(/memory\.hugepages is root@pam only in PVE/),
    ]);
  });

  test("an override adding kvm_arguments is caught too", () => {
    const problems = vmProblems({ gpus: ["0000:0b:00.0"] }, { ...token, devices: "mapping" }, (r) =>
      r.addOverride("kvm_arguments", "-smbios type=1,serial=X"),
    );
    expect(problems).toEqual([expect.stringMatching(/kvm_arguments \(-smbios type=1,serial=X\) is root@pam only/)]);
  });
});

describe("the VM's options", () => {
  test.each([
    [{ vmId: 99 }, /proxmox\.vmId 99 is not a Proxmox VE VM id\. Fix: give a whole number from 100 to 999999999/],
    [{ template: 9000, vmId: 9000 }, /proxmox\.vmId 9000 is the template's id/],
    [{ linkedClone: true }, /proxmox\.linkedClone without a template has nothing to clone/],
    [{ diskGib: 0 }, /proxmox\.diskGib 0 is not a whole number of GiB/],
    [{ diskInterface: "nvme0" }, /proxmox\.diskInterface "nvme0" is not a Proxmox VE disk slot/],
    [{ iso: "/var/lib/vz/template/iso/x.iso" }, /proxmox\.iso ".*" is not an ISO volume\. Fix: name it as PVE does/],
    [{ gpuRom: { file: "/usr/share/kvm/a.rom" } }, /is not a file name under \/usr\/share\/kvm\/.*Fix: .*"a\.rom"/],
    [{ tags: ["has space"] }, /proxmox\.tags "has space" is not a Proxmox VE tag/],
  ])("%j", (proxmox, problem) => {
    expect(vmProblems({ gpus: ["0000:0c:00.0"], proxmox })).toEqual([expect.stringMatching(problem)]);
  });

  test("huge pages need memory in whole pages", () => {
    expect(vmProblems({ gpus: ["0000:0c:00.0"], memoryGib: 32.5, proxmox: { hugepages: "1G" } })).toEqual([
      expect.stringMatching(/memory 33280 MiB is not a whole number of 1G huge pages/),
    ]);
  });

  test("a VM name Proxmox VE takes: a DNS name", () => {
    const stack = newPveStack();
    const vm = newPveVm(stack, "vm", newPveHost(stack), { gpus: ["0000:0c:00.0"], name: "ml_box" });
    expect(problemTexts(vm)).toEqual([
      expect.stringMatching(/name "ml_box" is not a DNS name, which Proxmox VE requires.*Fix: .*"ml-box"/),
    ]);
  });
});

describe("IOMMU isolation, when the node's groups are declared", () => {
  test("another device in the GPU's group is refused; a function its model lacks only by id (a mapping passes it)", () => {
    const groups = [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1", "0000:0b:00.2", "0000:09:00.0"] }];
    expect(vmProblems({ gpus: ["0000:0b:00.0"] }, { iommuGroups: groups })).toEqual([
      expect.stringMatching(
        /IOMMU group 14 on host "pve-01" also holds 0000:0b:00\.2, 0000:09:00\.0, which the VM does not get; VFIO passes whole groups, so the VM would not start \(0000:0b:00\.2 is a function of the VM's own GPU that its model does not list\)\. Fix: declare the GPU with a model that lists that function, or use devices: mapping/,
      ),
    ]);
    expect(vmProblems({ gpus: ["0000:0b:00.0"] }, { iommuGroups: groups, devices: "mapping" })).toEqual([
      expect.stringMatching(/IOMMU group 14 on host "pve-01" also holds 0000:09:00\.0, which the VM does not get/),
    ]);
  });

  test("a GPU in no declared group is named; without groups, nothing is checked", () => {
    const groups = [{ id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] }];
    expect(vmProblems({ gpus: ["0000:0b:00.0"] }, { iommuGroups: groups })).toEqual([
      expect.stringMatching(/GPU 0000:0b:00\.0 \(NVIDIA GeForce RTX 4090\) is in none of host "pve-01"'s IOMMU groups/),
    ]);
    expect(vmProblems({ gpus: ["0000:0b:00.0"] }, { iommuGroups: undefined })).toEqual([]);
  });
});

describe("the node's settings", () => {
  const hostProblems = (backend: Parameters<typeof newPveHost>[1], gpus = NODE_GPUS) => {
    const stack = newPveStack();
    newPveHost(stack, backend, gpus);
    return appProblems(stack.node.scope as never);
  };

  test("a node name that is no node name, a GPU by match, a bad IOMMU group", () => {
    const problems = hostProblems({ node: "pve.01", iommuGroups: [{ id: 1, devices: ["nope"] }] }, [
      ...NODE_GPUS,
      { match: { vendorId: "10de", nameRegex: "A4000" }, model: "nvidia-rtx-a4000" },
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/node "pve\.01" is not a Proxmox VE node name/),
        expect.stringMatching(/GPU match\(vendor 10de, name \/A4000\/\): Proxmox VE hosts declare GPUs by address/),
        expect.stringMatching(/iommuGroups\[0\] \(group 1\)\.devices\[0\]: "nope" is not a PCI address/),
      ]),
    );
  });

  test("mappings need the model's vendor:device id; subsystem ids must name a guest GPU, and need mappings", () => {
    const custom = [{ address: "0000:0b:00.0", model: { name: "Prototype", barsMib: [16, 256] } }];
    expect(hostProblems({ devices: "mapping", iommuGroups: [] }, custom)).toEqual([
      expect.stringMatching(
        /devices: mapping needs the GPU's vendor:device id, which the model Prototype does not give/,
      ),
    ]);
    expect(hostProblems({ devices: "mapping", subsystemIds: { "0000:0d:00.0": "1458:4105" } })).toEqual([
      expect.stringMatching(/subsystemIds names "0000:0d:00\.0", which is not the first function of a GPU/),
    ]);
    expect(hostProblems({ devices: "mapping", subsystemIds: { "0000:0b:00.0": "ASUS" } })).toEqual([
      expect.stringMatching(/subsystemIds\["0000:0b:00\.0"\] "ASUS" is not a subsystem id/),
    ]);
    expect(hostProblems({ subsystemIds: { "0000:0b:00.0": "1458:4105" } })).toEqual([
      expect.stringMatching(/subsystemIds are only used by PCI mappings, but the host assigns GPUs by id/),
    ]);
  });
});
