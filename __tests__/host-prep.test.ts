/**
 * The one host-preparation planner (lib/host-prep): Proxmox VE nodes, whichever boot loader they use, and the same
 * kernel arguments whether preflight reads a host or a backend plans it.
 */
import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { Testing } from "cdktf";
import { hostPrepPlan } from "../lib/backends/libvirt/host-prep";
import { HostGpuProps } from "../lib/host";
import { CpuVendor } from "../lib/host-prep/cpu";
import { LinuxDistro, kernelArgCommands } from "../lib/host-prep/distro";
import { GuestHostNeeds } from "../lib/host-prep/hugepages";
import { planHostPreparation } from "../lib/host-prep/plan";
import { preparationScript, preparationSteps } from "../lib/host-prep/script";
import { PciAddress } from "../lib/pci/address";
import { hostPrep } from "../lib/preflight/host-prep";
import { buildInventory } from "../lib/preflight/inventory";
import { RawPciDevice } from "../lib/preflight/sysfs";
import { resolveGpuModel } from "../lib/gpu/resolve";
import { GpuModel } from "../lib/gpu/model";
import { newKvmHost, newKvmStack } from "./libvirt-helpers";
import { tempDir } from "./temp";

function plannedGpu(address: string, modelId: string) {
  const model = resolveGpuModel(modelId) as GpuModel;
  const fn0 = PciAddress.parse(address);
  return { label: address, model, functions: [fn0, ...model.functions.map((f) => fn0.withFunction(f.fn))] };
}

const proxmoxPlan = () =>
  planHostPreparation({
    host: "pve-01",
    cpuVendor: "amd",
    distro: "proxmox",
    assigned: [{ gpu: plannedGpu("0000:0b:00.0", "nvidia-rtx-3080"), vm: "gaming" }],
    kept: [],
  });

