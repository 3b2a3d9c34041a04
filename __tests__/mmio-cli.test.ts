/**
 * `gpu-passthrough mmio`: the 64-bit MMIO window from catalog models and counts, or from a vmware.log, and the
 * extra_config lines to set.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { cli } from "./fixtures/run-cli";

const vmwareLog = join(__dirname, "fixtures", "vmware.log");

const tmp = mkdtempSync(join(tmpdir(), "gpt-mmio-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A vmware.log in the temp directory with these BAR lines (`address index size`), one per line. */
function log(name: string, bars: readonly string[]): string {
  const file = join(tmp, name);
  const lines = bars.map((b) => {
    const [address, index, size] = b.split(" ");
    return `2024-02-06T10:14:51.201Z In(05) vmx - PCIPassthru: Device ${address} barIndex ${index} type 3 realaddr 0x3b800000000 size ${size} flags 12`;
  });
  writeFileSync(file, ["2024-02-06T10:14:50.000Z In(05) vmx - Log for VMware ESX", ...lines, ""].join("\n"));
  return file;
}

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
      rule: "bar-sum",
      ruleWhy: "every BAR of every GPU (16.05 GiB) rounded up to a power of two gives 32 GB",
      inputs: [{ gpu: "0000:09:00.0", model: "vmware.log device 0000:09:00.0", mappedMib: 16432 }],
      // The log's failure line: 4206594 pages of 4 KiB are the BARs' 16432 MiB and 2 pages more.
      pagesNeeded: { line: 8, neededPages: 4206594, limitPages: 917504, neededMib: 16433, windowGb: 32 },
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
    [["nvidia-a31"], 'unknown GPU model "nvidia-a31"; known models: amd-mi100,'],
    [["--vmware-log", "/nonexistent/vmware.log"], "cannot read /nonexistent/vmware.log: no such file"],
    [
      ["--vmware-log", join(__dirname, "fixtures", "run-cli.ts")],
      'has no "PCIPassthru: Device ... barIndex ... size ..." lines',
    ],
  ])("%j exits 2 with one line", async (args, message) => {
    const { code, out, err } = await cli("mmio", ...args);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain(message);
    expect(err.trim().split("\n")).toHaveLength(1);
  });

  const COUNT_RULE =
    "is not a whole number from 1 to 16 (a vSphere VM takes at most 16 passthrough devices): write MODEL or MODEL:COUNT, e.g. nvidia-a30:2";

  test.each([["abc"], ["0"], ["-1"], ["1.5"], [""], ["17"], ["99999999"], ["1e3"]])(
    "nvidia-a30:%s is a bad COUNT, not an unknown model",
    async (count) => {
      const started = Date.now();
      const { code, out, err } = await cli("mmio", `nvidia-a30:${count}`);
      expect({ code, out, err }).toEqual({
        code: 2,
        out: "",
        err: `gpu-passthrough: "nvidia-a30:${count}": COUNT "${count}" ${COUNT_RULE}\n`,
      });
      expect(Date.now() - started).toBeLessThan(1000);
    },
  );

  test("more than 16 GPUs in all is refused, naming vSphere's limit", async () => {
    const { code, err } = await cli("mmio", "nvidia-a30:10", "nvidia-t4:4", "nvidia-t4:3");
    expect(code).toBe(2);
    expect(err).toBe(
      "gpu-passthrough: 17 GPUs in all (nvidia-a30:10, nvidia-t4:4, nvidia-t4:3): a vSphere VM takes at most 16 " +
        "passthrough devices; give at most 16\n",
    );
    expect((await cli("mmio", "nvidia-t4:16")).code).toBe(0);
  });

  test("a model without a name is named as such", async () => {
    const { code, err } = await cli("mmio", ":2");
    expect(code).toBe(2);
    expect(err).toBe('gpu-passthrough: ":2": the MODEL is missing: write MODEL or MODEL:COUNT, e.g. nvidia-a30:2\n');
  });
});

