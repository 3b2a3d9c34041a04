/**
 * Preflight on host trees built to hurt it: control characters and overlong values in sysfs and procfs text, driver
 * and IOMMU group links that loop, dangle or point elsewhere, and files too large (or endless) to read whole.
 */
import { spawnSync } from "child_process";
import { mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "fs";
import { join } from "path";
import { readInventory } from "../lib/preflight/inventory";
import { preflightReport } from "../lib/preflight/report";
import { sanitizeText } from "../lib/preflight/sysfs";
import { intelDesktop, removeHost, writeHost } from "./fixtures/hosts";
import { cli } from "./fixtures/run-cli";

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach(removeHost));

/** The Intel desktop (GeForce at 0000:01:00.0 in group 1, nvidia driver), to be damaged by the test. */
function host(): { root: string; gpuDir: string } {
  const root = writeHost(intelDesktop());
  roots.push(root);
  return { root, gpuDir: join(root, "sys/devices/pci0000:00/0000:01:00.0") };
}

function relink(path: string, target: string): void {
  rmSync(path, { force: true });
  symlinkSync(target, path);
}

function problems(root: string): Record<string, string> {
  const inv = readInventory(root);
  return Object.fromEntries(inv.readProblems.map((p) => [p.path.slice(root.length + 1), p.message]));
}

/** Whether the text holds a C0 control (but the newline), DEL or a C1 control: what a terminal would act on. */
function hasControl(text: string): boolean {
  return [...text].some((c) => {
    const code = c.codePointAt(0) ?? 0;
    return (code < 0x20 && c !== "\n") || (code >= 0x7f && code <= 0x9f);
  });
}

describe("text from sysfs and procfs is sanitized before it is shown", () => {
  test("sanitizeText escapes C0, DEL, C1 and bidi controls and cuts long values with an ellipsis", () => {
    expect(sanitizeText("a\x1b[31mb\x07c\x7fd\u009be\tf\ng")).toBe("a\\x1b[31mb\\x07c\\x7fd\\x9be\\tf\\ng");
    expect(sanitizeText("abc\u202edef")).toBe("abc\\u202edef");
    expect(sanitizeText("x".repeat(300), 20)).toBe(`${"x".repeat(19)}…`);
    // An escape is never cut in half by the limit.
    expect(sanitizeText(`${"x".repeat(17)}\x1b`, 20)).toBe(`${"x".repeat(17)}…`);
    expect(sanitizeText("initrd=\\amd-ucode.img")).toBe("initrd=\\amd-ucode.img");
  });

  test("hostname, CPU model, cmdline and driver names reach the table and the JSON escaped", async () => {
    const { root, gpuDir } = host();
    writeFileSync(join(root, "proc/sys/kernel/hostname"), "evil\x1b[2J\x07host\n");
    writeFileSync(join(root, "proc/sys/kernel/osrelease"), `6.8.0-${"9".repeat(5000)}\n`);
    writeFileSync(
      join(root, "proc/cpuinfo"),
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\x1b]0;owned\x07 \u009b31m\nflags\t\t: vmx\n",
    );
    writeFileSync(join(root, "proc/cmdline"), "ro quiet\x1b[8m intel_iommu=on iommu=pt\n");
    const evilDriver = "nv\x1b[31mdia";
    mkdirSync(join(root, "sys/bus/pci/drivers", evilDriver));
    relink(join(gpuDir, "driver"), `../../../bus/pci/drivers/${evilDriver}`);

    const table = await cli("preflight", "--root", root);
    expect(table.err).toBe("");
    expect(hasControl(table.out)).toBe(false);
    expect(table.out).toContain("Host   evil\\x1b[2J\\x07host, root");
    expect(table.out).toContain("CPU    Xeon\\x1b]0;owned\\x07 \\x9b31m: Intel VT-x (vmx)");
    expect(table.out).toContain("Kernel ro quiet\\x1b[8m intel_iommu=on iommu=pt");
    expect(table.out).toMatch(/^ +0000:01:00\.0 +VGA controller +10de:2204 +nv\\x1b\[31mdia /m);

    const json = JSON.parse((await cli("preflight", "--root", root, "--json")).out);
    expect(JSON.stringify(json)).not.toMatch(/\\u00[01][0-9a-f]|\\u007f|[\x7f-\x9f]/);
    expect(json.host.hostname).toBe("evil\\x1b[2J\\x07host");
    expect(json.host.kernelRelease).toHaveLength(256);
    expect(json.host.kernelRelease).toMatch(/^6\.8\.0-9+…$/);
    expect(json.devices.find((d: { address: string }) => d.address === "0000:01:00.0").driver).toBe("nv\\x1b[31mdia");
  });

  test("a device directory with control characters in its name is shown escaped, and its files still read", () => {
    const { root } = host();
    const odd = "0000:0\x1b:00.0";
    mkdirSync(join(root, "sys/devices/pci0000:00", odd));
    writeFileSync(join(root, "sys/devices/pci0000:00", odd, "class"), "0x020000\n");
    symlinkSync(`../../../devices/pci0000:00/${odd}`, join(root, "sys/bus/pci/devices", odd));
    const inv = readInventory(root);
    const device = inv.devices.find((d) => d.address.includes("\\x1b"));
    expect(device).toMatchObject({ address: "0000:0\\x1b:00.0", classCode: "020000" });
    // Its missing vendor file is reported under a path that is escaped too.
    expect(inv.readProblems.map((p) => p.path)).toContain(join(root, "sys/bus/pci/devices/0000:0\\x1b:00.0/vendor"));
    expect(inv.readProblems.filter((p) => hasControl(p.path + p.message))).toEqual([]);
  });
});

