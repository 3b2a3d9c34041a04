import { catalogModel } from "../lib/gpu/catalog";
import { GpuModel } from "../lib/gpu/model";
import { isPowerOfTwo, nextPowerOfTwo, placedMib, requiredMmio, withOverride } from "../lib/mmio";
import { ovmfApertureMinPhysBits } from "../lib/ovmf-aperture";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";

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

/*
 * The 64-bit window as the firmware fills it: each GPU's BARs in one bridge window aligned to its largest BAR. The
 * figures the lab measured in OVMF (__tests__/lab/firmware.test.ts) are the expectations here.
 */
const GIB = 1024;

describe("MMIO window with the firmware's alignment gaps", () => {
  test("one GPU, and two or four equal ones, take their BAR sum: the figures VMware and NVIDIA quote stand", () => {
    const a100 = model("nvidia-a100-80gb");
    expect(placedMib([a100])).toBe(131120);
    expect(requiredMmio(gpus("nvidia-a100-80gb", "nvidia-a100-80gb")).sizeGb).toBe(512);
    expect(requiredMmio(gpus(...Array(4).fill("nvidia-a100-80gb"))).sizeGb).toBe(1024);
    expect(requiredMmio(gpus("nvidia-l40s", "nvidia-l40s")).sizeGb).toBe(256);
  });

  test("three A100 80GB end at 640 GiB once aligned, so they need 1024 GB, not the 512 their BAR sum gives", () => {
    // OVMF left the third GPU's BAR1 unassigned with a 512 GB aperture (the lab, Intel 40-bit CPU).
    const three = gpus("nvidia-a100-80gb", "nvidia-a100-80gb", "nvidia-a100-80gb");
    expect(placedMib(three.map((g) => g.model))).toBe(2 * 256 * GIB + 131120);
    const r = requiredMmio(three);
    expect(r).toMatchObject({ sizeGb: 1024, rule: "bar-sum" });
    expect(r.ruleWhy).toContain("640.05 GiB once each GPU's window is aligned to its largest BAR");
  });

  test("an A100 80GB with an L40S: the L40S window starts at 192 GiB and ends past 256", () => {
    expect(requiredMmio(gpus("nvidia-a100-80gb", "nvidia-l40s")).sizeGb).toBe(512);
  });

  test("the guest address width OVMF's aperture needs: after the RAM above 4 GiB, aligned to its size", () => {
    // kvm-train-02: 512 GiB of RAM, 512 GB aperture → 1024..1536 GiB: 41 bits (a 40-bit CPU faults, the lab saw it).
    expect(ovmfApertureMinPhysBits(512 * GIB, 512)).toBe(41);
    // kvm-train-01: 256 GiB, 256 GB → 512..768 GiB: 40 bits.
    expect(ovmfApertureMinPhysBits(256 * GIB, 256)).toBe(40);
    // One A100 80GB, 64 GiB: 256..512 GiB: 39 bits. Four: 1024..2048 GiB: 41.
    expect(ovmfApertureMinPhysBits(64 * GIB, 256)).toBe(39);
    expect(ovmfApertureMinPhysBits(64 * GIB, 1024)).toBe(41);
    // Under 2.75 GiB of RAM q35 keeps it all below 4 GiB.
    expect(ovmfApertureMinPhysBits(2 * GIB, 64)).toBe(37);
  });

  test("a KVM VM with a large-BAR GPU states the host address width it needs; one without states none", () => {
    const stack = newKvmStack();
    const host = newKvmHost(
      stack,
      [
        { address: "0000:b1:00.0", model: "nvidia-a100-80gb" },
        { address: "0000:ca:00.0", model: "nvidia-a100-80gb" },
        { address: "0000:65:00.0", model: "nvidia-t4" },
      ],
      {
        cpuVendor: "intel",
        iommuGroups: [
          { id: 71, devices: ["0000:b1:00.0"] },
          { id: 83, devices: ["0000:ca:00.0"] },
          { id: 60, devices: ["0000:65:00.0"] },
        ],
      },
      "kvm-01",
    );
    const big = newKvmVm(stack, "train", host, { gpus: ["0000:b1:00.0", "0000:ca:00.0"], memoryGib: 512 });
    const small = newKvmVm(stack, "infer", host, { gpus: ["0000:65:00.0"] });
    const width = (vm: typeof big) => vm.backendSettings.filter((x) => x.setting === "host CPU address width");
    expect(width(big)).toEqual([
      expect.objectContaining({ setting: "host CPU address width", value: "at least 41 physical address bits" }),
    ]);
    expect(width(big)[0].why).toContain("512 GB aperture after the 512 GiB of RAM");
    expect(width(small)).toEqual([]);
  });
});
