/** The parsers preflight builds on: sysfs `resource`, PCI classes, vmware.log BAR lines, host preparation text. */
import { readFileSync } from "fs";
import { join } from "path";
import { currentVfioIds, hostPrep, rebindCommands, vfioPciIds } from "../lib/preflight/host-prep";
import { buildInventory } from "../lib/preflight/inventory";
import { className, isBridge, isDisplay, parseClass } from "../lib/preflight/pci-class";
import { parseResource } from "../lib/preflight/sysfs";
import { parseVmwareLog } from "../lib/preflight/vmware-log";

const line = (start: string, end: string, flags: string) => `0x${start} 0x${end} 0x${flags}`;
const EMPTY = line("0".repeat(16), "0".repeat(16), "0".repeat(16));

describe("sysfs resource", () => {
  // An RTX 3090 as the kernel prints it: BAR0 32-bit, BAR1/BAR3 64-bit prefetchable (each takes two lines), BAR5 I/O,
  // then the ROM and six empty SR-IOV lines.
  const rtx3090 = [
    line("00000000a0000000", "00000000a0ffffff", "0000000000040200"),
    line("0000004010000000", "000000401fffffff", "000000000014220c"),
    EMPTY,
    line("0000004020000000", "0000004021ffffff", "000000000014220c"),
    EMPTY,
    line("0000000000003000", "000000000000307f", "0000000000040101"),
    line("00000000a1000000", "00000000a107ffff", "0000000000046200"),
    ...Array(6).fill(EMPTY),
  ].join("\n");

  test("gives the memory BARs with size end - start + 1, skipping I/O, the ROM and empty lines", () => {
    expect(parseResource(rtx3090)).toEqual([
      { index: 0, sizeBytes: 16 * 2 ** 20, prefetchable: false, is64: false, assigned: true },
      { index: 1, sizeBytes: 256 * 2 ** 20, prefetchable: true, is64: true, assigned: true },
      { index: 3, sizeBytes: 32 * 2 ** 20, prefetchable: true, is64: true, assigned: true },
    ]);
  });

  test("a BAR the firmware could not place (start 0, end size-1) is kept, marked unassigned", () => {
    const bars = parseResource(line("0000000000000000", "0000001fffffffff", "000000002014220c"));
    expect(bars).toEqual([{ index: 0, sizeBytes: 128 * 2 ** 30, prefetchable: true, is64: true, assigned: false }]);
  });

  test("a malformed line is an error naming the line", () => {
    expect(() => parseResource(`${EMPTY}\n0x00000000a0000000 0x00000000a0ffffff\n`)).toThrow(
      /line 2 is not "start end flags" in hex/,
    );
    expect(() => parseResource(line("00000000a0000000", "0000000000000fff", "0000000000040200"))).toThrow(
      /end .* is below start/,
    );
  });
});

describe("PCI classes", () => {
  test.each([
    ["0x030000", "VGA controller", true, false],
    ["0x030200", "3D controller", true, false],
    ["0x040300", "audio device", false, false],
    ["0x060400", "PCI bridge", false, true],
    ["0x060000", "host bridge", false, true],
    ["0x060100", "ISA bridge", false, false],
    ["0x0c0330", "USB controller", false, false],
    ["0x0c8000", "serial bus controller", false, false],
    ["0xffff00", "class 0xffff00", false, false],
  ])("%s: %s", (text, name, display, bridge) => {
    const code = parseClass(text);
    expect(className(code)).toBe(name);
    expect(isDisplay(code)).toBe(display);
    expect(isBridge(code)).toBe(bridge);
  });

  test("text that is not a class code is rejected", () => {
    expect(parseClass("0x03")).toBeUndefined();
    expect(parseClass("VGA")).toBeUndefined();
  });
});

