/**
 * discover's custom model for a card the catalog lacks: its functions' ids become vfio-pci.ids under the model's
 * vendor, so a function of another vendor must not lend its device id (the host tier's stand-in card, a Red Hat QXL
 * display with an Intel HD Audio function, showed it: the plan bound 1b36:293e, which no device has).
 */
import { parseFleet } from "../lib/fleet/load";
import { planHostPreparation } from "../lib/host-prep/plan";
import { discoverYaml } from "../lib/preflight/discover";
import { readInventory } from "../lib/preflight/inventory";
import { resolveGpuModel } from "../lib/gpu/resolve";
import { PciAddress } from "../lib/pci/address";
import { FLAGS_INTEL, FixtureHost, removeHost, writeHost } from "./fixtures/hosts";

const M = 1024n * 1024n;
function labHost(audioId: string): FixtureHost {
  return {
    hostname: "lab-host",
    kernel: "6.1.0-28-amd64",
    cpu: { vendor: "GenuineIntel", model: "QEMU TCG CPU", flags: FLAGS_INTEL },
    cmdline: "root=LABEL=labroot ro quiet intel_iommu=on",
    iommuUnits: ["dmar0"],
    modules: { qxl: "qxl", snd_hda_intel: "snd_hda_intel" },
    devices: [
      {
        address: "0000:00:03.0",
        cls: "0x038000",
        id: "1b36:0100",
        driver: "qxl",
        group: 3,
        bars: { 0: [0xc0000000n, 64n * M, 0x40200n], 4: [0x800000000n, 16384n * M, 0x14220cn] },
      },
      { address: "0000:00:03.1", cls: "0x040300", id: audioId, driver: "snd_hda_intel", group: 3 },
    ],
  };
}

function planFor(host: FixtureHost) {
  const root = writeHost(host);
  try {
    const yaml = discoverYaml(readInventory(root), { site: "lab", libvirt: true });
    const entry = parseFleet(`sites:\n  - { name: lab, libvirt: {} }\nhosts:\n${yaml.replace(/^/gm, "  ")}\nvms: []\n`)
      .hosts[0];
    const model = resolveGpuModel(entry.gpus[0].model);
    if (Array.isArray(model)) throw new Error(model.join("; "));
    const functions = [PciAddress.parse("0000:00:03.0"), PciAddress.parse("0000:00:03.1")];
    return planHostPreparation({
      host: "lab-host",
      cpuVendor: "intel",
      distro: "debian",
      assigned: [{ gpu: { label: "0000:00:03.0", model, functions }, vm: "lab-vm" }],
      kept: [],
    });
  } finally {
    removeHost(root);
  }
}

test("a function of another vendor is declared without an id, so the plan binds the card by address", () => {
  const plan = planFor(labHost("8086:293e"));
  expect(plan.vfioPciIds).toEqual([]);
  expect(plan.bindBy).toBe("address");
  expect(plan.driverOverrides).toEqual([
    "driverctl set-override 0000:00:03.0 vfio-pci",
    "driverctl set-override 0000:00:03.1 vfio-pci",
  ]);
});

test("control: functions of the card's own vendor keep their ids, and the plan binds by id", () => {
  const plan = planFor(labHost("1b36:0101"));
  expect(plan.bindBy).toBe("ids");
  expect(plan.vfioPciIds).toEqual(["1b36:0100", "1b36:0101"]);
});