describe("driver and IOMMU group links that do not resolve give no name", () => {
  const driverPath = "sys/bus/pci/devices/0000:01:00.0/driver";

  test.each([
    ["loops", "driver", /^unreadable: the link loops \(driver -> driver\); the bound driver is unknown$/],
    [
      "dangles",
      "../../../bus/pci/drivers/ghost",
      /^unreadable: the link dangles \(driver -> \.\.\/\.\.\/\.\.\/bus\/pci\/drivers\/ghost\); the bound driver is unknown$/,
    ],
    [
      "points outside bus/pci/drivers",
      "../../../class/iommu/dmar0",
      /^unreadable: the link points to .*\/sys\/class\/iommu\/dmar0, not into .*\/sys\/bus\/pci\/drivers\/; the bound driver is unknown$/,
    ],
  ])("a driver link that %s is reported with its path, and the driver is unknown", async (_what, target, message) => {
    const { root, gpuDir } = host();
    relink(join(gpuDir, "driver"), target);
    expect(problems(root)[driverPath]).toMatch(message);

    const inv = readInventory(root);
    const gpu = inv.devices.find((d) => d.address === "0000:01:00.0");
    expect(gpu).toMatchObject({ driverUnreadable: true });
    expect(gpu?.driver).toBeUndefined();

    const { out } = await cli("preflight", "--root", root);
    expect(out).toMatch(/^ +0000:01:00\.0 +VGA controller +10de:2204 +\? +no /m);
    expect(out).toContain(`WARNING  ${join(root, driverPath)}: unreadable: the link`);
    expect(out).not.toMatch(/ (driver|ghost|dmar0) +no /);
  });

  test("a driver that is not a link (a copy that followed links) is reported, not named", () => {
    const { root, gpuDir } = host();
    rmSync(join(gpuDir, "driver"));
    mkdirSync(join(gpuDir, "driver"));
    expect(problems(root)[driverPath]).toBe(
      "unreadable: not a symbolic link (copy the tree keeping links, e.g. with tar or cp -a); the bound driver is unknown",
    );
  });

  test("an iommu_group link outside /sys/kernel/iommu_groups does not invent a group", () => {
    const { root, gpuDir } = host();
    mkdirSync(join(root, "elsewhere/99"), { recursive: true });
    relink(join(gpuDir, "iommu_group"), "../../../../elsewhere/99");
    const inv = readInventory(root);
    // The group comes from /sys/kernel/iommu_groups/1/devices instead.
    expect(inv.devices.find((d) => d.address === "0000:01:00.0")?.iommuGroup).toBe(1);
    expect(problems(root)["sys/bus/pci/devices/0000:01:00.0/iommu_group"]).toMatch(
      /^unreadable: the link points to .*\/elsewhere\/99, not into .*\/sys\/kernel\/iommu_groups\/; the IOMMU group is unknown$/,
    );
  });

  test("a looping iommu_group link is reported", () => {
    const { root, gpuDir } = host();
    relink(join(gpuDir, "iommu_group"), "iommu_group");
    expect(problems(root)["sys/bus/pci/devices/0000:01:00.0/iommu_group"]).toBe(
      "unreadable: the link loops (iommu_group -> iommu_group); the IOMMU group is unknown",
    );
  });

  test("a driver's module link that loops gives no module for modprobe lines", () => {
    const { root } = host();
    relink(join(root, "sys/bus/pci/drivers/nvidia/module"), "module");
    const inv = readInventory(root);
    expect(inv.driverModules.nvidia).toBeUndefined();
    expect(problems(root)["sys/bus/pci/drivers/nvidia/module"]).toBe(
      "unreadable: the link loops (module -> module); the driver's kernel module is unknown",
    );
  });
});

