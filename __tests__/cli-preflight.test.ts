/**
 * `gpu-passthrough preflight` as users run it: the table, --json, exit codes (0 ready, 1 blockers, 2 usage or
 * unreadable input), one-line errors, --help on every command, and a run on this machine's real /sys.
 */
import * as fs from "fs";
import { spawnSync } from "child_process";
import { join } from "path";
import { cli } from "./fixtures/run-cli";
import { amdDesktop, intelDesktop, removeFleet, removeHost, writeFleet, writeHost } from "./fixtures/hosts";

const intel = writeHost(intelDesktop());
const intelVfio = writeHost(intelDesktop({ geforceDriver: "vfio-pci" }));
const iommuOff = writeHost(intelDesktop({ iommu: false }));
const amd = writeHost(amdDesktop());
const fleet = writeFleet();
const brokenFleet = writeFleet("sites: [}\n");
afterAll(() => {
  [intel, intelVfio, iommuOff, amd].forEach(removeHost);
  [fleet, brokenFleet].forEach(removeFleet);
});

describe("preflight", () => {
  test("a ready host exits 0 and the table shows groups, GPUs and the verdict", async () => {
    const { code, out, err } = await cli("preflight", "--root", intelVfio, "--fleet", fleet, "--host", "kvm-desk-01");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toContain("CPU    12th Gen Intel(R) Core(TM) i7-12700K: Intel VT-x (vmx)");
    expect(out).toContain("IOMMU  active: 2 unit(s) (dmar0, dmar1), 9 groups");
    expect(out).toMatch(/^1 +0000:00:01\.0 +PCI bridge +8086:460d +pcieport/m);
    expect(out).toMatch(/^ +0000:01:00\.0 +VGA controller +10de:2204 +vfio-pci +no +bus +16M 256M 32M$/m);
    expect(out).toMatch(/^0000:01:00\.0 +NVIDIA GeForce RTX 3090 +\.0 \.1 +1 +isolated +vfio-pci +no +304 MiB$/m);
    expect(out).toContain('Fleet  checked against host "kvm-desk-01"');
    expect(out.trimEnd().split("\n").pop()).toBe("Ready: 0 blocker(s), 0 warning(s), 0 info.");
  });

  test("blockers exit 1 and each is printed with its fix", async () => {
    const { code, out } = await cli("preflight", "--root", intel, "--fleet", fleet, "--host", "kvm-desk-01");
    expect(code).toBe(1);
    expect(out).toContain("BLOCKER  GPU 0000:01:00.0: NVIDIA GeForce RTX 3090 is held by host drivers");
    expect(out).toMatch(/^ {9}fix: at every boot: add "softdep nvidia pre: vfio-pci"/m);
    expect(out).toContain("  kernel command line: vfio-pci.ids=10de:2204,10de:1aef");
    expect(out.trimEnd().split("\n").pop()).toBe("NOT READY for GPU passthrough: 1 blocker(s), 0 warning(s), 0 info.");
  });

  test("--json prints the report for machines", async () => {
    const { code, out } = await cli("preflight", "--root", amd, "--fleet", fleet, "--host", "kvm-ryzen-01", "--json");
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(Object.keys(report)).toEqual([
      "root",
      "fleetHost",
      "ready",
      "summary",
      "host",
      "groups",
      "devices",
      "gpus",
      "hostPrep",
      "findings",
    ]);
    expect(report).toMatchObject({
      root: amd,
      fleetHost: "kvm-ryzen-01",
      ready: false,
      summary: { blockers: 2, warnings: 1, info: 0 },
      host: {
        hostname: "kvm-ryzen-01",
        cpu: { vendor: "amd", virtualization: "svm" },
        iommu: { active: true, units: ["ivhd0"], groupCount: 10 },
      },
      hostPrep: { kernelArgs: ["vfio-pci.ids=1002:731f,1002:ab38"] },
    });
    expect(report.findings.map((f: { severity: string; code: string }) => `${f.severity} ${f.code}`)).toEqual([
      "blocker gpu-not-isolated",
      "blocker gpu-driver",
      "warning reset-bug",
    ]);
    expect(Object.keys(report.findings[0])).toEqual(["subject", "severity", "code", "message", "fix"]);
    const group4 = report.groups.find((g: { id: number }) => g.id === 4);
    expect(group4.devices.find((d: { address: string }) => d.address === "0000:06:00.0")).toEqual({
      address: "0000:06:00.0",
      class: "VGA controller",
      classCode: "030000",
      vendorId: "1002",
      deviceId: "731f",
      driver: "amdgpu",
      driverUnreadable: false,
      bootVga: false,
      resetMethods: ["bus"],
      bars: [
        { index: 0, sizeBytes: 268435456, prefetchable: true, is64: true, assigned: true },
        { index: 2, sizeBytes: 2097152, prefetchable: true, is64: true, assigned: true },
        { index: 5, sizeBytes: 524288, prefetchable: false, is64: false, assigned: true },
      ],
      iommuGroup: 4,
    });
  });

  test("with IOMMU off it says so plainly and exits 1", async () => {
    const { code, out } = await cli("preflight", "--root", iommuOff);
    expect(code).toBe(1);
    expect(out).toContain("IOMMU  NOT ACTIVE: no IOMMU units, no IOMMU groups");
    expect(out).toContain("PCI devices (no IOMMU groups)");
    expect(out).toContain("BLOCKER  IOMMU: no IOMMU is active");
  });

  test("without --host, the fleet entry named like the machine is used", async () => {
    const { code, out } = await cli("preflight", "--root", intelVfio, "--fleet", fleet);
    expect(code).toBe(0);
    expect(out).toContain('checked against host "kvm-desk-01"');
  });

  test.each([
    [["preflight", "--root", "/nonexistent-root"], "gpu-passthrough: /nonexistent-root is not a directory"],
    [["preflight", "--root", __dirname], `gpu-passthrough: ${__dirname}/sys/bus/pci/devices does not exist`],
    [["preflight", "--host", "x"], "gpu-passthrough: --host names an entry of the fleet file: give --fleet FILE too"],
    [["preflight", "--bogus"], "gpu-passthrough: error: unknown option '--bogus'"],
    [["bogus"], "gpu-passthrough: error: unknown command 'bogus'"],
  ])("usage errors and unreadable input exit 2 with a one-line message: %j", async (args, message) => {
    const { code, err } = await cli(...args);
    expect(code).toBe(2);
    expect(err.split("\n")[0]).toContain(message);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("an unknown fleet host or a broken fleet file exits 2 and names the problem", async () => {
    const unknown = await cli("preflight", "--root", intel, "--fleet", fleet, "--host", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('has no host named "nope"; its hosts: kvm-desk-01, kvm-ryzen-01, kvm-gpu-01');
    const broken = await cli("preflight", "--root", intel, "--fleet", brokenFleet);
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(/^gpu-passthrough: .*fleet.yaml has problems/);
  });

  test("reads only: nothing is written, created or removed under the root", async () => {
    const spies = ["writeFileSync", "appendFileSync", "mkdirSync", "rmSync", "unlinkSync", "chmodSync"].map((name) =>
      jest.spyOn(fs, name as "writeFileSync"),
    );
    // Preflight opens files itself (to bound its reads): only ever read-only.
    const opens = jest.spyOn(fs, "openSync");
    const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
    const writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
    const readOnly = (flags: unknown) =>
      flags === undefined || flags === "r" || (typeof flags === "number" && (flags & writing) === 0);
    try {
      await cli("preflight", "--root", intel, "--fleet", fleet, "--host", "kvm-desk-01", "--json");
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      expect(opens).toHaveBeenCalled();
      expect(opens.mock.calls.filter(([, flags]) => !readOnly(flags))).toEqual([]);
    } finally {
      [...spies, opens].forEach((s) => s.mockRestore());
    }
  });
});

describe("--help", () => {
  test.each([[[]], [["preflight"]], [["discover"]], [["mmio"]]])("gpu-passthrough %j --help exits 0", async (cmd) => {
    const { code, out } = await cli(...cmd, "--help");
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: gpu-passthrough/);
  });

  test("the program lists its three commands", async () => {
    const { out } = await cli("--help");
    expect(out).toMatch(/preflight \[options\] +check a Linux KVM host/);
    expect(out).toMatch(/discover \[options\] +print this host's GPUs as a fleet-file host entry/);
    expect(out).toMatch(/mmio \[options\] \[gpus\.\.\.\] +compute a VM's 64-bit MMIO window/);
  });

  test("no command prints the help and exits 2", async () => {
    const { code, err } = await cli();
    expect(code).toBe(2);
    expect(err).toContain("Usage: gpu-passthrough");
  });
});

describe("on this machine's real /proc and /sys", () => {
  test("preflight does not crash and says what is missing", async () => {
    const { code, out, err } = await cli("preflight");
    expect(err).toBe("");
    expect([0, 1]).toContain(code);
    const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    if (!entries("/sys/kernel/iommu_groups").length && !entries("/sys/class/iommu").length) {
      expect(code).toBe(1);
      expect(out).toContain("IOMMU  NOT ACTIVE");
      expect(out).toContain("BLOCKER  IOMMU: no IOMMU is active");
    }
  });

  test("--json parses", async () => {
    const { out } = await cli("preflight", "--json");
    expect(JSON.parse(out).root).toBe("/");
  });
});

describe("the built command (dist/lib/cli/main.js)", () => {
  const mainJs = join(__dirname, "..", "dist", "lib", "cli", "main.js");

  test("starts with a node shebang and runs with the documented exit codes", () => {
    if (!fs.existsSync(mainJs)) throw new Error("dist/lib/cli/main.js is missing: run `npm run build` (npm test does)");
    expect(fs.readFileSync(mainJs, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    const ok = spawnSync(process.execPath, [mainJs, "preflight", "--root", intelVfio], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    const blocked = spawnSync(process.execPath, [mainJs, "preflight", "--root", iommuOff], { encoding: "utf8" });
    expect(blocked.status).toBe(1);
    const usage = spawnSync(process.execPath, [mainJs, "preflight", "--root", "/nonexistent-root"], {
      encoding: "utf8",
    });
    expect(usage.status).toBe(2);
    expect(usage.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("a reader that stops early (`| head -1`) ends the command quietly, with its exit code", () => {
    // A shell pipeline as users write it; the catalog as JSON (80 KB) is longer than a pipe holds (64 KB).
    const r = spawnSync(
      "bash",
      ["-c", `"${process.execPath}" "${mainJs}" catalog --json | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("0");
    // Negative control: the same pipeline without the handler prints Node's EPIPE trace.
    const raw = spawnSync(
      "sh",
      [
        "-c",
        `"${process.execPath}" -e 'for (let i = 0; i < 1e5; i++) process.stdout.write("row " + i + "\\n")' | head -1 >/dev/null`,
      ],
      { encoding: "utf8" },
    );
    expect(raw.stderr).toContain("EPIPE");
  });
});
