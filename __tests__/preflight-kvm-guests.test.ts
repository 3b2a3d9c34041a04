/**
 * Preflight on what KVM guests need of their host beyond bound GPUs (issue #13): interrupt remapping, the boot VGA,
 * huge pages and their hugetlbfs mount, and NUMA placement. Each on host copies that have it and copies that do not,
 * asserting the text a user reads.
 */
import { parseFleet } from "../lib/fleet/load";
import { hostVms } from "../lib/preflight/fleet-vms";
import { readInventory } from "../lib/preflight/inventory";
import { PreflightReport, preflightReport } from "../lib/preflight/report";
import { cli } from "./fixtures/run-cli";
import {
  FixtureHost,
  INTERRUPTS_NOT_REMAPPED,
  SERVER_MOUNTS,
  amdDesktop,
  gpuServer,
  intelDesktop,
  removeFleet,
  removeHost,
  smtCores,
  writeFleet,
  writeHost,
} from "./fixtures/hosts";

const roots: string[] = [];
afterAll(() => roots.forEach(removeHost));
function hostTree(host: FixtureHost): string {
  const root = writeHost(host);
  roots.push(root);
  return root;
}

/** A libvirt fleet: the server's A100s (with `gpuExtra` on each GPU line) and the given VMs. */
const serverFleet = (vms: string, gpuNodes: (number | undefined)[] = [0, 0, 1, 1], libvirtExtra = "") => `
sites:
  - name: ml
    libvirt: {}
hosts:
  - name: kvm-gpu-01
    site: ml
    libvirt:
      cpuVendor: intel
      distro: debian${libvirtExtra}
      iommuGroups:
        - { id: 21, devices: ["0000:17:00.0"] }
        - { id: 23, devices: ["0000:31:00.0"] }
        - { id: 25, devices: ["0000:b1:00.0"] }
        - { id: 27, devices: ["0000:ca:00.0"] }
    gpus:
${["17", "31", "b1", "ca"]
  .map(
    (bus, i) =>
      `      - { address: "0000:${bus}:00.0", model: nvidia-a100-80gb${gpuNodes[i] === undefined ? "" : `, numaNode: ${gpuNodes[i]}`} }`,
  )
  .join("\n")}
      - { address: "0000:03:00.0", model: { name: ASPEED, vendor: other, barsMib: [64, 1] }, role: host }
vms:
${vms}
`;

const vm = (name: string, gpus: string, memoryGib: number, libvirt = "") =>
  `  - { name: ${name}, host: kvm-gpu-01, gpus: ${gpus}, cpus: 8, memoryGib: ${memoryGib}, libvirt: { baseImage: /img/u.qcow2${libvirt} } }`;

function checkServer(host: FixtureHost, fleetText: string): PreflightReport {
  const fleet = parseFleet(fleetText);
  return preflightReport(readInventory(hostTree(host)), fleet.hosts[0], fleet.vms);
}

const codes = (r: PreflightReport, prefix: string) =>
  r.findings.filter((f) => f.code.startsWith(prefix)).map((f) => `${f.severity} ${f.code} ${f.subject}`);
const only = (r: PreflightReport, code: string) => {
  const found = r.findings.filter((f) => f.code === code);
  if (found.length !== 1) throw new Error(`${found.length} ${code} findings in ${JSON.stringify(r.findings, null, 1)}`);
  return found[0];
};