describe("vmware.log", () => {
  test("sums the size entries of each passthrough device (seed 001: just over 16 GB for 0000:09:00.0)", () => {
    const devices = parseVmwareLog(readFileSync(join(__dirname, "fixtures", "vmware.log"), "utf8"));
    expect(devices).toEqual([
      {
        address: "0000:09:00.0",
        bars: [
          { index: 0, sizeBytes: 16777216 },
          { index: 1, sizeBytes: 17179869184 },
          { index: 3, sizeBytes: 33554432 },
        ],
        totalBytes: 17230200832,
      },
    ]);
  });

  test("reads the ESXi 8 line prefix too, and counts a BAR logged twice once", () => {
    const log = [
      "2024-02-06T10:14:51.201Z In(05) vmx - PCIPassthru: Device 0000:42:00.0 barIndex 0 type 2 realaddr 0xd4000000 size 16777216 flags 0",
      "2024-02-06T10:14:51.201Z In(05) vmx - PCIPassthru: Device 0000:42:00.0 barIndex 0 type 2 realaddr 0xd4000000 size 16777216 flags 0",
      "2024-02-06T10:14:51.202Z In(05) vmx - PCIPassthru: Device 0000:42:00.1 barIndex 0 type 2 realaddr 0xd5080000 size 16384 flags 0",
    ].join("\n");
    expect(parseVmwareLog(log).map((d) => [d.address, d.totalBytes])).toEqual([
      ["0000:42:00.0", 16777216],
      ["0000:42:00.1", 16384],
    ]);
  });

  test("a log without BAR lines gives no devices", () => {
    expect(parseVmwareLog("2022-04-22T03:04:12.106Z| vmx| | I005: Log for VMware ESX\n")).toEqual([]);
  });
});

describe("host preparation", () => {
  test("vfio-pci ids are the functions' vendor:device pairs, once each", () => {
    expect(
      vfioPciIds([
        { vendorId: "10de", deviceId: "2204" },
        { vendorId: "10de", deviceId: "1aef" },
        { vendorId: "10de", deviceId: "2204" },
      ]),
    ).toEqual(["10de:2204", "10de:1aef"]);
    expect(currentVfioIds(["quiet", "vfio-pci.ids=10de:2204,10DE:1aef", "vfio_pci.ids=1002:731f"])).toEqual([
      "10de:2204",
      "10de:1aef",
      "1002:731f",
    ]);
  });

  test("rebinding unbinds from the current driver only when there is one", () => {
    expect(
      rebindCommands([
        { address: "0000:01:00.0", driver: "nvidia" },
        { address: "0000:01:00.1", driver: undefined },
      ]),
    ).toEqual([
      "modprobe vfio-pci",
      "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind",
      "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override",
      "echo 0000:01:00.0 > /sys/bus/pci/drivers_probe",
      "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override",
      "echo 0000:01:00.1 > /sys/bus/pci/drivers_probe",
    ]);
  });

  test("two identical cards, one kept by the host: bind the guest's by address, not by vfio-pci.ids", () => {
    const gpu = (address: string, driver: string) => ({
      address,
      classCode: "030000",
      vendorId: "10de",
      deviceId: "2204",
      driver,
      bars: [],
    });
    const inv = buildInventory({
      root: "/",
      cpu: { vendorId: "GenuineIntel", flags: ["vmx"] },
      cmdline: "intel_iommu=on iommu=pt",
      iommuUnits: ["dmar0"],
      iommuGroups: [
        { id: 1, devices: ["0000:01:00.0"] },
        { id: 2, devices: ["0000:02:00.0"] },
      ],
      devices: [gpu("0000:01:00.0", "nvidia"), gpu("0000:02:00.0", "nvidia")],
      pciDrivers: ["nvidia"],
      driverModules: { nvidia: "nvidia" },
      modules: { vendorReset: false },
      numaNodes: [],
      threadSiblings: new Map(),
      hugepages: {},
      hugetlbfsMounts: [],
      interruptRemapping: {},
      problems: [],
    });
    const prep = hostPrep(inv, inv.gpus[1].functions);
    expect(prep.kernelArgs).toEqual([]);
    expect(prep.driverOverrides).toEqual(["0000:02:00.0"]);
    expect(prep.modprobe).toEqual(["softdep nvidia pre: vfio-pci"]);
  });
});