describe("Proxmox VE nodes", () => {
  test("the script is valid sh, sets kernel arguments through proxmox-boot-tool or GRUB, and rebuilds the initramfs", () => {
    const plan = proxmoxPlan();
    expect(plan.kernelArgs).toEqual([
      "amd_iommu=on",
      "iommu=pt",
      "vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef",
    ]);
    expect(plan.initramfs).toMatchObject({ tool: "initramfs-tools", rebuild: "update-initramfs -u -k all" });
    expect(plan.kernelArgCommands[plan.kernelArgCommands.length - 1]).toBe(
      "if proxmox-boot-tool status --quiet >/dev/null 2>&1; then proxmox-boot-tool refresh; else update-grub; fi",
    );
    expect(plan.notes.join(" ")).toContain("systemd-boot (/etc/kernel/cmdline)");

    const script = preparationScript(plan);
    const file = join(tempDir("gpt-pve-"), "prepare-host.sh");
    writeFileSync(file, script);
    const syntax = spawnSync("sh", ["-n", file], { encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
    expect(script).toContain("proxmox-boot-tool refresh");
    expect(script).toContain("\nupdate-initramfs -u -k all\n");
    expect(preparationSteps(plan).filter((s) => s.command?.includes("proxmox-boot-tool"))).toHaveLength(1);
  });

  /** Runs the kernel argument commands twice on a scratch /etc, with stand-ins for the boot tools that log calls. */
  function applyTwice(files: Record<string, string>, managedByProxmoxBootTool: boolean) {
    const root = tempDir("gpt-pve-etc-");
    const bin = join(root, "bin");
    mkdirSync(bin);
    const log = join(root, "calls");
    const tool = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    tool(
      "proxmox-boot-tool",
      `echo "proxmox-boot-tool $*" >> ${log}\n[ "$1" != status ] || exit ${managedByProxmoxBootTool ? 0 : 2}`,
    );
    tool("update-grub", `echo update-grub >> ${log}`);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const commands = proxmoxPlan().kernelArgCommands.map((c) => c.replace(/\/etc\//g, `${root}/etc/`));
    const run = spawnSync("sh", ["-eu", "-c", [...commands, ...commands].join("\n")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const read = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : undefined);
    return { read, calls: readFileSync(log, "utf8").trim().split("\n") };
  }

  const ARGS = "amd_iommu=on iommu=pt vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef";

  test("systemd-boot (ZFS root, UEFI): the arguments go on /etc/kernel/cmdline once, then proxmox-boot-tool refresh", () => {
    const { read, calls } = applyTwice(
      {
        "etc/kernel/cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n",
        "etc/default/grub": 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n',
      },
      true,
    );
    expect(read("etc/kernel/cmdline")).toBe(`root=ZFS=rpool/ROOT/pve-1 boot=zfs ${ARGS}\n`);
    expect(calls.filter((c) => !c.includes("status"))).toEqual([
      "proxmox-boot-tool refresh",
      "proxmox-boot-tool refresh",
    ]);
  });

  test("GRUB (ext4 or xfs root): the arguments go in /etc/default/grub once, then update-grub", () => {
    const { read, calls } = applyTwice({ "etc/default/grub": 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n' }, false);
    expect(read("etc/default/grub")).toBe(`GRUB_CMDLINE_LINUX_DEFAULT="quiet ${ARGS}"\n`);
    expect(read("etc/kernel/cmdline")).toBeUndefined();
    expect(calls.filter((c) => !c.includes("status"))).toEqual(["update-grub", "update-grub"]);
  });

  test("no arguments, no commands", () => {
    expect(kernelArgCommands("proxmox", [])).toEqual([]);
  });
});

describe("preflight and the libvirt plan agree on a host's kernel arguments", () => {
  const device = (address: string, classCode: string, id: string, driver: string): RawPciDevice => {
    const [vendorId, deviceId] = id.split(":");
    return { address, classCode, vendorId, deviceId, driver, bars: [] };
  };
  /** A host as preflight reads it before any preparation: no IOMMU argument, no IOMMU active, drivers on the GPUs. */
  const freshHost = (cpuVendor: CpuVendor, devices: RawPciDevice[]) =>
    buildInventory({
      root: "/",
      cpu: { vendorId: cpuVendor === "intel" ? "GenuineIntel" : "AuthenticAMD", flags: ["vmx", "svm"] },
      cmdline: "BOOT_IMAGE=/vmlinuz quiet",
      iommuUnits: [],
      iommuGroups: [],
      devices,
      pciDrivers: [...new Set(devices.map((d) => d.driver as string))],
      driverModules: { nvidia: "nvidia", snd_hda_intel: "snd_hda_intel", i915: "i915" },
      modules: { vendorReset: false },
      numaNodes: [],
      threadSiblings: new Map(),
      hugepages: {},
      hugetlbfsMounts: [],
      interruptRemapping: {},
      problems: [],
    });
  const rtx3090 = (bus: string) => [
    device(`0000:${bus}:00.0`, "030000", "10de:2204", "nvidia"),
    device(`0000:${bus}:00.1`, "040300", "10de:1aef", "snd_hda_intel"),
  ];
  const libvirtPlan = (cpuVendor: CpuVendor, gpus: HostGpuProps[]) => {
    const host = newKvmHost(newKvmStack(Testing.app()), gpus, { cpuVendor, iommuGroups: [] });
    return hostPrepPlan({
      host: host.hostName,
      cpuVendor,
      distro: "debian",
      assigned: host.gpus.filter((g) => g.role !== "host").map((gpu) => ({ gpu, vm: "vm" })),
      kept: host.gpus.filter((g) => g.role === "host"),
    });
  };

  test.each<CpuVendor>(["intel", "amd"])("%s: a guest RTX 3090 beside the host's iGPU, bound by id", (cpu) => {
    const inv = freshHost(cpu, [device("0000:00:02.0", "030000", "8086:4680", "i915"), ...rtx3090("01")]);
    const preflight = hostPrep(inv, inv.gpus.find((g) => g.address === "0000:01:00.0")?.functions ?? []);
    const plan = libvirtPlan(cpu, [
      { address: "0000:01:00.0", model: "nvidia-rtx-3090" },
      {
        address: "0000:00:02.0",
        model: { name: "Intel UHD Graphics 770", vendor: "intel", vendorId: "8086", deviceId: "4680", barsMib: [16] },
        role: "host",
      },
    ]);
    expect(preflight.kernelArgs).toEqual([`${cpu}_iommu=on`, "iommu=pt", "vfio-pci.ids=10de:2204,10de:1aef"]);
    expect(plan.kernelArgs).toEqual(preflight.kernelArgs);
    expect(preflight.driverOverrides).toEqual([]);
    expect(plan.bindBy).toBe("ids");
  });

  test("two identical cards, one kept by the host: both bind the guest's by address and leave ids out", () => {
    const inv = freshHost("intel", [...rtx3090("01"), ...rtx3090("02")]);
    const preflight = hostPrep(inv, inv.gpus.find((g) => g.address === "0000:02:00.0")?.functions ?? []);
    const plan = libvirtPlan("intel", [
      { address: "0000:01:00.0", model: "nvidia-rtx-3090", role: "host" },
      { address: "0000:02:00.0", model: "nvidia-rtx-3090" },
    ]);
    expect(preflight.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(plan.kernelArgs).toEqual(preflight.kernelArgs);
    expect(plan.driverOverrides).toEqual(preflight.driverOverrides.map((a) => `driverctl set-override ${a} vfio-pci`));
    expect(preflight.driverOverrides).toEqual(["0000:02:00.0", "0000:02:00.1"]);
  });
});

describe("what the guests need beyond their GPUs: huge pages at boot, a 1 GiB hugetlbfs, swtpm", () => {
  const guest = (vm: string, memoryMib: number, extra: Partial<GuestHostNeeds> = {}): GuestHostNeeds => ({
    vm,
    memoryMib,
    numaNodes: [],
    tpm: false,
    ...extra,
  });
  const plan = (distro: LinuxDistro, guests: GuestHostNeeds[]) =>
    planHostPreparation({
      host: "kvm-01",
      cpuVendor: "intel",
      distro,
      assigned: [{ gpu: plannedGpu("0000:17:00.0", "nvidia-a100-80gb"), vm: "train-01" }],
      kept: [],
      guests,
    });
  const base = ["intel_iommu=on", "iommu=pt", "vfio-pci.ids=10de:20b5"];

  test("no guest with huge pages or a TPM: the plan is what it was", () => {
    const p = plan("debian", [guest("train-01", 65536)]);
    expect(p.kernelArgs).toEqual(base);
    expect([p.hugepages, p.mounts, p.packages]).toEqual([[], [], []]);
    expect(preparationScript(p)).not.toMatch(/hugetlbfs|swtpm|hugepages/);
  });

  test("1 GiB pages on known nodes: node form on Debian, one page per GiB of guest memory, split over a VM's nodes", () => {
    const p = plan("debian", [
      guest("train-01", 65536, { hugepages: "1G", numaNodes: [0] }),
      guest("train-02", 49152, { hugepages: "1G", numaNodes: [0, 1] }),
    ]);
    expect(p.hugepages).toEqual([{ size: "1G", pages: 112, perNode: { 0: 88, 1: 24 }, vms: ["train-01", "train-02"] }]);
    expect(p.kernelArgs).toEqual([...base, "default_hugepagesz=1G", "hugepagesz=1G", "hugepages=0:88,1:24"]);
    expect(p.mounts).toEqual([
      {
        path: "/dev/hugepages1G",
        fstab: "hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0",
        why: "QEMU backs 1 GiB-page guests with files on a hugetlbfs of that page size",
      },
    ]);
    expect(p.notes).toContain(
      "112 huge pages of 1 GiB reserved at boot for train-01, train-02, on the nodes of their GPUs (node 0: 88, node 1: 24)",
    );
    expect(p.rebootRequired).toBe(true);
  });

  test("RHEL gets the total (its 5.14 kernel predates the node form, Linux 5.16); Ubuntu (6.8) the node form", () => {
    const guests = [guest("train-01", 65536, { hugepages: "1G", numaNodes: [1] })];
    const rhel = plan("rhel", guests);
    expect(rhel.kernelArgs.slice(-3)).toEqual(["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=64"]);
    expect(rhel.notes.join("\n")).toContain(
      "the guests want node 1: 64, but rhel's long-term kernel predates the node form hugepages=<node>:<pages> (Linux 5.16), so the kernel spreads them over all nodes; on a 5.16 or newer kernel write hugepages=1:64 instead",
    );
    // An even spread would leave node 1 short under strict numatune.
    expect(plan("ubuntu", guests).kernelArgs.slice(-3)).toEqual([
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=1:64",
    ]);
  });

  test("2 MiB and 1 GiB guests on one host: both pairs, and the default size stays 2 MiB for systemd's /dev/hugepages", () => {
    const p = plan("arch", [
      guest("small", 4097, { hugepages: "2M" }),
      guest("big", 32768, { hugepages: "1G", numaNodes: [0] }),
    ]);
    expect(p.kernelArgs.slice(3)).toEqual(["hugepagesz=1G", "hugepages=0:32", "hugepagesz=2M", "hugepages=2049"]);
    expect(p.notes).toContain(
      "2049 huge pages of 2 MiB reserved at boot for small, in total: the guests' NUMA nodes are unknown (declare numaNode on their GPUs)",
    );
    expect(p.mounts.map((m) => m.path)).toEqual(["/dev/hugepages1G"]);
  });

  test.each([
    ["debian", "DEBIAN_FRONTEND=noninteractive apt-get install -y swtpm swtpm-tools"],
    ["ubuntu", "DEBIAN_FRONTEND=noninteractive apt-get install -y swtpm swtpm-tools"],
    ["fedora", "dnf install -y swtpm swtpm-tools"],
    ["rhel", "dnf install -y swtpm swtpm-tools"],
    ["arch", "pacman -S --needed --noconfirm swtpm"],
  ] as const)("a guest with a TPM: %s installs swtpm (%s)", (distro, command) => {
    const p = plan(distro, [guest("win-01", 16384, { tpm: true }), guest("train-01", 8192)]);
    expect(p.packages).toEqual([
      {
        names: distro === "arch" ? ["swtpm"] : ["swtpm", "swtpm-tools"],
        command,
        why: "libvirt runs swtpm for the software TPM of win-01",
        setup: [
          {
            command:
              "[ ! -d /var/lib/swtpm-localca ] || ! id -u tss >/dev/null 2>&1 || chown -R tss /var/lib/swtpm-localca",
            why: "swtpm_setup signs each new TPM with the local CA as tss: the CA must be tss's",
          },
          {
            command: "systemctl try-restart libvirtd.service virtqemud.service 2>/dev/null || true",
            why: "libvirt picks the user it runs swtpm as (tss) when it starts",
          },
        ],
      },
    ]);
    expect(preparationScript(p)).toContain(
      `# Packages: libvirt runs swtpm for the software TPM of win-01.\n${command}\n` +
        "# swtpm_setup signs each new TPM with the local CA as tss: the CA must be tss's.\n" +
        "[ ! -d /var/lib/swtpm-localca ] || ! id -u tss >/dev/null 2>&1 || chown -R tss /var/lib/swtpm-localca\n",
    );
  });

  test("the script is valid sh with the fstab line, the mount, the libvirt restart, and host steps for each", () => {
    const p = plan("debian", [guest("train-01", 65536, { hugepages: "1G", numaNodes: [0], tpm: true })]);
    const script = preparationScript(p);
    const file = join(tempDir("gpt-huge-"), "prepare-host.sh");
    writeFileSync(file, script);
    const syntax = spawnSync("sh", ["-n", file], { encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
    expect(script).toContain(
      [
        "grep -qxF 'hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0' /etc/fstab 2>/dev/null || echo 'hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0' >> /etc/fstab",
        "mkdir -p /dev/hugepages1G",
        "[ ! -d /sys/kernel/mm/hugepages/hugepages-1048576kB ] || mountpoint -q /dev/hugepages1G || mount /dev/hugepages1G",
        "systemctl try-restart libvirtd.service virtqemud.service 2>/dev/null || true",
      ].join("\n"),
    );
    const commands = preparationSteps(p).flatMap((s) => (s.command ? [s.command] : []));
    expect(commands).toContain("DEBIAN_FRONTEND=noninteractive apt-get install -y swtpm swtpm-tools");
    expect(commands).toContain("mkdir -p /dev/hugepages1G");
  });

  /** Runs a plan's GRUB edits (not update-grub) on a scratch /etc/default/grub holding `line`; returns the file. */
  function grubAfter(line: string, ...plans: ReturnType<typeof plan>[]): string {
    const root = tempDir("gpt-grub-");
    mkdirSync(join(root, "etc/default"), { recursive: true });
    writeFileSync(join(root, "etc/default/grub"), `${line}\n`);
    const edits = plans.flatMap((p) =>
      p.kernelArgCommands.filter((c) => c !== "update-grub").map((c) => c.replace(/\/etc\//g, `${root}/etc/`)),
    );
    const run = spawnSync("sh", ["-eu", "-c", edits.join("\n")], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    return readFileSync(join(root, "etc/default/grub"), "utf8");
  }

  test("GRUB: applied twice the line is the same; a new count replaces the old one instead of adding a second", () => {
    const sixtyFour = plan("debian", [guest("train-01", 65536, { hugepages: "1G", numaNodes: [0] })]);
    const args = "intel_iommu=on iommu=pt vfio-pci.ids=10de:20b5";
    const want64 = `GRUB_CMDLINE_LINUX_DEFAULT="quiet ${args} default_hugepagesz=1G hugepagesz=1G hugepages=0:64"\n`;
    expect(grubAfter('GRUB_CMDLINE_LINUX_DEFAULT="quiet"', sixtyFour)).toBe(want64);
    expect(grubAfter('GRUB_CMDLINE_LINUX_DEFAULT="quiet"', sixtyFour, sixtyFour)).toBe(want64);
    // The kernel keeps the first hugepages= of a size and ignores a second: the old count must go.
    const both = plan("debian", [
      guest("train-01", 65536, { hugepages: "1G", numaNodes: [0] }),
      guest("train-02", 32768, { hugepages: "1G", numaNodes: [1] }),
    ]);
    expect(grubAfter('GRUB_CMDLINE_LINUX_DEFAULT="hugepages=16 quiet"', sixtyFour, both)).toBe(
      `GRUB_CMDLINE_LINUX_DEFAULT="quiet ${args} default_hugepagesz=1G hugepagesz=1G hugepages=0:64,1:32"\n`,
    );
  });

  test("Proxmox's /etc/kernel/cmdline: the old counts go, the new ones come once", () => {
    const p = plan("proxmox", [guest("train-01", 8192, { hugepages: "1G", numaNodes: [0] })]);
    const root = tempDir("gpt-pve-huge-");
    mkdirSync(join(root, "etc/kernel"), { recursive: true });
    writeFileSync(join(root, "etc/kernel/cmdline"), "root=ZFS=rpool/ROOT/pve-1 hugepagesz=1G hugepages=2 boot=zfs\n");
    const edits = p.kernelArgCommands
      .filter((c) => c.includes("/etc/kernel/cmdline"))
      .map((c) => c.replace(/\/etc\//g, `${root}/etc/`));
    const run = spawnSync("sh", ["-eu", "-c", [...edits, ...edits].join("\n")], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(readFileSync(join(root, "etc/kernel/cmdline"), "utf8")).toBe(
      "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt vfio-pci.ids=10de:20b5 default_hugepagesz=1G hugepagesz=1G hugepages=0:8\n",
    );
  });

  test("grubby (Fedora, RHEL): one --args with every argument", () => {
    const p = plan("fedora", [guest("train-01", 8192, { hugepages: "1G", numaNodes: [0] })]);
    expect(p.kernelArgCommands).toEqual([
      'grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt vfio-pci.ids=10de:20b5 default_hugepagesz=1G hugepagesz=1G hugepages=0:8"',
    ]);
  });
});