describe("interrupt remapping", () => {
  test("off, and unsafe interrupts not allowed: a blocker naming the firmware setting, the check and the last resort with its risk", () => {
    const r = preflightReport(
      readInventory(hostTree(intelDesktop({ interrupts: "not-remapped", irSupport: false, unsafeInterrupts: "N" }))),
    );
    const f = only(r, "interrupt-remapping-off");
    expect(f.severity).toBe("blocker");
    expect(f.message).toBe(
      "interrupts are not remapped (/proc/interrupts shows no IR- interrupt chip (IO-APIC and PCI-MSI deliver straight to the CPUs); " +
        "dmar0, dmar1 report no interrupt remapping support (bit 3 of intel-iommu/ecap is 0)): " +
        'VFIO refuses to give a device to a VM ("No interrupt remapping support"), so no GPU can be passed',
    );
    expect(f.fix).toBe(
      [
        'enable "VT-d" and "Interrupt Remapping" (often with x2APIC) in the firmware setup',
        'then check after a reboot: dmesg | grep -i remapping (it should say "Enabled IRQ remapping")',
        "last resort, accepting the risk (a guest can then forge MSIs (write any interrupt message through its device's DMA) and raise interrupts on the host): " +
          'echo "options vfio_iommu_type1 allow_unsafe_interrupts=1" > /etc/modprobe.d/vfio-unsafe.conf, rebuild the initramfs and reboot',
      ].join("\n"),
    );
    expect(r.ready).toBe(false);
  });

  test("off but allow_unsafe_interrupts=Y: a warning that names the risk", () => {
    const r = preflightReport(
      readInventory(hostTree(intelDesktop({ interrupts: "not-remapped", unsafeInterrupts: "Y" }))),
    );
    expect(codes(r, "")).toContain("warning unsafe-interrupts interrupt remapping");
    expect(only(r, "unsafe-interrupts").message).toMatch(
      /allow_unsafe_interrupts is Y, so VFIO assigns devices anyway: a guest can then forge MSIs/,
    );
    expect(codes(r, "interrupt-remapping")).toEqual([]);
  });

  test("the ecap register alone tells when /proc/interrupts is not in the copy", () => {
    expect(codes(preflightReport(readInventory(hostTree(intelDesktop({ irSupport: false })))), "interrupt")).toEqual([
      "blocker interrupt-remapping-off interrupt remapping",
    ]);
    expect(codes(preflightReport(readInventory(hostTree(intelDesktop({ irSupport: true })))), "interrupt")).toEqual([]);
  });

  test("AMD: /proc/interrupts decides, and the fix names AMD's firmware settings; intremap=off on the command line is named", () => {
    const amd = amdDesktop();
    const r = preflightReport(
      readInventory(hostTree({ ...amd, interrupts: INTERRUPTS_NOT_REMAPPED, cmdline: `${amd.cmdline} intremap=off` })),
    );
    const f = only(r, "interrupt-remapping-off");
    expect((f.fix ?? "").split("\n").slice(0, 2)).toEqual([
      "remove intremap=off from the kernel command line (then update the boot loader and reboot)",
      'enable "IOMMU" and x2APIC in the firmware setup (some boards hide interrupt remapping behind "SVM" or "IOMMU: Enabled" rather than "Auto")',
    ]);
  });

  test("remapped (IR- chips), or nothing to tell, or no IOMMU at all: no finding", () => {
    for (const host of [
      intelDesktop({ interrupts: "remapped", unsafeInterrupts: "Y" }),
      intelDesktop(),
      intelDesktop({ iommu: false, interrupts: "not-remapped" }),
      gpuServer(),
    ]) {
      const r = preflightReport(readInventory(hostTree(host)));
      expect(codes(r, "interrupt").concat(codes(r, "unsafe"))).toEqual([]);
    }
  });
});

