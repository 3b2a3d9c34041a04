/**
 * preflight --fleet compares the IOMMU groups a KVM host's entry declares with the host's real ones (sysfs fixtures
 * from fixtures/hosts.ts): each difference is named with the declared and the real members and the entry to paste.
 */
import { parseFleet } from "../lib/fleet/load";
import { discoverYaml } from "../lib/preflight/discover";
import { readInventory } from "../lib/preflight/inventory";
import { PreflightReport, preflightReport } from "../lib/preflight/report";
import { FixtureHost, amdDesktop, intelDesktop, removeHost, writeHost } from "./fixtures/hosts";

const roots: string[] = [];
afterAll(() => roots.forEach(removeHost));

function tree(host: FixtureHost): string {
  const root = writeHost(host);
  roots.push(root);
  return root;
}

/** A libvirt fleet whose one host declares `groups` (YAML flow text) for the host's GPUs. */
function fleetWith(name: string, gpus: string, groups: string, vendor = "intel") {
  const fleet = parseFleet(`
sites:
  - { name: lab, libvirt: {} }
hosts:
  - name: ${name}
    site: lab
    libvirt: { cpuVendor: ${vendor}, iommuGroups: ${groups} }
    gpus: ${gpus}
vms: []
`);
  return fleet.hosts[0];
}

const DESK_GPUS = `[{ address: "0000:01:00.0", model: nvidia-rtx-3090 }]`;
const desk = (groups: string, opts = {}) =>
  preflightReport(
    readInventory(tree(intelDesktop({ geforceDriver: "vfio-pci", ...opts }))),
    fleetWith("kvm-desk-01", DESK_GPUS, groups),
  );
const groupFindings = (r: PreflightReport) => r.findings.filter((f) => f.code.startsWith("iommu-group"));