describe("every read is bounded", () => {
  test("a 2 GiB cpuinfo is read only until its fields are found", () => {
    const { root } = host();
    const cpuinfo = join(root, "proc/cpuinfo");
    writeFileSync(cpuinfo, "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: EPYC\nflags\t\t: fpu svm\n\n");
    truncateSync(cpuinfo, 2 ** 31); // sparse: no disk space used
    const started = Date.now();
    const inv = readInventory(root);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(inv.cpu).toMatchObject({ vendor: "amd", modelName: "EPYC", virtualization: "svm" });
    expect(problems(root)["proc/cpuinfo"]).toBeUndefined();
  });

  test("a cpuinfo without the fields is read up to a cap, and the cap is reported", () => {
    const { root } = host();
    const cpuinfo = join(root, "proc/cpuinfo");
    writeFileSync(cpuinfo, "");
    truncateSync(cpuinfo, 2 ** 31);
    const started = Date.now();
    expect(problems(root)["proc/cpuinfo"]).toBe(
      "no vendor_id, model name or flags line in its first 4 MiB: read no further (a real one has them in its first lines)",
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("an endless file (cpuinfo linked to /dev/zero) is refused, not read", () => {
    const { root } = host();
    relink(join(root, "proc/cpuinfo"), "/dev/zero");
    expect(problems(root)["proc/cpuinfo"]).toBe(
      "unreadable: not a regular file (a device, pipe or socket): a copy of /proc and /sys holds regular files",
    );
  });

  test("a named pipe does not hang preflight", () => {
    const { root } = host();
    const hostname = join(root, "proc/sys/kernel/hostname");
    rmSync(hostname);
    expect(spawnSync("mkfifo", [hostname]).status).toBe(0);
    expect(problems(root)["proc/sys/kernel/hostname"]).toMatch(/^unreadable: not a regular file/);
  });

  test("a sysfs attribute over 64 KiB is refused", () => {
    const { root, gpuDir } = host();
    writeFileSync(join(gpuDir, "class"), "0x030000\n".repeat(100_000));
    expect(problems(root)["sys/bus/pci/devices/0000:01:00.0/class"]).toBe(
      "unreadable: larger than 64 KiB: a sysfs or procfs value is a few bytes to a few KiB",
    );
    // The device is still listed, with its class unknown.
    const report = preflightReport(readInventory(root));
    expect(report.devices.find((d) => d.address === "0000:01:00.0")?.class).toBe("unknown class");
  });
});