describe("boot VGA", () => {
  const deskFleet = (gpuRom = "", bootVga = "") => `
sites:
  - name: ws
    libvirt: {}
hosts:
  - name: kvm-desk-01
    site: ws
    libvirt: { cpuVendor: intel, iommuGroups: [{ id: 1, devices: ["0000:01:00.0", "0000:01:00.1"], bridges: ["0000:00:01.0"] }] }
    gpus:
      - { address: "0000:01:00.0", model: nvidia-rtx-3090${bootVga} }
      - address: "0000:00:02.0"
        model: { name: Intel UHD Graphics 770, vendor: intel, vendorId: "8086", deviceId: "4680", barsMib: [16, 256] }
        role: host
vms:
  - { name: gaming, host: kvm-desk-01, gpus: 1, cpus: 8, memoryGib: 16, libvirt: { baseImage: /img/w.qcow2${gpuRom} } }
`;
  const desk = (fleetText: string, host = intelDesktop({ geforceDriver: "vfio-pci", geforceBootVga: true })) => {
    const fleet = parseFleet(fleetText);
    return preflightReport(readInventory(hostTree(host)), fleet.hosts[0], fleet.vms);
  };

  test("a guest GPU the firmware booted on: a warning naming the VM, with both ways out", () => {
    const f = only(desk(deskFleet()), "guest-gpu-boot-vga");
    expect(f.severity).toBe("warning");
    expect(f.subject).toBe("GPU 0000:01:00.0");
    expect(f.message).toBe(
      "NVIDIA GeForce RTX 3090 is the host's boot display (boot_vga 1): the host firmware initialised it, shadowed its ROM " +
        'and put the console on it, and VM "gaming" gets it: the guest\'s driver may fail on the shadowed vBIOS or a card the host still uses',
    );
    expect(f.fix).toContain("make another GPU (or the iGPU) the primary display in the firmware setup");
    expect(f.fix).toContain('libvirt: { gpuRom: { file: "/var/lib/libvirt/vbios/<card>.rom" } }');
  });

  test("the VM brings its own vBIOS file: info only", () => {
    const f = only(desk(deskFleet(", gpuRom: { file: /var/lib/libvirt/vbios/3090.rom }")), "guest-gpu-boot-vga");
    expect(f.severity).toBe("info");
    expect(f.message).toContain('VM "gaming" gets it with its vBIOS from /var/lib/libvirt/vbios/3090.rom');
  });

  test("the iGPU boots the host (the usual case): nothing about the guest GPU", () => {
    const r = desk(deskFleet(), intelDesktop({ geforceDriver: "vfio-pci" }));
    expect(codes(r, "guest-gpu-boot-vga")).toEqual([]);
    expect(codes(r, "gpu-boot-vga")).toEqual([]);
  });

  test("a declared bootVga that sysfs contradicts is a warning with the fix", () => {
    const f = only(
      desk(deskFleet("", ", bootVga: true"), intelDesktop({ geforceDriver: "vfio-pci" })),
      "gpu-boot-vga-mismatch",
    );
    expect(f.message).toBe("the fleet declares bootVga: true, but /sys/bus/pci/devices/0000:01:00.0/boot_vga reads 0");
    expect(f.fix).toBe(
      "remove bootVga: true from this GPU in the fleet file (the firmware boots on another display now)",
    );
    expect(codes(desk(deskFleet("", ", bootVga: true")), "gpu-boot-vga-mismatch")).toEqual([]);
  });

  test("without a fleet: a host whose only GPU is its boot display is warned", () => {
    const single = intelDesktop({ geforceBootVga: true });
    const r = preflightReport(
      readInventory(hostTree({ ...single, devices: single.devices.filter((d) => d.address !== "0000:00:02.0") })),
    );
    expect(only(r, "guest-gpu-boot-vga").message).toBe(
      "the host's only GPU is its boot display (boot_vga 1): passing it to a VM takes the host's console, and the guest gets a shadowed ROM",
    );
    expect(codes(preflightReport(readInventory(hostTree(intelDesktop()))), "guest-gpu-boot-vga")).toEqual([]);
  });
});

