/**
 * `gpu-passthrough mmio`: the 64-bit MMIO window from catalog models and counts, or from a vmware.log, and the
 * extra_config lines to set.
 */
import { join } from "path";
import { cli } from "./fixtures/run-cli";

const vmwareLog = join(__dirname, "fixtures", "vmware.log");

async function sizeGb(...args: string[]): Promise<number> {
  const { code, out } = await cli("mmio", ...args, "--json");
  expect(code).toBe(0);
  return JSON.parse(out).sizeGb;
}

describe("mmio", () => {
  test.each([
    [["nvidia-a30"], 64], // VMware: "the NVIDIA A30 GPU requires 64GB of MMIO Space"
    [["nvidia-v100-16gb:2"], 64], // seed 001: 2 × 16 = 32, rounded up to the next power of two gives 64
    [["nvidia-v100-16gb", "nvidia-v100-16gb"], 64],
    [["nvidia-h100-80gb"], 256], // Broadcom KB 323402
    [["nvidia-a100-80gb:4"], 1024],
  ])("%j needs %i GB", async (args, size) => {
    expect(await sizeGb(...args)).toBe(size);
  });

  test("a vmware.log whose device maps just over 16 GB needs 32 GB", async () => {
    const { code, out } = await cli("mmio", "--vmware-log", vmwareLog, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({
      source: "vmware.log",
      needs64BitMmio: true,
      totalMib: 16432,
      sizeGb: 32,
      overridden: false,
      inputs: [{ gpu: "0000:09:00.0", model: "vmware.log device 0000:09:00.0", mappedMib: 16432 }],
      extraConfig: { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "32" },
    });
  });

  test("the table lists each device and prints the extra_config lines", async () => {
    const { out } = await cli("mmio", "--vmware-log", vmwareLog);
    expect(out).toMatch(/^0000:09:00\.0 +16\.05 GiB +BAR0 16M, BAR1 16G, BAR3 32M$/m);
    expect(out).toContain("64-bit MMIO window: 32 GB (the sum rounded up to a power of two).");
    expect(out).toContain('  pciPassthru.use64bitMMIO    = "TRUE"\n  pciPassthru.64bitMMIOSizeGB = "32"\n');
  });

  test("counts list one row per GPU", async () => {
    const { out } = await cli("mmio", "nvidia-v100-16gb:2");
    expect(out).toMatch(/^nvidia-v100-16gb #1 +16\.05 GiB +16M \+ 16G \+ 32M$/m);
    expect(out).toMatch(/^nvidia-v100-16gb #2 /m);
    expect(out).toContain('pciPassthru.64bitMMIOSizeGB = "64"');
  });

  test("GPUs mapping 16 GiB or less need no settings", async () => {
    const { code, out } = await cli("mmio", "nvidia-t4:2");
    expect(code).toBe(0);
    expect(out).toContain("no 64-bit MMIO settings needed");
    expect(out).not.toContain("pciPassthru");
    const json = JSON.parse((await cli("mmio", "nvidia-t4", "--json")).out);
    expect(json).toMatchObject({ needs64BitMmio: false, sizeGb: 0, extraConfig: {} });
  });

  test.each([
    [[], "give GPU models (e.g. nvidia-a30 or nvidia-v100-16gb:2) or --vmware-log FILE"],
    [["nvidia-a30", "--vmware-log", vmwareLog], "give GPU models or --vmware-log, not both"],
    [["nvidia-a30:0"], '"nvidia-a30:0": write MODEL or MODEL:COUNT with COUNT ≥ 1'],
    [["nvidia-a31"], 'unknown GPU model "nvidia-a31"; known models: amd-mi100,'],
    [["--vmware-log", "/nonexistent/vmware.log"], "cannot read /nonexistent/vmware.log: no such file"],
    [["--vmware-log", __filename], 'has no "PCIPassthru: Device ... barIndex ... size ..." lines'],
  ])("%j exits 2 with one line", async (args, message) => {
    const { code, out, err } = await cli("mmio", ...args);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain(message);
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});
