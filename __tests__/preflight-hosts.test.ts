/**
 * Preflight on realistic host trees (see fixtures/hosts.ts): what it finds, and the fix it gives for each gap.
 */
import { parseFleet } from "../lib/fleet/load";
import { FleetHost } from "../lib/fleet/schema";
import { readInventory } from "../lib/preflight/inventory";
import { PreflightReport, preflightReport } from "../lib/preflight/report";
import {
  FLEET_YAML,
  FixtureHost,
  SERVER_GPUS,
  amdDesktop,
  gpuServer,
  intelDesktop,
  removeHost,
  writeBrokenHost,
  writeHost,
} from "./fixtures/hosts";

const roots: string[] = [];
afterAll(() => roots.forEach(removeHost));

function hostTree(host: FixtureHost | string): string {
  const root = typeof host === "string" ? host : writeHost(host);
  roots.push(root);
  return root;
}

const fleet = parseFleet(FLEET_YAML);
function fleetHost(name: string): FleetHost {
  const host = fleet.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`fixture fleet lacks ${name}`);
  return host;
}

function check(host: FixtureHost | string, fleetName?: string): PreflightReport {
  return preflightReport(readInventory(hostTree(host)), fleetName ? fleetHost(fleetName) : undefined);
}

const codes = (r: PreflightReport) => r.findings.map((f) => `${f.severity} ${f.code} ${f.subject}`);
const finding = (r: PreflightReport, code: string, subject?: string) => {
  const f = r.findings.find((x) => x.code === code && (subject === undefined || x.subject === subject));
  if (!f) throw new Error(`no ${code} finding in:\n${codes(r).join("\n")}`);
  return f;
};

describe("Intel desktop: iGPU for the host, GeForce RTX 3090 with its audio in their own group", () => {
  test("CPU, IOMMU and groups are read", () => {
    const inv = readInventory(hostTree(intelDesktop()));
    expect(inv.cpu).toMatchObject({ vendor: "intel", virtualization: "vmx", isVirtualMachine: false });
    expect(inv.iommu).toEqual({ active: true, units: ["dmar0", "dmar1"], groupCount: 9 });
    expect(inv.groups.find((g) => g.id === 1)?.devices).toEqual(["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"]);
    expect(inv.devices.find((d) => d.address === "0000:01:00.1")).toMatchObject({
      classCode: "040300",
      vendorId: "10de",
      deviceId: "1aef",
      driver: "snd_hda_intel",
      resetMethods: ["bus"],
      iommuGroup: 1,
    });
  });

  test("the GeForce is matched in the catalog, with both functions, isolated (its root port does not count)", () => {
    const gpu = check(intelDesktop()).gpus.find((g) => g.address === "0000:01:00.0");
    expect(gpu).toMatchObject({
      model: { id: "nvidia-rtx-3090", name: "NVIDIA GeForce RTX 3090" },
      functions: ["0000:01:00.0", "0000:01:00.1"],
      iommuGroups: [1],
      isolation: "isolated",
      sharedWith: [],
      driver: "nvidia",
      bootVga: false,
      barsMib: [16, 256, 32],
      mmio: { mappedMib: 304, needs64BitMmio: false, sizeGb: 0 },
    });
  });

  test("the iGPU is the boot display and not in the catalog", () => {
    const igpu = check(intelDesktop()).gpus.find((g) => g.address === "0000:00:02.0");
    expect(igpu).toMatchObject({ model: null, vendorId: "8086", deviceId: "4680", bootVga: true, barsMib: [16, 256] });
  });

  test("without a fleet nothing blocks", () => {
    const r = check(intelDesktop());
    expect(r.findings).toEqual([]);
    expect(r.ready).toBe(true);
  });

  test("against the fleet, a GeForce still on nvidia is a blocker with the vfio-pci fix", () => {
    const r = check(intelDesktop(), "kvm-desk-01");
    expect(r.ready).toBe(false);
    expect(codes(r)).toEqual(["blocker gpu-driver GPU 0000:01:00.0"]);
    const f = finding(r, "gpu-driver");
    expect(f.message).toBe(
      "NVIDIA GeForce RTX 3090 is held by host drivers (0000:01:00.0 nvidia, 0000:01:00.1 snd_hda_intel), not vfio-pci: a VM cannot take it",
    );
    expect(f.fix).toContain('add "vfio-pci.ids=10de:2204,10de:1aef" to the kernel command line');
    expect(f.fix).toContain('"softdep nvidia pre: vfio-pci" and "softdep snd_hda_intel pre: vfio-pci"');
    expect(f.fix).toContain("echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind");
    expect(f.fix).toContain("echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override");
    expect(r.hostPrep).toMatchObject({
      kernelArgs: ["vfio-pci.ids=10de:2204,10de:1aef"],
      modprobe: ["softdep nvidia pre: vfio-pci", "softdep snd_hda_intel pre: vfio-pci"],
      driverOverrides: [],
    });
  });

  test("with the GeForce on vfio-pci the host is ready and the fleet's checks are silent", () => {
    const r = check(intelDesktop({ geforceDriver: "vfio-pci" }), "kvm-desk-01");
    expect(r.findings).toEqual([]);
    expect(r.ready).toBe(true);
    expect(r.hostPrep).toMatchObject({ kernelArgs: [], modprobe: [] });
  });

  test("the host's own GPU bound to vfio-pci is a blocker", () => {
    const base = intelDesktop({ geforceDriver: "vfio-pci" });
    const host = {
      ...base,
      devices: base.devices.map((d) => (d.address === "0000:00:02.0" ? { ...d, driver: "vfio-pci" } : d)),
    };
    const f = finding(check(host, "kvm-desk-01"), "host-gpu-vfio");
    expect(f.severity).toBe("blocker");
    expect(f.fix).toMatch(/^remove 8086:4680 from vfio-pci.ids/);
  });

  test("wrong addresses and models in the fleet are named with the host's real GPUs", () => {
    const r = check(intelDesktop(), "kvm-typos-01");
    expect(finding(r, "model-mismatch").message).toBe(
      "the device here is 10de:2204 (NVIDIA GeForce RTX 3090), but the fleet declares NVIDIA GeForce RTX 4090 (10de:2684)",
    );
    expect(finding(r, "model-mismatch").fix).toMatch(/^set model: nvidia-rtx-3090/);
    expect(finding(r, "not-a-gpu").message).toBe(
      "the device here is a NVMe controller 144d:a80a (nvme), not a display controller",
    );
    expect(finding(r, "gpu-missing").message).toBe(
      "no PCI device at 0000:05:00.0 (the fleet declares NVIDIA GeForce RTX 3090)",
    );
    expect(finding(r, "gpu-missing").fix).toContain("0000:01:00.0 NVIDIA GeForce RTX 3090");
  });
});