describe("mmio --vmware-log with hostile logs", () => {
  test("a log over 64 MiB is refused without being read whole", async () => {
    const file = join(tmp, "huge.log");
    writeFileSync(file, "");
    truncateSync(file, 65 * 2 ** 20);
    const { code, err } = await cli("mmio", "--vmware-log", file);
    expect(code).toBe(2);
    expect(err).toBe(
      `gpu-passthrough: ${file} is larger than 64 MiB: give the vmware.log of the VM's last power-on ` +
        "(ESXi starts a new vmware.log at each power-on), or only its PCIPassthru lines (grep PCIPassthru vmware.log)\n",
    );
  });

  test("an endless --vmware-log (/dev/zero) stops at the cap", async () => {
    const { code, err } = await cli("mmio", "--vmware-log", "/dev/zero");
    expect(code).toBe(2);
    expect(err).toContain("gpu-passthrough: /dev/zero is larger than 64 MiB");
  });

  test.each([
    ["99999999999999999999999", "is above 2^52 bytes (4 PiB, the most an x86-64 CPU addresses)"],
    ["0xffffffffffffffffffff", "is above 2^52 bytes (4 PiB, the most an x86-64 CPU addresses)"],
    ["9007199254740992", "is above 2^52 bytes (4 PiB, the most an x86-64 CPU addresses)"],
    ["0", "is 0"],
    ["12345", "is not a power of two (a PCI BAR's size always is)"],
  ])("BAR size %s is rejected with its line", async (size, why) => {
    const file = log(`bad-${size}.log`, ["0000:42:00.0 0 16777216", `0000:42:00.0 1 ${size}`]);
    const { code, out, err } = await cli("mmio", "--vmware-log", file);
    expect({ code, out }).toEqual({ code: 2, out: "" });
    expect(err).toBe(
      `gpu-passthrough: ${file} line 3: BAR1 size ${size} of 0000:42:00.0 ${why}: not a BAR size ESXi logs; ` +
        "give the VM's own vmware.log\n",
    );
  });

  test("the largest real BARs still pass: 128 GiB (A100 80GB, H100)", async () => {
    const file = log("h100.log", ["0000:42:00.0 0 16777216", "0000:42:00.0 1 137438953472", "0000:42:00.0 3 33554432"]);
    const { code, out } = await cli("mmio", "--vmware-log", file, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out).sizeGb).toBe(256);
  });

  test("more than 16 passthrough devices in one log are refused, naming vSphere's limit", async () => {
    const devices = Array.from({ length: 17 }, (_, i) => `0000:${(0x40 + i).toString(16)}:00.0 0 16777216`);
    const file = log("many.log", devices);
    const { code, err } = await cli("mmio", "--vmware-log", file);
    expect(code).toBe(2);
    expect(err).toBe(
      `gpu-passthrough: ${file} has 17 passthrough devices: a vSphere VM takes at most 16; give the vmware.log of ` +
        "one VM's power-on\n",
    );
  });
});

/** vmware.log line prefixes as ESXi 7 and ESXi 8 write them (Dell KB 000199172; a public ESXi 8 troubleshooting note). */
const ESXI7 = (time: string) => `2022-04-22T${time}Z| vmx| | I005: `;
const ESXI8 = (time: string) => `2023-07-21T${time}Z In(05) vmx - `;

function rawLog(name: string, lines: readonly string[]): string {
  const file = join(tmp, name);
  writeFileSync(file, [...lines, ""].join("\n"));
  return file;
}