describe("huge pages", () => {
  const twoVms = [
    vm("train-01", '["0000:17:00.0"]', 64, ", hugepages: 1G"),
    vm("train-02", '["0000:b1:00.0"]', 32, ", hugepages: 1G"),
  ].join("\n");

  test("none reserved: a blocker per node with the exact kernel arguments, and one for the missing 1 GiB hugetlbfs", () => {
    const r = checkServer(gpuServer(), serverFleet(twoVms));
    expect(codes(r, "huge")).toEqual([
      "blocker hugepages-short huge pages 1G node 0",
      "blocker hugepages-short huge pages 1G node 1",
      "blocker hugetlbfs-missing huge pages 1G",
    ]);
    const node0 = r.findings.find((f) => f.subject === "huge pages 1G node 0");
    expect(node0?.message).toBe(
      "node 0 has 0 pages of 1 GiB reserved (/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages); " +
        "the VMs on its GPUs need 64 for train-01, train-02: they would not start",
    );
    expect(node0?.fix).toContain(
      'reserve them at boot: add "default_hugepagesz=1G hugepagesz=1G hugepages=0:64,1:32" to the kernel command line',
    );
    expect(only(r, "hugetlbfs-missing").message).toBe(
      "no hugetlbfs with 1 GiB pages is mounted (/proc/mounts: /dev/hugepages (2 MiB pages)): libvirt cannot back train-01, train-02 with 1 GiB pages",
    );
    expect(only(r, "hugetlbfs-missing").fix).toBe(
      "echo 'hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0' >> /etc/fstab && mkdir -p /dev/hugepages1G && mount /dev/hugepages1G, " +
        "then restart libvirtd (or virtqemud): it looks for hugetlbfs mounts when it starts",
    );
    expect(r.ready).toBe(false);
  });

  test("reserved on the right nodes with a 1 GiB mount (the kernel prints pagesize=1024M): nothing", () => {
    const host = gpuServer({
      hugepages: { total: { "2M": 0, "1G": 96 }, nodes: { 0: { "1G": 64 }, 1: { "1G": 32 } } },
      mounts: `${SERVER_MOUNTS}hugetlbfs /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n`,
    });
    expect(codes(checkServer(host, serverFleet(twoVms)), "huge")).toEqual([]);
  });

  test("enough in total but on the wrong node: the short node is named", () => {
    const host = gpuServer({
      hugepages: { total: { "1G": 96 }, nodes: { 0: { "1G": 32 }, 1: { "1G": 64 } } },
      mounts: `${SERVER_MOUNTS}hugetlbfs /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n`,
    });
    const r = checkServer(host, serverFleet(twoVms));
    expect(codes(r, "huge")).toEqual(["blocker hugepages-short huge pages 1G node 0"]);
    expect(r.findings.find((f) => f.code === "hugepages-short")?.message).toContain(
      "node 0 has 32 pages of 1 GiB reserved",
    );
  });

  test("GPUs without declared nodes: the total counts; 2 MiB guests use systemd's /dev/hugepages", () => {
    const fleet = serverFleet(
      [vm("train-01", '["0000:17:00.0"]', 64, ", hugepages: 1G"), vm("small", "1", 4, ", hugepages: 2M")].join("\n"),
      [undefined, undefined, undefined, undefined],
    );
    const short = checkServer(gpuServer({ hugepages: { total: { "2M": 1024, "1G": 60 } } }), fleet);
    expect(codes(short, "huge")).toEqual([
      "blocker hugepages-short huge pages 1G",
      "blocker hugetlbfs-missing huge pages 1G",
      "blocker hugepages-short huge pages 2M",
    ]);
    expect(short.findings.find((f) => f.subject === "huge pages 2M")?.message).toBe(
      "1024 pages of 2 MiB are reserved (/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages); the VMs need 2048 for small: they would not start",
    );
    expect(short.findings.find((f) => f.subject === "huge pages 1G")?.fix).toContain(
      'add "hugepagesz=1G hugepages=64 hugepagesz=2M hugepages=2048" to the kernel command line',
    );
    const enough = checkServer(
      gpuServer({
        hugepages: { total: { "2M": 2048, "1G": 64 } },
        mounts: `${SERVER_MOUNTS}hugetlbfs /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n`,
      }),
      fleet,
    );
    expect(codes(enough, "huge")).toEqual([]);
  });

  test("no VM asks for huge pages: nothing, whatever the host has", () => {
    expect(codes(checkServer(gpuServer(), serverFleet(vm("train-01", "2", 64))), "huge")).toEqual([]);
  });
});

