import { catalogModel } from "../lib/gpu/catalog";
import { GpuModel } from "../lib/gpu/model";
import { isPowerOfTwo, nextPowerOfTwo, requiredMmio, withOverride } from "../lib/mmio";

function model(id: string): GpuModel {
  const m = catalogModel(id);
  if (!m) throw new Error(`catalog lacks ${id}`);
  return m;
}
const gpus = (...ids: string[]) =>
  ids.map((id, i) => ({ gpu: `0000:${(0x10 + i).toString(16)}:00.0`, model: model(id) }));

describe("MMIO sizing", () => {
  test("two GPUs with 16 GB BARs need a 64 GB window (VMware's GPU blog)", () => {
    const sixteen = { name: "16 GB BAR GPU", barsMib: [16, 16384, 32] };
    const r = requiredMmio([
      { gpu: "a", model: sixteen },
      { gpu: "b", model: sixteen },
    ]);
    expect(r).toMatchObject({ needs64BitMmio: true, sizeGb: 64 });
  });

  test.each([
    ["nvidia-v100-32gb", 64],
    ["nvidia-a30", 64],
    ["nvidia-h100-80gb", 256], // Broadcom KB 323402
    ["nvidia-a100-80gb", 256],
  ])("one %s needs %i GB", (id, size) => {
    expect(requiredMmio(gpus(id)).sizeGb).toBe(size);
  });

  test("two V100 16GB need 64 GB, the sum of every BAR of every GPU rounded up", () => {
    const r = requiredMmio(gpus("nvidia-v100-16gb", "nvidia-v100-16gb"));
    expect(r.sizeGb).toBe(64);
    expect(r.totalMib).toBe(2 * model("nvidia-v100-16gb").barsMib.reduce((a, b) => a + b, 0));
    expect(r.inputs.map((i) => i.model)).toEqual([model("nvidia-v100-16gb").name, model("nvidia-v100-16gb").name]);
  });

  test("a device mapping 16 GB or less needs no 64-bit MMIO settings", () => {
    expect(requiredMmio(gpus("nvidia-t4"))).toMatchObject({ needs64BitMmio: false, sizeGb: 0 });
    expect(requiredMmio([{ gpu: "x", model: { name: "exactly 16", barsMib: [16384] } }]).needs64BitMmio).toBe(false);
    expect(requiredMmio([{ gpu: "x", model: { name: "just over", barsMib: [16384, 1] } }]).needs64BitMmio).toBe(true);
  });

  test("a VM without GPUs needs nothing", () => {
    expect(requiredMmio([])).toMatchObject({ needs64BitMmio: false, sizeGb: 0, totalMib: 0 });
  });

  test("an override at or above the need, and a power of two, is taken", () => {
    const r = withOverride(requiredMmio(gpus("nvidia-a30")), 512);
    expect(r).toMatchObject({ sizeGb: 512, overridden: true, needs64BitMmio: true });
  });

  test("an override below the need is an error that gives the needed size and its inputs", () => {
    expect(withOverride(requiredMmio(gpus("nvidia-h100-80gb")), 128)).toMatch(
      /mmioSizeGb 128 is below what the GPUs map \(256 GB for 0000:10:00.0 NVIDIA H100.*\): use 256 or more/,
    );
  });

  test("an override that is not a power of two is an error that suggests one", () => {
    expect(withOverride(requiredMmio(gpus("nvidia-a30")), 100)).toMatch(
      /mmioSizeGb 100 is not a power of two: use 128/,
    );
    expect(withOverride(requiredMmio(gpus("nvidia-h100-80gb")), 100)).toMatch(/use 256/);
  });

  test("never below the vendor's figure: one V100 16GB gets NVIDIA's 64 GB, not the BAR sum's 32", () => {
    const r = requiredMmio(gpus("nvidia-v100-16gb"));
    expect(r).toMatchObject({ needs64BitMmio: true, sizeGb: 64, rule: "vendor-table" });
    expect(r.ruleWhy).toContain("the vendor's figure governs: NVIDIA V100 PCIe 16GB needs 64 GB");
    expect(r.ruleWhy).toContain("gives 32 GB");
    // Negative control: the same BARs without the vendor's figure give the BAR sum.
    const bare = { name: "V100 16GB BARs", barsMib: model("nvidia-v100-16gb").barsMib };
    expect(requiredMmio([{ gpu: "x", model: bare }])).toMatchObject({ sizeGb: 32, rule: "bar-sum" });
  });

  test("the vendor's figure is per GPU: a larger BAR sum still governs", () => {
    expect(requiredMmio(gpus("nvidia-v100-16gb", "nvidia-v100-16gb"))).toMatchObject({ sizeGb: 64, rule: "bar-sum" });
    const four = requiredMmio(gpus("nvidia-a100-80gb", "nvidia-a100-80gb", "nvidia-a100-80gb", "nvidia-a100-80gb"));
    expect(four).toMatchObject({ sizeGb: 1024, rule: "bar-sum" });
    expect(four.ruleWhy).toContain("the vendor's figure (256 GB) is not larger");
  });

  test("a GPU the vendor lists needs the 64-bit window even when its BARs stay under 16 GB", () => {
    const listedSmall = { name: "listed", barsMib: [16, 256, 32], vendorMmio: { sizeGb: 64, source: "table" } };
    expect(requiredMmio([{ gpu: "x", model: listedSmall }])).toMatchObject({
      needs64BitMmio: true,
      sizeGb: 64,
      rule: "vendor-table",
    });
  });

  test("an override keeps the computed rule in its reason", () => {
    const r = withOverride(requiredMmio(gpus("nvidia-v100-16gb")), 128);
    expect(r).toMatchObject({ sizeGb: 128, rule: "override" });
    expect(typeof r === "string" ? r : r.ruleWhy).toMatch(/^set by the user, at least the 64 GB computed/);
    expect(withOverride(requiredMmio(gpus("nvidia-v100-16gb")), 32)).toMatch(/mmioSizeGb 32 is below .*use 64/);
  });

  test("powers of two", () => {
    expect([1, 2, 3, 5, 33, 64, 65].map(nextPowerOfTwo)).toEqual([1, 2, 4, 8, 64, 64, 128]);
    expect([1, 64, 256].every(isPowerOfTwo)).toBe(true);
    expect([0, 3, 100, 1.5, -4].some(isPowerOfTwo)).toBe(false);
  });
});