describe("mmio --vmware-log: ESXi's power-on failure line", () => {
  const h100Esxi8 = () =>
    rawLog("esxi8-h100.log", [
      `${ESXI8("09:40:50.001")}Log for VMware ESX pid=2100521 version=8.0.1 build=build-21495797 option=Release`,
      `${ESXI8("09:40:52.101")}PCIPassthru: Device 0000:af:00.0 barIndex 0 type 3 realaddr 0x2a0fe000000 size 16777216 flags 12`,
      `${ESXI8("09:40:52.101")}PCIPassthru: Device 0000:af:00.0 barIndex 2 type 3 realaddr 0x28000000000 size 137438953472 flags 12`,
      `${ESXI8("09:40:52.101")}PCIPassthru: Device 0000:af:00.0 barIndex 4 type 3 realaddr 0x2a0fc000000 size 33554432 flags 12`,
      `${ESXI8("09:40:52.413")}PCIPassthru: total number of pages needed (33566722) exceeds limit (917504), failing`,
      `${ESXI8("09:40:52.413")}Module 'DevicePowerOn' power on failed.`,
    ]);

  test("ESXi 8 (In(05) vmx -): the BARs and the failure line agree on 256 GB for one H100", async () => {
    const { code, out } = await cli("mmio", "--vmware-log", h100Esxi8(), "--json");
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toMatchObject({ sizeGb: 256, totalMib: 131120, rule: "bar-sum" });
    expect(json.pagesNeeded).toEqual({
      line: 5,
      neededPages: 33566722,
      limitPages: 917504,
      neededMib: 131121,
      windowGb: 256,
    });
    const text = (await cli("mmio", "--vmware-log", h100Esxi8())).out;
    expect(text).toContain(
      "ESXi refused power-on (line 5): the devices need 33566722 pages of 4 KiB (128.05 GiB), over the limit of " +
        "917504 (3.50 GiB); the window that holds them is 256 GB (GiB rounded up to a power of two).",
    );
    expect(text).toMatch(/^0000:af:00\.0 +128\.05 GiB +BAR0 16M, BAR2 128G, BAR4 32M$/m);
    expect(text).toContain('pciPassthru.64bitMMIOSizeGB = "256"');
  });

  test.each([
    ["ESXi 7", ESXI7("03:04:15.771"), 4206594, 32, "16.05 GiB"],
    ["ESXi 8", ESXI8("09:40:52.413"), 33566722, 256, "128.05 GiB"],
  ])("%s: a log with only the failure line gives the window from the pages", async (_, prefix, pages, gb, mib) => {
    const file = rawLog(`pages-${gb}.log`, [
      `${prefix}PCIPassthru: total number of pages needed (${pages}) exceeds limit (917504), failing`,
      `${prefix}Module 'DevicePowerOn' power on failed.`,
    ]);
    const { code, out } = await cli("mmio", "--vmware-log", file);
    expect(code).toBe(0);
    expect(out).toContain(`the devices need ${pages} pages of 4 KiB (${mib})`);
    expect(out).toContain(`64-bit MMIO window: ${gb} GB (from the pages ESXi needed; the log has no BAR lines).`);
    expect(out).toContain(`  pciPassthru.64bitMMIOSizeGB = "${gb}"`);
    const json = JSON.parse((await cli("mmio", "--vmware-log", file, "--json")).out);
    expect(json).toMatchObject({
      sizeGb: gb,
      rule: "esxi-pages",
      inputs: [],
      pagesNeeded: { neededPages: pages, windowGb: gb },
    });
  });

  test("the last failure line counts (the VM was powered on again after a change)", async () => {
    const file = rawLog("twice.log", [
      `${ESXI7("03:04:15.771")}PCIPassthru: total number of pages needed (4206594) exceeds limit (917504), failing`,
      `${ESXI7("03:09:02.118")}PCIPassthru: total number of pages needed (33566722) exceeds limit (8388608), failing`,
    ]);
    const json = JSON.parse((await cli("mmio", "--vmware-log", file, "--json")).out);
    expect(json.pagesNeeded).toMatchObject({ line: 2, limitPages: 8388608, windowGb: 256 });
  });

  test("a failure line with 0 pages is refused with its line", async () => {
    const file = rawLog("zero.log", [
      `${ESXI8("09:40:52.413")}PCIPassthru: total number of pages needed (0) exceeds limit (917504), failing`,
    ]);
    const { code, err } = await cli("mmio", "--vmware-log", file);
    expect(code).toBe(2);
    expect(err).toBe(
      `gpu-passthrough: ${file} line 1: 0 pages needed is not what a VM's devices map (none): give the VM's own vmware.log\n`,
    );
  });

  test("BAR lines are read whatever the release's prefix", async () => {
    const bar = "PCIPassthru: Device 0000:42:00.0 barIndex 1 type 3 realaddr 0x3b800000000 size 34359738368 flags 12";
    for (const prefix of [ESXI7("03:04:15.402"), ESXI8("09:40:52.101"), "2019-01-10T10:00:00.000Z| vmx| I125: "]) {
      const json = JSON.parse((await cli("mmio", "--vmware-log", rawLog("prefix.log", [prefix + bar]), "--json")).out);
      expect(json).toMatchObject({ totalMib: 32768, sizeGb: 32 });
    }
  });
});