describe("declared IOMMU groups against the host's", () => {
  test("the groups discover --libvirt prints are the host's: no difference, the host is ready", () => {
    const root = tree(intelDesktop({ geforceDriver: "vfio-pci" }));
    const entry = discoverYaml(readInventory(root), { site: "lab", libvirt: true });
    const fleet = parseFleet(
      `sites:\n  - { name: lab, libvirt: {} }\nhosts:\n${entry.replace(/^/gm, "  ")}\nvms: []\n`,
    );
    const report = preflightReport(readInventory(root), fleet.hosts[0]);
    expect(groupFindings(report)).toEqual([]);
    expect(report.ready).toBe(true);
  });

  test("a group declared without the GPU's audio function is a blocker naming it, with the host's group", () => {
    const [f] = groupFindings(desk(`[{ id: 1, devices: ["0000:01:00.0"], bridges: ["0000:00:01.0"] }]`));
    expect(f).toMatchObject({ severity: "blocker", code: "iommu-group-mismatch", subject: "libvirt.iommuGroups[0]" });
    expect(f.message).toBe(
      "group 1 differs from the host's group 1: 0000:01:00.1 audio device 10de:1aef (vfio-pci) is in the host's " +
        'group 1 but not declared. declared as { id: 1, devices: ["0000:01:00.0"], bridges: ["0000:00:01.0"] }; ' +
        "the isolation check at synth reads the declared groups, so it judged this GPU wrongly",
    );
    expect(f.fix).toBe(
      `replace it with the host's group: { id: 1, devices: ["0000:01:00.0", "0000:01:00.1"], bridges: ` +
        `["0000:00:01.0"] } (gpu-passthrough discover --libvirt prints the groups of the host's GPUs)`,
    );
    expect(desk(`[{ id: 1, devices: ["0000:01:00.0"], bridges: ["0000:00:01.0"] }]`).ready).toBe(false);
  });

  test("every difference of a group is listed: a member of another group, a device the host lacks", () => {
    const [f] = groupFindings(
      desk(
        `[{ id: 1, devices: ["0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:0a:00.0"], bridges: ["0000:00:01.0"] }]`,
      ),
    );
    expect(f.severity).toBe("blocker");
    expect(f.message).toContain(
      "0000:02:00.0 NVMe controller 144d:a80a (nvme) is declared here, but the host has it in group 3; " +
        "0000:0a:00.0 is declared, but the host has no PCI device at that address",
    );
  });

  test("the same members under another number: a warning with the host's number", () => {
    const [f] = groupFindings(
      desk(`[{ id: 7, devices: ["0000:01:00.0", "0000:01:00.1"], bridges: ["0000:00:01.0"] }]`),
    );
    expect(f).toMatchObject({
      severity: "warning",
      code: "iommu-group-renumbered",
      message: "group 7 has the same members on the host, which numbers it 1",
    });
    expect(f.fix).toMatch(/^set id: 1 /);
  });

  test("a missing bridge is a warning (bridges stay with the host); a device declared as a bridge blocks", () => {
    const [bridgeOnly] = groupFindings(desk(`[{ id: 1, devices: ["0000:01:00.0", "0000:01:00.1"] }]`));
    expect(bridgeOnly).toMatchObject({ severity: "warning", code: "iommu-group-mismatch" });
    expect(bridgeOnly.message).toContain(
      "0000:00:01.0 PCI bridge 8086:460d (pcieport) is in the host's group 1 but not declared (a bridge)",
    );
    const [asBridge] = groupFindings(
      desk(`[{ id: 1, devices: ["0000:01:00.0"], bridges: ["0000:00:01.0", "0000:01:00.1"] }]`),
    );
    expect(asBridge.severity).toBe("blocker");
    expect(asBridge.message).toContain(
      "0000:01:00.1 audio device 10de:1aef (vfio-pci) is declared under bridges, but it is not a bridge: it must go " +
        "to the VM with the GPU",
    );
  });

  test("a guest GPU whose group is not declared: a warning with the entry to add", () => {
    const [f] = groupFindings(desk(`[{ id: 3, devices: ["0000:02:00.0"], bridges: ["0000:00:06.0"] }]`));
    expect(f).toMatchObject({ severity: "warning", code: "iommu-group-undeclared", subject: "libvirt.iommuGroups" });
    expect(f.message).toContain("the host's IOMMU group 1 holds 0000:01:00.0, 0000:01:00.1 of a guest GPU");
    expect(f.fix).toContain(`add { id: 1, devices: ["0000:01:00.0", "0000:01:00.1"], bridges: ["0000:00:01.0"] }`);
  });

  test("a group declared without a member is reported once, as a mismatch, not also as undeclared", () => {
    const report = desk(`[{ id: 1, devices: ["0000:01:00.0"], bridges: ["0000:00:01.0"] }]`);
    expect(groupFindings(report).map((f) => f.code)).toEqual(["iommu-group-mismatch"]);
  });

  test("a chipset group declared as the GPU alone names every device the host also has in it", () => {
    const host = fleetWith(
      "kvm-ryzen-01",
      `[{ address: "0000:06:00.0", model: amd-rx-5700-xt }, { address: "0000:09:00.0", model: amd-rx-580, role: host }]`,
      `[{ id: 4, devices: ["0000:06:00.0", "0000:06:00.1"] }]`,
      "amd",
    );
    const [f] = groupFindings(preflightReport(readInventory(tree(amdDesktop())), host));
    expect(f.severity).toBe("blocker");
    for (const d of [
      "0000:02:00.0 USB controller",
      "0000:02:00.1 SATA controller",
      "0000:07:00.0 Ethernet",
      "0000:08:00.0 network",
    ]) {
      expect(f.message).toContain(d);
    }
    expect(f.fix).toContain(
      `"0000:02:00.0", "0000:02:00.1", "0000:06:00.0", "0000:06:00.1", "0000:07:00.0", "0000:08:00.0"`,
    );
  });

  test("with the IOMMU off the groups are not compared, and the report says so", () => {
    const report = desk(`[{ id: 1, devices: ["0000:01:00.0"] }]`, { iommu: false });
    expect(groupFindings(report).map((f) => `${f.severity} ${f.code}`)).toEqual(["info iommu-groups-unchecked"]);
  });

  test("an entry without declared groups (a vSphere host) gets no group findings", () => {
    const fleet = parseFleet(`
sites:
  - { name: lab, vsphere: { server: vc.example.com, datacenter: DC } }
hosts:
  - { name: kvm-desk-01, site: lab, gpus: ${DESK_GPUS} }
vms: []
`);
    const report = preflightReport(readInventory(tree(intelDesktop({ geforceDriver: "vfio-pci" }))), fleet.hosts[0]);
    expect(report.findings.filter((f) => f.code.startsWith("iommu-group"))).toEqual([]);
  });
});
