/**
 * The 64-bit window as the firmware fills it: each GPU's BARs in one bridge window aligned to its largest BAR. The
 * figures the lab measured in OVMF (__tests__/lab/firmware.test.ts) are the expectations here.
 */
import { catalogModel } from "../lib/gpu/catalog";
import { GpuModel } from "../lib/gpu/model";
import { requiredMmio } from "../lib/mmio";
import { placedMib } from "../lib/mmio-placement";
import { ovmfApertureMinPhysBits } from "../lib/ovmf-aperture";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";

function model(id: string): GpuModel {
  const m = catalogModel(id);
  if (!m) throw new Error(`catalog lacks ${id}`);
  return m;
}
const gpus = (...ids: string[]) =>
  ids.map((id, i) => ({ gpu: `0000:${(0x10 + i).toString(16)}:00.0`, model: model(id) }));
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
    expect(big.backendSettings).toEqual([
      expect.objectContaining({ setting: "host CPU address width", value: "at least 41 physical address bits" }),
    ]);
    expect(big.backendSettings[0].why).toContain("512 GB aperture after the 512 GiB of RAM");
    expect(small.backendSettings).toEqual([]);
  });
});