describe("mmio: which rule governed, and board modes", () => {
  test("one V100 16GB: NVIDIA's figure governs, and the output says so", async () => {
    const { out } = await cli("mmio", "nvidia-v100-16gb");
    expect(out).toContain("64-bit MMIO window: 64 GB (the vendor's figure, larger than the BAR sum).");
    expect(out).toMatch(
      /^Rule: the vendor's figure governs: NVIDIA V100 PCIe 16GB needs 64 GB \(NVIDIA AI Enterprise/m,
    );
    expect(out).toContain('pciPassthru.64bitMMIOSizeGB = "64"');
    const json = JSON.parse((await cli("mmio", "nvidia-v100-16gb", "--json")).out);
    expect(json).toMatchObject({ sizeGb: 64, rule: "vendor-table" });
  });

  test("a workstation board: displayless by default, 256 MiB with --display-mode display-enabled", async () => {
    const { out } = await cli("mmio", "nvidia-rtx-a6000");
    expect(out).toContain("NVIDIA RTX A6000: displayless (the default: the larger BAR1;");
    expect(out).toContain('pciPassthru.64bitMMIOSizeGB = "128"');
    const shown = await cli("mmio", "nvidia-rtx-a6000", "--display-mode", "display-enabled");
    expect(shown.out).toContain("NVIDIA RTX A6000: displays enabled (Display Mode Selector): BAR1 256 MiB.");
    expect(shown.out).toContain("no 64-bit MMIO settings needed");
  });

  test("a consumer board with --resizable-bar maps its whole VRAM", async () => {
    expect(await sizeGb("nvidia-rtx-4090")).toBe(0);
    expect(await sizeGb("nvidia-rtx-4090", "--resizable-bar")).toBe(64);
    expect(await sizeGb("nvidia-rtx-5090:2", "--resizable-bar")).toBe(128);
  });

  test.each([
    [
      ["nvidia-rtx-a6000", "--display-mode", "hdmi"],
      '--display-mode "hdmi" is not a display mode: write displayless or display-enabled',
    ],
    [
      ["nvidia-a30", "--display-mode", "displayless"],
      '"nvidia-a30": --display-mode is set but NVIDIA A30 has no display modes',
    ],
    [
      ["nvidia-rtx-2080-ti", "--resizable-bar"],
      '"nvidia-rtx-2080-ti": --resizable-bar is set but the catalog has no Resizable BAR layout',
    ],
    [["--vmware-log", vmwareLog, "--resizable-bar"], "--display-mode and --resizable-bar describe catalog models"],
  ])("%j exits 2 with one line", async (args, message) => {
    const { code, out, err } = await cli("mmio", ...args);
    expect({ code, out }).toEqual({ code: 2, out: "" });
    expect(err).toContain(message);
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});

test("mmio --vmware-log: ESXi's page count wins over BAR lines that add up to less", async () => {
  const file = rawLog("partial.log", [
    `${ESXI7("03:04:15.402")}PCIPassthru: Device 0000:09:00.0 barIndex 0 type 2 realaddr 0xfa000000 size 16777216 flags 0`,
    `${ESXI7("03:04:15.771")}PCIPassthru: total number of pages needed (4206594) exceeds limit (917504), failing`,
  ]);
  const json = JSON.parse((await cli("mmio", "--vmware-log", file, "--json")).out);
  expect(json).toMatchObject({ needs64BitMmio: true, sizeGb: 32, totalMib: 16, rule: "esxi-pages" });
  expect(json.ruleWhy).toMatch(
    /the window that holds them is 32 GB \(GiB rounded up to a power of two\): more than the BAR lines give/,
  );
  expect(json.extraConfig).toEqual({ "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "32" });
  const { out } = await cli("mmio", "--vmware-log", file);
  expect(out).toContain("64-bit MMIO window: 32 GB (from the pages ESXi needed, more than the BAR lines give).");
});