describe("AMD desktop: RX 5700 XT in a chipset slot, sharing its group with chipset devices", () => {
  test("the GPU is not isolated; bridges and the card's own switch do not count", () => {
    const gpu = check(amdDesktop()).gpus.find((g) => g.address === "0000:06:00.0");
    expect(gpu).toMatchObject({
      model: { id: "amd-rx-5700-xt" },
      functions: ["0000:06:00.0", "0000:06:00.1"],
      isolation: "shared",
      sharedWith: ["0000:02:00.0", "0000:02:00.1", "0000:07:00.0", "0000:08:00.0"],
    });
  });

  test("without a fleet it is a warning; the boot display (the host's RX 580) is not flagged", () => {
    const r = check(amdDesktop());
    expect(codes(r)).toEqual(["warning gpu-not-isolated GPU 0000:06:00.0"]);
    expect(r.ready).toBe(true);
  });

  test("against the fleet it blocks, names the SATA controller and says how to fix it", () => {
    const r = check(amdDesktop(), "kvm-ryzen-01");
    const f = finding(r, "gpu-not-isolated");
    expect(f.severity).toBe("blocker");
    expect(f.message).toBe(
      "AMD Radeon RX 5700 XT shares IOMMU group 4 with 0000:02:00.0 USB controller 1022:43ee (xhci_hcd), " +
        "0000:02:00.1 SATA controller 1022:43eb (ahci), 0000:07:00.0 Ethernet controller 10ec:8125 (r8169), " +
        "0000:08:00.0 network controller 8086:2723 (iwlwifi)",
    );
    expect(f.fix).toMatch(/^move the card to a slot wired to the CPU/);
    expect(f.fix).toContain("pcie_acs_override");
  });

  test("its reset bug asks for vendor-reset; the host's RX 580 raises nothing", () => {
    const r = check(amdDesktop(), "kvm-ryzen-01");
    expect(finding(r, "reset-bug").fix).toContain(
      "echo device_specific > /sys/bus/pci/devices/0000:06:00.0/reset_method",
    );
    expect(r.findings.filter((f) => f.subject === "GPU 0000:09:00.0")).toEqual([]);
    expect(r.hostPrep?.kernelArgs).toEqual(["vfio-pci.ids=1002:731f,1002:ab38"]);
  });
});