describe("NUMA", () => {
  test("a VM with GPUs on both sockets: a warning with the cost and GPUs of one node to use instead", () => {
    const r = checkServer(gpuServer(), serverFleet(vm("train-01", '["0000:17:00.0", "0000:b1:00.0"]', 64)));
    const f = only(r, "vm-spans-numa-nodes");
    expect(f.subject).toBe('VM "train-01"');
    expect(f.message).toBe(
      "its GPUs sit on NUMA nodes 0 (0000:17:00.0) and 1 (0000:b1:00.0): wherever its vCPUs and memory are, the DMA and " +
        "interrupts of the GPUs on the other node cross the socket interconnect (UPI / Infinity Fabric), with less bandwidth and more latency",
    );
    expect(f.fix).toBe(
      'give it GPUs of one node: gpus: ["0000:17:00.0", "0000:31:00.0"] (node 0), or split it into one VM per node; if it must span, ' +
        "its domain gets one guest NUMA cell per node so the guest can keep each GPU's work on its node",
    );
  });

  test("GPUs of one node, taken by count in address order: no warning", () => {
    expect(codes(checkServer(gpuServer(), serverFleet(vm("train-01", "2", 64))), "vm-spans")).toEqual([]);
  });

  test("a declared numaNode that sysfs contradicts: a warning with the line to paste; an undeclared one: info", () => {
    const r = checkServer(gpuServer(), serverFleet(vm("train-01", "1", 64), [1, 0, undefined, 1]));
    expect(codes(r, "gpu-numa")).toEqual([
      "warning gpu-numa-node-mismatch GPU 0000:17:00.0",
      "info gpu-numa-node-undeclared GPU 0000:b1:00.0",
    ]);
    const f = only(r, "gpu-numa-node-mismatch");
    expect(f.message).toBe(
      "the fleet declares numaNode: 1, but /sys/bus/pci/devices/0000:17:00.0/numa_node reads 0: its VM would be placed on the wrong node",
    );
    expect(f.fix).toBe(
      'set numaNode: 0 on this GPU in the fleet file: { address: "0000:17:00.0", model: nvidia-a100-80gb, numaNode: 0 }',
    );
  });

  test("declared numaNodes: as the host has them, nothing; otherwise a warning with the host's nodes to paste", () => {
    const nodes = (node1: string[]) =>
      `\n      numaNodes:\n        - { id: 0, cores: [${smtCores(0, 32, 64).map((c) => `"${c}"`)}] }` +
      `\n        - { id: 1, cores: [${node1.map((c) => `"${c}"`)}] }`;
    const fleetWith = (node1: string[]) => serverFleet(vm("train-01", "1", 64), [0, 0, 1, 1], nodes(node1));
    expect(codes(checkServer(gpuServer(), fleetWith(smtCores(32, 32, 64))), "numa-nodes")).toEqual([]);
    const f = only(checkServer(gpuServer(), fleetWith(smtCores(32, 16, 64))), "numa-nodes-mismatch");
    expect(f.message).toBe(
      "node 1 has cpus 32-63,96-127 in 32 cores on this host, not as declared: vCPU pins and NUMA placement would use cpus of the wrong node",
    );
    expect((f.fix ?? "").split("\n").slice(0, 2)).toEqual([
      "replace numaNodes in the fleet entry with the host's (gpu-passthrough discover --libvirt prints them):",
      `  - { id: 0, cores: [${smtCores(0, 32, 64)
        .map((c) => `"${c}"`)
        .join(", ")}] }`,
    ]);
  });

  test("preflight --fleet prints them for the user", async () => {
    const fleet = writeFleet(serverFleet(vm("train-01", '["0000:17:00.0", "0000:b1:00.0"]', 64, ", hugepages: 1G")));
    try {
      const { code, out } = await cli("preflight", "--root", hostTree(gpuServer()), "--fleet", fleet);
      expect(code).toBe(1);
      expect(out).toContain('WARNING  VM "train-01": its GPUs sit on NUMA nodes 0 (0000:17:00.0) and 1 (0000:b1:00.0)');
      expect(out).toContain("BLOCKER  huge pages 1G node 0: node 0 has 0 pages of 1 GiB reserved");
    } finally {
      removeFleet(fleet);
    }
  });
});

