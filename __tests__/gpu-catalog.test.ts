import { existsSync, readFileSync } from "fs";
import { GPU_CATALOG, NVIDIA_MMIO_TABLE, PCI_IDS_SNAPSHOT, catalogModel, catalogModelIds } from "../lib/gpu/catalog";
import { GpuModel, configureModel, mappedMib, modelDeviceIds } from "../lib/gpu/model";
import { parsePciIds, pciIdsDate, pciIdsProblems } from "../lib/gpu/pci-ids";
import { resolveGpuModel } from "../lib/gpu/resolve";
import { requiredMmio } from "../lib/mmio";
import { catalogMatches } from "../lib/preflight/inventory";

const GIB = 1024;
const HEX4 = / [0-9a-f]{4}$/;
const VENDOR_IDS: Record<GpuModel["vendor"], string | undefined> = {
  nvidia: "10de",
  amd: "1002",
  intel: "8086",
  other: undefined,
};

function model(id: string): GpuModel {
  const found = catalogModel(id);
  if (!found) throw new Error(`catalog has no ${id}`);
  return found;
}

describe("GPU catalog", () => {
  test("ids are unique, lower-case and dash-separated", () => {
    const ids = GPU_CATALOG.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  test("entries are ordered by vendor, then segment, then name", () => {
    const vendors = ["nvidia", "amd", "intel", "other"];
    const segments = ["datacenter", "workstation", "consumer"];
    const key = (m: GpuModel) => [vendors.indexOf(m.vendor), segments.indexOf(m.segment)];
    for (let i = 1; i < GPU_CATALOG.length; i++) {
      const [a, b] = [GPU_CATALOG[i - 1], GPU_CATALOG[i]];
      const [va, sa] = key(a);
      const [vb, sb] = key(b);
      const inOrder =
        va < vb || (va === vb && (sa < sb || (sa === sb && a.name.localeCompare(b.name, "en", { numeric: true }) < 0)));
      expect(`${a.id} before ${b.id}: ${inOrder}`).toBe(`${a.id} before ${b.id}: true`);
    }
  });

  test("catalogModel finds ids whatever their case and returns undefined for unknown ids", () => {
    expect(catalogModel("nvidia-a100-80gb")?.id).toBe("nvidia-a100-80gb");
    expect(catalogModel("NVIDIA-A100-80GB")).toBe(catalogModel("nvidia-a100-80gb"));
    expect(catalogModel("Amd-Rx-6800-Xt")?.name).toBe("AMD Radeon RX 6800 XT");
    expect(catalogModel("nvidia-a100")).toBeUndefined();
    expect(catalogModel("")).toBeUndefined();
  });

  test("catalogModelIds is sorted and lists every model once", () => {
    const ids = catalogModelIds();
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(GPU_CATALOG.map((m) => m.id).sort());
    for (const id of ids) expect(catalogModel(id)?.id).toBe(id);
  });

  test("PCI ids are 4 lower-case hex digits, and the vendor id matches the vendor", () => {
    for (const m of GPU_CATALOG) {
      expect(`${m.id} ${m.vendorId}`).toMatch(HEX4);
      expect(`${m.id} ${m.deviceId}`).toMatch(HEX4);
      expect(`${m.id} ${m.vendorId}`).toBe(`${m.id} ${VENDOR_IDS[m.vendor]}`);
      for (const f of m.functions) {
        if (f.deviceId !== undefined) expect(`${m.id}.${f.fn} ${f.deviceId}`).toMatch(HEX4);
      }
    }
  });

  test("every BAR is a whole, positive number of MiB", () => {
    for (const m of GPU_CATALOG) {
      expect(m.barsMib.length).toBeGreaterThan(0);
      for (const bar of m.barsMib) expect(`${m.id} ${Number.isInteger(bar) && bar > 0}`).toBe(`${m.id} true`);
    }
  });

  test("extra functions are numbered 1-7, once each", () => {
    for (const m of GPU_CATALOG) {
      const fns = m.functions.map((f) => f.fn);
      expect(`${m.id} ${new Set(fns).size}`).toBe(`${m.id} ${fns.length}`);
      for (const fn of fns)
        expect(`${m.id}.${fn} ${Number.isInteger(fn) && fn >= 1 && fn <= 7}`).toBe(`${m.id}.${fn} true`);
    }
  });

  test("consumer NVIDIA cards hide the hypervisor; data-center cards never do", () => {
    const consumerNvidia = GPU_CATALOG.filter((m) => m.vendor === "nvidia" && m.segment === "consumer");
    expect(consumerNvidia.length).toBeGreaterThan(0);
    for (const m of consumerNvidia) expect(`${m.id} ${m.quirks.hideHypervisor}`).toBe(`${m.id} true`);
    for (const m of GPU_CATALOG.filter((g) => g.segment === "datacenter")) {
      expect(`${m.id} ${m.quirks.hideHypervisor ?? false}`).toBe(`${m.id} false`);
    }
  });

  test("mapped totals sit just above the power of two the MMIO sizing rounds from", () => {
    const justOver = (id: string, gib: number) => {
      const total = mappedMib(model(id));
      expect(total).toBeGreaterThan(gib * GIB);
      expect(total).toBeLessThan(gib * GIB + GIB);
    };
    justOver("nvidia-v100-32gb", 32);
    justOver("nvidia-v100-16gb", 16);
    justOver("nvidia-a30", 32);
    justOver("nvidia-h100-80gb", 128);
    expect(mappedMib(model("nvidia-t4"))).toBeLessThan(4 * GIB);
  });

  test("AMD GPUs with the reset bug are flagged; Navi 21 is not", () => {
    for (const id of ["amd-rx-580", "amd-rx-vega-64", "amd-rx-5700-xt"]) {
      expect(`${id} ${model(id).quirks.resetBug}`).toBe(`${id} true`);
    }
    for (const id of ["amd-rx-6800-xt", "amd-rx-6900-xt"]) {
      expect(`${id} ${model(id).quirks.resetBug ?? false}`).toBe(`${id} false`);
    }
    for (const m of GPU_CATALOG.filter((g) => g.vendor === "nvidia")) expect(m.quirks.resetBug ?? false).toBe(false);
  });

  test("Turing consumer cards carry audio, USB and USB-C functions; consumer cards have audio at .1", () => {
    expect(model("nvidia-rtx-2080-ti").functions.map((f) => [f.fn, f.kind])).toEqual([
      [1, "audio"],
      [2, "usb"],
      [3, "serial-bus"],
    ]);
    for (const m of GPU_CATALOG.filter((g) => g.segment === "consumer" && g.vendor !== "intel")) {
      expect(`${m.id} ${m.functions.find((f) => f.fn === 1)?.kind}`).toBe(`${m.id} audio`);
    }
  });
});

/** NVIDIA's table of GPUs requiring 64 GB or more of MMIO space (NVIDIA_MMIO_TABLE), row by row, as catalog ids. */
const NVIDIA_TABLE: [string, number][] = [
  ["nvidia-h200", 512], // NVIDIA H200 (all variants)
  ["nvidia-h100-80gb", 256], // NVIDIA H100 (all variants)
  ["nvidia-h100-nvl", 256],
  ["nvidia-h800", 256], // NVIDIA H800 (all variants)
  ["nvidia-h20-141gb", 512], // NVIDIA H20 141GB
  ["nvidia-h20", 256], // NVIDIA H20 96GB
  ["nvidia-l40", 128],
  ["nvidia-l20", 128],
  ["nvidia-l4", 64],
  ["nvidia-l2", 64],
  ["nvidia-rtx-6000-ada", 128],
  ["nvidia-rtx-5000-ada", 64],
  ["nvidia-a40", 128],
  ["nvidia-a30", 64],
  ["nvidia-a10", 64],
  ["nvidia-a100-80gb", 256], // NVIDIA A100 80GB (all variants)
  ["nvidia-a100-40gb", 128], // NVIDIA A100 40GB (all variants)
  ["nvidia-rtx-a6000", 128],
  ["nvidia-rtx-a5000", 64],
  ["nvidia-v100-16gb", 64], // Tesla V100 (all variants)
  ["nvidia-v100-32gb", 64],
];

describe("GPU catalog evidence", () => {
  test("every entry names its sources, and each PCI device id its pci.ids name", () => {
    for (const m of GPU_CATALOG) {
      expect(`${m.id} ${m.sources.length > 0}`).toBe(`${m.id} true`);
      for (const source of m.sources) expect(source.trim()).not.toBe("");
      expect(`${m.id} ${typeof m.pciName}`).toBe(`${m.id} string`);
      for (const o of m.otherDeviceIds ?? []) expect(`${m.id} ${o.deviceId}`).toMatch(HEX4);
    }
  });

  test.each(NVIDIA_TABLE)("%s carries NVIDIA's figure of %i GB", (id, gb) => {
    expect(model(id).vendorMmio).toEqual({ sizeGb: gb, source: NVIDIA_MMIO_TABLE });
  });

  test("only GPUs in NVIDIA's table carry a vendor figure", () => {
    const listed = GPU_CATALOG.filter((m) => m.vendorMmio).map((m) => m.id);
    expect(listed.sort()).toEqual(NVIDIA_TABLE.map(([id]) => id).sort());
  });

  test("never below the vendor's figure: one GPU of every listed model, in every board mode the figure is for", () => {
    for (const m of GPU_CATALOG.filter((g) => g.vendorMmio)) {
      const r = requiredMmio([{ gpu: m.id, model: m }]);
      expect(`${m.id} ${r.sizeGb >= (m.vendorMmio?.sizeGb ?? 0)}`).toBe(`${m.id} true`);
    }
    // The V100 16GB is where the BAR sum (32) falls short of NVIDIA's figure, so the figure governs.
    expect(requiredMmio([{ gpu: "a", model: model("nvidia-v100-16gb") }])).toMatchObject({
      sizeGb: 64,
      rule: "vendor-table",
    });
  });

  test("current generations are in the catalog", () => {
    for (const id of [
      "nvidia-h200",
      "nvidia-h20",
      "nvidia-h800",
      "nvidia-l20",
      "nvidia-l2",
      "nvidia-rtx-5000-ada",
      "nvidia-rtx-6000-ada",
      "nvidia-rtx-pro-6000-blackwell",
      "nvidia-rtx-5090",
      "nvidia-rtx-5080",
      "nvidia-rtx-5070-ti",
      "nvidia-rtx-5070",
      "nvidia-rtx-5060-ti",
      "amd-mi300x",
      "amd-mi325x",
      "amd-rx-7800-xt",
      "amd-rx-7900-xtx",
      "amd-rx-9060-xt",
      "amd-rx-9070-xt",
      "intel-arc-b570",
      "intel-arc-b580",
    ]) {
      expect(catalogModel(id)?.id).toBe(id);
    }
  });

  test("a board is found by every id it ships under: the RTX 2080 Ti as 1e07 and 1e04", () => {
    expect(modelDeviceIds(model("nvidia-rtx-2080-ti"))).toEqual(["1e07", "1e04"]);
    expect(catalogMatches("10de", "1e04").map((m) => m.id)).toEqual(["nvidia-rtx-2080-ti"]);
    expect(catalogMatches("10de", "1e07").map((m) => m.id)).toEqual(["nvidia-rtx-2080-ti"]);
    expect(catalogMatches("10de", "2216").map((m) => m.id)).toEqual(["nvidia-rtx-3080"]);
    expect(catalogMatches("10de", "1e05")).toEqual([]);
  });
});

describe("board modes", () => {
  test("a workstation board is taken displayless by default: the larger BAR1 and NVIDIA's figure", () => {
    const a6000 = resolveGpuModel("nvidia-rtx-a6000") as GpuModel;
    expect(a6000.barsMib).toEqual([16, 65536, 32]);
    expect(a6000.configuration).toMatch(/^displayless \(the default/);
    expect(requiredMmio([{ gpu: "a", model: a6000 }]).sizeGb).toBe(128);
  });

  test("with its displays enabled BAR1 is 256 MiB and the VM needs no 64-bit window", () => {
    const a6000 = resolveGpuModel("nvidia-rtx-a6000", { displayMode: "display-enabled" }) as GpuModel;
    expect(a6000.barsMib).toEqual([16, 256, 32]);
    expect(a6000.vendorMmio).toBeUndefined();
    expect(requiredMmio([{ gpu: "a", model: a6000 }])).toMatchObject({ needs64BitMmio: false, sizeGb: 0 });
  });

  test("a consumer board is taken with Resizable BAR off; on, BAR1 maps the whole VRAM", () => {
    expect((resolveGpuModel("nvidia-rtx-4090") as GpuModel).barsMib).toEqual([16, 256, 32]);
    const on = resolveGpuModel("nvidia-rtx-4090", { resizableBar: true }) as GpuModel;
    expect(on.barsMib).toEqual([16, 32768, 32]);
    expect(on.configuration).toMatch(/^Resizable BAR on/);
    expect(requiredMmio([{ gpu: "a", model: on }])).toMatchObject({ sizeGb: 64, rule: "bar-sum" });
    // Intel Arc: BAR2 16 GiB with ReBAR on, as an lspci of an A770 shows.
    expect((resolveGpuModel("intel-arc-a770", { resizableBar: true }) as GpuModel).barsMib).toEqual([16, 16384]);
  });

  test("a setting the board does not have is an error that says what to do", () => {
    expect(resolveGpuModel("nvidia-a100-80gb", { displayMode: "display-enabled" })).toEqual([
      "displayMode is set but NVIDIA A100 80GB PCIe has no display modes (its BARs do not depend on one): leave displayMode out",
    ]);
    expect(resolveGpuModel("nvidia-rtx-2080-ti", { resizableBar: true })).toEqual([
      "resizableBar is set but the catalog has no Resizable BAR layout for NVIDIA GeForce RTX 2080 Ti: leave " +
        "resizableBar out, or declare the model by the BAR sizes lspci -vv shows (model: { name, barsMib })",
    ]);
    expect(configureModel(model("nvidia-rtx-a6000"), { displayMode: "hdmi" as never })).toEqual([
      'displayMode "hdmi" is not a display mode: write displayless or display-enabled',
    ]);
    // resizableBar: false is the default, which every board has.
    expect(Array.isArray(resolveGpuModel("nvidia-rtx-2080-ti", { resizableBar: false }))).toBe(false);
  });

  test("boards with display modes are workstation boards; Resizable BAR layouts belong to consumer boards", () => {
    for (const m of GPU_CATALOG) {
      if (m.displayEnabledBarsMib) expect(`${m.id} ${m.segment}`).toBe(`${m.id} workstation`);
      if (m.resizableBarBarsMib) expect(`${m.id} ${m.segment}`).toBe(`${m.id} consumer`);
      for (const other of [m.displayEnabledBarsMib, m.resizableBarBarsMib]) {
        if (other) expect(`${m.id} ${other.length}`).toBe(`${m.id} ${m.barsMib.length}`);
      }
    }
  });
});

/** The installed pci.ids (Debian's pci.ids package), or the file PCI_IDS names. */
const PCI_IDS = process.env.PCI_IDS ?? "/usr/share/misc/pci.ids";

describe("catalog against pci.ids", () => {
  const file = `# List of PCI ID's
#	Date:    2026-09-01 10:00:00
10de  NVIDIA Corporation
	1e04  TU102 [GeForce RTX 2080 Ti]
		10de 12ae  Some subsystem
	1e07  TU102 [GeForce RTX 2080 Ti Rev. A]
	10f7  TU102 High Definition Audio Controller
	1ad6  TU102 USB 3.1 Host Controller
	1ad7  TU102 USB Type-C UCSI Controller
C 03  Display controller
	00  VGA compatible controller
`;
  const only2080 = [model("nvidia-rtx-2080-ti")];

  test("a file that agrees gives no problem", () => {
    expect(pciIdsDate(file)).toBe("2026-09-01");
    expect(parsePciIds(file).get("10de")?.get("1e04")).toBe("TU102 [GeForce RTX 2080 Ti]");
    expect(pciIdsProblems(only2080, file, PCI_IDS_SNAPSHOT)).toEqual([]);
  });

  test("negative control: another name, a missing id in a current file, a missing function id", () => {
    const renamed = file.replace("TU102 [GeForce RTX 2080 Ti Rev. A]", "TU102 [GeForce RTX 2080 Ti Founders]");
    expect(pciIdsProblems(only2080, renamed, PCI_IDS_SNAPSHOT)).toEqual([
      'nvidia-rtx-2080-ti: 10de:1e07 is "TU102 [GeForce RTX 2080 Ti Founders]" in pci.ids, the catalog says "TU102 [GeForce RTX 2080 Ti Rev. A]"',
    ]);
    const lacking = file
      .replace("\t1e04  TU102 [GeForce RTX 2080 Ti]\n", "")
      .replace("\t1ad7  TU102 USB Type-C UCSI Controller\n", "");
    expect(pciIdsProblems(only2080, lacking, PCI_IDS_SNAPSHOT)).toEqual([
      "nvidia-rtx-2080-ti: 10de:1e04 is not in pci.ids of 2026-09-01",
      "nvidia-rtx-2080-ti: function .3 10de:1ad7 is not in pci.ids of 2026-09-01",
    ]);
    // A file older than the catalog's snapshot may lack boards added since.
    const older = lacking.replace("2026-09-01", "2023-04-10");
    expect(pciIdsProblems(only2080, older, PCI_IDS_SNAPSHOT)).toEqual([]);
    // ... and name a device more loosely, but still the same chip and model number.
    const olderNames = older.replace("TU102 [GeForce RTX 2080 Ti Rev. A]", "TU102 [GeForce RTX 2080 Ti]");
    expect(pciIdsProblems(only2080, olderNames, PCI_IDS_SNAPSHOT)).toEqual([]);
    const otherCard = older.replace("TU102 [GeForce RTX 2080 Ti Rev. A]", "TU102 [GeForce RTX 2070]");
    expect(pciIdsProblems(only2080, otherCard, PCI_IDS_SNAPSHOT)).toEqual([
      'nvidia-rtx-2080-ti: 10de:1e07 is "TU102 [GeForce RTX 2070]" in pci.ids, the catalog says "TU102 [GeForce RTX 2080 Ti Rev. A]"',
    ]);
  });

  // Skipped on a developer's machine without the file; CI installs it (scripts/test-tools.sh), so there it must run.
  (existsSync(PCI_IDS) || process.env.CI ? test : test.skip)(`every catalog id and name agrees with ${PCI_IDS}`, () => {
    const text = readFileSync(PCI_IDS, "utf8");
    expect(pciIdsDate(text)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // Ids the file lists are checked by name, whatever its age: most of the catalog is older than any copy.
    expect(parsePciIds(text).get("10de")?.size).toBeGreaterThan(100);
    expect(pciIdsProblems(GPU_CATALOG, text, PCI_IDS_SNAPSHOT)).toEqual([]);
  });
});
