import { GPU_CATALOG, catalogModel, catalogModelIds } from "../lib/gpu/catalog";
import { GpuModel, mappedMib } from "../lib/gpu/model";

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
