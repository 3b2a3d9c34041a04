/**
 * `gpu-passthrough discover`: the host's GPUs as a fleet-file host entry that the fleet loader accepts as is.
 */
import { Testing } from "cdktf";
import { mkdirSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import { parse } from "yaml";
import { appProblems } from "../lib/validation/app";
import { buildFleetStacks } from "../stacks/fleet-app";
import { parseFleet } from "../lib/fleet/load";
import { cli } from "./fixtures/run-cli";
import { amdDesktop, gpuServer, intelDesktop, removeHost, writeHost } from "./fixtures/hosts";

const intel = writeHost(intelDesktop());
const amd = writeHost(amdDesktop());
const server = writeHost(gpuServer());
const iommuOff = writeHost(intelDesktop({ iommu: false }));
afterAll(() => [intel, amd, server, iommuOff].forEach(removeHost));

/** Puts the printed entry into a fleet with one site and loads it with the fleet file's own checks. */
function loadEntry(yamlText: string) {
  const hosts = parse(yamlText);
  const site = hosts[0].site;
  return parseFleet(
    JSON.stringify({ sites: [{ name: site, vsphere: { server: "vc", datacenter: "dc" } }], hosts, vms: [] }),
  );
}

describe("discover", () => {
  test("prints one host entry with addresses, catalog models and the boot display as role: host", async () => {
    const { code, out } = await cli("discover", "--root", intel, "--site", "lab");
    expect(code).toBe(0);
    expect(parse(out)).toEqual([
      {
        name: "kvm-desk-01",
        site: "lab",
        gpus: [
          {
            address: "0000:00:02.0",
            model: {
              name: "Intel 8086:4680 at 0000:00:02.0",
              vendor: "intel",
              vendorId: "8086",
              deviceId: "4680",
              barsMib: [16, 256],
            },
            role: "host",
            bootVga: true,
          },
          { address: "0000:01:00.0", model: "nvidia-rtx-3090" },
        ],
      },
    ]);
    expect(loadEntry(out).hosts[0].gpus).toHaveLength(2);
  });

  test("comments give each GPU's group, functions and driver, and how to check the host", async () => {
    const { out } = await cli("discover", "--root", intel, "--site", "lab");
    expect(out).toContain("# NVIDIA GeForce RTX 3090; IOMMU group 1; functions .0 .1; driver nvidia");
    expect(out).toContain(
      "# Then check the host against it: gpu-passthrough preflight --fleet fleet.yaml --host kvm-desk-01",
    );
    expect(out).toContain('- address: "0000:01:00.0"');
  });

  test("a GPU sharing its group is listed, with a NOT ISOLATED comment (numa_node -1: no numaNode)", async () => {
    const { out } = await cli("discover", "--root", amd, "--name", "ryzen", "--site", "lab");
    expect(parse(out)[0]).toEqual({
      name: "ryzen",
      site: "lab",
      gpus: [
        { address: "0000:06:00.0", model: "amd-rx-5700-xt" },
        { address: "0000:09:00.0", model: "amd-rx-580", role: "host", bootVga: true },
      ],
    });
    expect(out).toContain(
      "# NOT ISOLATED: shares its group with 0000:02:00.0 USB controller 1022:43ee (xhci_hcd), 0000:02:00.1 SATA controller",
    );
  });

  test("the server's four A100s and its BMC display load as a fleet host", async () => {
    const { out } = await cli("discover", "--root", server, "--site", "ml-lab");
    const host = loadEntry(out).hosts[0];
    expect(
      host.gpus.map((g) => [String(g.address), typeof g.model === "string" ? g.model : g.model.name, g.role]),
    ).toEqual([
      ["0000:03:00.0", "ASPEED 1a03:2000 at 0000:03:00.0", "host"],
      ["0000:17:00.0", "nvidia-a100-80gb", undefined],
      ["0000:31:00.0", "nvidia-a100-80gb", undefined],
      ["0000:b1:00.0", "nvidia-a100-80gb", undefined],
      ["0000:ca:00.0", "nvidia-a100-80gb", undefined],
    ]);
  });

  test("without --site the entry carries a placeholder the fleet loader rejects by name", async () => {
    const { out } = await cli("discover", "--root", intel);
    expect(parse(out)[0].site).toBe("CHANGE-ME");
    expect(out).toContain("set site: to one of its sites");
  });

  test("with IOMMU off the GPUs are still listed, with a note that groups are unknown", async () => {
    const { code, out } = await cli("discover", "--root", iommuOff, "--site", "lab");
    expect(code).toBe(0);
    expect(out).toContain("# IOMMU is off on this host: its IOMMU groups are unknown");
    expect(parse(out)[0].gpus).toHaveLength(2);
  });

  test("a host without GPUs exits 1 with one line", async () => {
    const { code, out, err } = await cli("discover", "--root", "/");
    if (code === 0) return; // this machine has a GPU after all
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toBe("gpu-passthrough: no GPU found under /: no PCI display controller (class 03xx)\n");
  });
});

describe("discover --libvirt", () => {
  test("adds the KVM host's CPU vendor and IOMMU groups; the fleet then refuses a GPU whose group is shared", async () => {
    const { code, out } = await cli("discover", "--root", amd, "--site", "ws", "--libvirt");
    expect(code).toBe(0);
    const hosts = parse(out);
    expect(hosts[0].libvirt).toEqual({
      uri: "qemu:///system",
      cpuVendor: "amd",
      iommuGroups: [
        {
          id: 4,
          devices: ["0000:02:00.0", "0000:02:00.1", "0000:06:00.0", "0000:06:00.1", "0000:07:00.0", "0000:08:00.0"],
          bridges: [
            "0000:00:01.2",
            "0000:02:00.2",
            "0000:03:00.0",
            "0000:03:08.0",
            "0000:03:09.0",
            "0000:04:00.0",
            "0000:05:00.0",
          ],
        },
        { id: 7, devices: ["0000:09:00.0", "0000:09:00.1"], bridges: ["0000:00:03.1"] },
      ],
    });
    const fleet = parseFleet(
      JSON.stringify({
        sites: [{ name: "ws", libvirt: {} }],
        hosts,
        vms: [
          {
            name: "guest",
            host: hosts[0].name,
            gpus: ["0000:06:00.0"],
            cpus: 4,
            memoryGib: 8,
            libvirt: { baseImage: "/img/a.qcow2", cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAA test"] } },
          },
        ],
      }),
    );
    const app = Testing.app();
    buildFleetStacks(app, fleet);
    expect(appProblems(app)).toEqual([
      expect.stringContaining(
        'VM "guest": IOMMU group 4 on host "kvm-ryzen-01" also holds 0000:02:00.0, 0000:02:00.1, 0000:07:00.0, 0000:08:00.0, which the VM does not get',
      ),
    ]);
  });
});

describe("discover --libvirt on a two-socket server: NUMA nodes, cores and each GPU's node", () => {
  test("prints numaNodes in flow style with quoted cores, and numaNode / bootVga on the GPUs", async () => {
    const { code, out } = await cli("discover", "--root", server, "--site", "ml", "--libvirt");
    expect(code).toBe(0);
    expect(out).toContain('      - {id: 0, cores: ["0,64", "1,65", "2,66", ');
    expect(out).toContain('      - {id: 1, cores: ["32,96", "33,97", ');
    const host = parse(out)[0];
    expect(
      host.libvirt.numaNodes.map((n: { id: number; cores: string[] }) => [n.id, n.cores.length, n.cores[31]]),
    ).toEqual([
      [0, 32, "31,95"],
      [1, 32, "63,127"],
    ]);
    expect(
      host.gpus.map((g: { address: string; numaNode?: number; bootVga?: boolean }) => [
        g.address,
        g.numaNode,
        g.bootVga,
      ]),
    ).toEqual([
      ["0000:03:00.0", undefined, true],
      ["0000:17:00.0", 0, undefined],
      ["0000:31:00.0", 0, undefined],
      ["0000:b1:00.0", 1, undefined],
      ["0000:ca:00.0", 1, undefined],
    ]);
  });

  test("the printed entry loads back with the fleet loader, and a VM on it synthesizes", async () => {
    const { out } = await cli("discover", "--root", server, "--site", "ml", "--libvirt");
    const hosts = parse(out);
    const fleet = parseFleet(
      JSON.stringify({
        sites: [{ name: "ml", libvirt: {} }],
        hosts,
        vms: [
          {
            name: "train-01",
            host: hosts[0].name,
            gpus: ["0000:b1:00.0"],
            cpus: 8,
            memoryGib: 64,
            libvirt: { baseImage: "/img/a.qcow2", cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAA test"] } },
          },
        ],
      }),
    );
    const loaded = fleet.hosts[0] as {
      libvirt?: { numaNodes?: { id: number; cores: string[] }[] };
    } & (typeof fleet.hosts)[0];
    expect(loaded.libvirt?.numaNodes?.map((n) => n.id)).toEqual([0, 1]);
    expect(loaded.gpus.find((g) => String(g.address) === "0000:b1:00.0")).toMatchObject({ numaNode: 1 });
    const app = Testing.app();
    buildFleetStacks(app, fleet);
    expect(appProblems(app)).toEqual([]);
  });

  test("a machine without /sys/devices/system/node is one node 0 with its online cpus", async () => {
    const root = writeHost(intelDesktop());
    try {
      // Four online cpus, two cores of two threads: "0,2" and "1,3" (Intel numbers the second threads last).
      const put = (rel: string, text: string) => {
        mkdirSync(dirname(join(root, rel)), { recursive: true });
        writeFileSync(join(root, rel), text);
      };
      put("sys/devices/system/cpu/online", "0-3\n");
      for (const [cpu, core] of [
        [0, "0,2"],
        [1, "1,3"],
        [2, "0,2"],
        [3, "1,3"],
      ]) {
        put(`sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`, `${core}\n`);
      }
      const { out } = await cli("discover", "--root", root, "--site", "lab", "--libvirt");
      expect(parse(out)[0].libvirt.numaNodes).toEqual([{ id: 0, cores: ["0,2", "1,3"] }]);
    } finally {
      removeHost(root);
    }
  });

  test("a copy without any cpu topology prints no numaNodes (nothing to place on)", async () => {
    const { out } = await cli("discover", "--root", intel, "--site", "lab", "--libvirt");
    expect(parse(out)[0].libvirt.numaNodes).toBeUndefined();
  });
});