describe("server: four A100 80GB bound to vfio-pci", () => {
  test("every GPU is isolated, on vfio-pci, and needs a 256 GB MMIO window in its VM", () => {
    const r = check(gpuServer(), "kvm-gpu-01");
    expect(r.ready).toBe(true);
    expect(r.summary.blockers).toBe(0);
    const a100s = r.gpus.filter((g) => g.model?.id === "nvidia-a100-80gb");
    expect(a100s.map((g) => [g.address, g.isolation, g.driver, g.mmio.sizeGb])).toEqual(
      SERVER_GPUS.map((a) => [a, "isolated", "vfio-pci", 256]),
    );
    expect(r.findings.filter((f) => f.code === "large-bar").map((f) => f.message)).toEqual(
      SERVER_GPUS.map(
        () =>
          "NVIDIA A100 80GB PCIe maps 128.05 GiB: its VM needs EFI firmware and a 64-bit MMIO window of 256 GB or more",
      ),
    );
    expect(finding(r, "gpu-undeclared").subject).toBe("GPU 0000:03:00.0"); // the BMC's display
  });

  test('with "Above 4G decoding" off, BAR1 has no address: a blocker naming the BIOS setting', () => {
    const r = check(gpuServer({ above4gDecoding: false }), "kvm-gpu-01");
    const unplaced = r.findings.filter((f) => f.code === "bar-unassigned");
    expect(unplaced.map((f) => f.subject)).toEqual(SERVER_GPUS.map((a) => `GPU ${a}`));
    expect(unplaced[0].message).toBe("BAR1 of NVIDIA A100 80GB PCIe has no address: the firmware could not place it");
    expect(unplaced[0].fix).toMatch(/^enable "Above 4G decoding" in the BIOS/);
  });
});

describe("IOMMU off", () => {
  test("a blocker with the kernel argument and the BIOS setting; devices are still listed", () => {
    const r = check(intelDesktop({ iommu: false }));
    expect(r.ready).toBe(false);
    const f = finding(r, "iommu-off");
    expect(f.message).toContain("the kernel command line lacks intel_iommu=on");
    expect(f.fix).toContain('add "intel_iommu=on iommu=pt" to the kernel command line');
    expect(f.fix).toContain('enable "VT-d"');
    expect(r.groups).toEqual([]);
    expect(r.devices).toHaveLength(17);
    expect(r.gpus.map((g) => g.isolation)).toEqual(["unknown", "unknown"]);
  });

  test("against the fleet, host preparation lists every kernel argument", () => {
    const r = check(intelDesktop({ iommu: false }), "kvm-desk-01");
    expect(r.hostPrep?.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt", "vfio-pci.ids=10de:2204,10de:1aef"]);
  });
});

describe("unreadable and malformed sysfs files", () => {
  test("each costs one fact and is reported with its path; nothing crashes", () => {
    const root = hostTree(writeBrokenHost());
    const r = check(root, "kvm-desk-01");
    const problems = r.findings.filter((f) => f.code === "unreadable-file");
    const at = (rel: string) => problems.find((p) => p.subject === `${root}/sys/bus/pci/devices/${rel}`)?.message;
    expect(at("0000:01:00.0/resource")).toBe(
      'malformed: line 1 is not "start end flags" in hex: "0x00000000a0000000 0x00000000a0ffffff"',
    );
    expect(at("0000:00:17.0/vendor")).toBe('malformed: expected a 16-bit id like 0x10de, found "0x80g6"');
    expect(at("0000:00:14.0/device")).toBe("unreadable: it is a directory, not a file");
    // Mode 000 stops everyone but root, who reads it anyway.
    const runningAsRoot = process.getuid?.() === 0;
    expect(at("0000:01:00.1/class")).toBe(
      runningAsRoot ? undefined : "permission denied: run preflight as root, or make the copy readable",
    );
    expect(problems.every((p) => p.severity === "warning")).toBe(true);

    // The GPU with the broken resource file is still checked; its MMIO need falls back to the catalog.
    const gpu = r.gpus.find((g) => g.address === "0000:01:00.0");
    expect(gpu).toMatchObject({ barsMib: null, mmio: { mappedMib: 304 } });
    expect(r.devices.find((d) => d.address === "0000:00:17.0")?.vendorId).toBeNull();
  });
});