describe("swtpm for guests with a TPM", () => {
  const windows = vm("win-01", '["0000:17:00.0"]', 16, ", guestOs: windows");
  const server = (usrBin?: string[]) => ({ ...gpuServer(), ...(usrBin ? { usrBin } : {}) });

  test("a Windows VM (TPM by default) on a host without swtpm: a blocker with the distribution's install command", () => {
    const f = only(checkServer(server(["qemu-img"]), serverFleet(windows)), "swtpm-missing");
    expect(f.severity).toBe("blocker");
    expect(f.message).toBe(
      "win-01 has a TPM, and swtpm and swtpm_setup are not installed: libvirt refuses to define a domain with a TPM 2.0 " +
        "emulator without it (\"TPM version '2.0' is not supported\")",
    );
    expect(f.fix).toBe(
      "install it: DEBIAN_FRONTEND=noninteractive apt-get install -y swtpm swtpm-tools (prepare-host.sh does this)",
    );
  });

  test("installed, or no VM with a TPM (Linux, or Windows with tpm: false): nothing", () => {
    expect(codes(checkServer(server(["swtpm", "swtpm_setup"]), serverFleet(windows)), "swtpm")).toEqual([]);
    expect(codes(checkServer(server([]), serverFleet(vm("u-01", "1", 16))), "swtpm")).toEqual([]);
    const noTpm = vm("win-01", '["0000:17:00.0"]', 16, ", guestOs: windows, tpm: false");
    expect(codes(checkServer(server([]), serverFleet(noTpm)), "swtpm")).toEqual([]);
  });

  test("a copy without /usr/bin cannot tell: info", () => {
    expect(codes(checkServer(server(), serverFleet(windows)), "swtpm")).toEqual(["info swtpm-unchecked swtpm"]);
  });

  // The CA's files are owned by whoever runs the test: tss is given that uid (owned) or another (a root-run swtpm's).
  const me = process.getuid?.() ?? 0;
  const withCa = (tssUid: number, files: string[], qemuConf?: string) => ({
    ...server(["swtpm", "swtpm_setup"]),
    swtpmLocalCa: { files, tssUid, ...(qemuConf !== undefined ? { qemuConf } : {}) },
  });
  const caFiles = [
    ".lock.swtpm-localca",
    "certserial",
    "issuercert.pem",
    "signkey.pem",
    "swtpm-localca-rootca-cert.pem",
  ];

  test("the local CA not owned by the user libvirt runs swtpm_setup as: a blocker naming the files and the chown", () => {
    const f = only(checkServer(withCa(me + 1, caFiles), serverFleet(windows)), "swtpm-localca-owner");
    expect(f.severity).toBe("blocker");
    expect(f.message).toBe(
      `win-01 has a TPM, and libvirt runs swtpm_setup as tss (uid ${me + 1}), who does not own /var/lib/swtpm-localca ` +
        `(uid ${me}), /var/lib/swtpm-localca/.lock.swtpm-localca (uid ${me}), /var/lib/swtpm-localca/certserial ` +
        `(uid ${me}) and 3 more: a TPM's first start fails ("Could not run '/usr/bin/swtpm_setup'"; its log: "Need ` +
        `read/write rights on ... for user tss"). A swtpm run as root leaves them so (a libvirtd started before the ` +
        "tss user existed)",
    );
    expect(f.fix).toBe("chown -R tss /var/lib/swtpm-localca (prepare-host.sh does this)");
  });

  test("owned by that user, or libvirt runs swtpm as root (no such user), or no VM has a TPM: nothing", () => {
    expect(codes(checkServer(withCa(me, caFiles), serverFleet(windows)), "swtpm")).toEqual([]);
    // swtpm_user names a user /etc/passwd lacks: libvirt falls back to root, who may write anything.
    const other = 'swtpm_user = "swtpm"\n';
    expect(codes(checkServer(withCa(me + 1, caFiles, other), serverFleet(windows)), "swtpm")).toEqual([]);
    expect(codes(checkServer(withCa(me + 1, caFiles), serverFleet(vm("u-01", "1", 16))), "swtpm")).toEqual([]);
  });

  test("swtpm_user set in qemu.conf is the user checked; a commented one is not", () => {
    const asTss = (conf: string) =>
      only(checkServer(withCa(me + 1, [], conf), serverFleet(windows)), "swtpm-localca-owner").message;
    expect(asTss('#swtpm_user = "root"\n')).toContain("runs swtpm_setup as tss");
    expect(codes(checkServer(withCa(me + 1, [], 'swtpm_user = "root"\n'), serverFleet(windows)), "swtpm")).toEqual([]);
  });
});

describe("which GPU a VM taking a count gets, as synth allocates it", () => {
  test("VMs are taken in code-unit order of their names, like the app's construct paths, whatever the locale", () => {
    const fleet = parseFleet(
      serverFleet(`
  - { name: alpha, host: kvm-gpu-01, gpus: 1, cpus: 4, memoryGib: 8, libvirt: { baseImage: /i } }
  - { name: Beta, host: kvm-gpu-01, gpus: 1, cpus: 4, memoryGib: 8, libvirt: { baseImage: /i } }
`),
      "fleet.yaml",
    );
    const held = Object.fromEntries(hostVms(fleet.hosts[0], fleet.vms).map((v) => [v.name, v.gpus]));
    // "B" (0x42) sorts before "a" (0x61); localeCompare would put alpha first on most locales.
    expect(held).toEqual({ Beta: ["0000:17:00.0"], alpha: ["0000:31:00.0"] });
  });
});
