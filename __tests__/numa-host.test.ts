/**
 * A KVM host's NUMA facts as a user writes them (issue #13): `numaNodes` on the libvirt host, `numaNode` and `bootVga`
 * on its GPUs, the loader's messages for bad values, and the synth-time check that a GPU's node is one the host has.
 */
import { Testing } from "cdktf";
import { numaHostProblems } from "../lib/backends/libvirt/numa-rules";
import { parseFleet } from "../lib/fleet/load";
import { formatProblem } from "../lib/problems";
import { fleetProblems } from "./fleet-helpers";
import { newKvmHost, newKvmStack } from "./libvirt-helpers";

const fleet = (hostLibvirt: string, gpu: string) => `sites:
  - name: kvm
    libvirt: {}
hosts:
  - name: kvm-01
    site: kvm
    libvirt:
      cpuVendor: amd
      iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }]${hostLibvirt}
    gpus: [${gpu}]
vms: []
`;

const TWO_NODES = `
      numaNodes:
        - { id: 0, cores: ["0,32", "1,33"] }
        - { id: 1, cores: ["16,48", "17,49"] }`;

describe("fleet file: NUMA nodes and GPU facts", () => {
  test("numaNodes, numaNode and bootVga load as written", () => {
    const parsed = parseFleet(
      fleet(TWO_NODES, '{ address: "0000:0b:00.0", model: nvidia-rtx-3080, numaNode: 1, bootVga: true }'),
    );
    expect(parsed.hosts[0].gpus[0]).toMatchObject({ numaNode: 1, bootVga: true });
    expect((parsed.hosts[0] as { libvirt?: { numaNodes?: unknown } }).libvirt?.numaNodes).toEqual([
      { id: 0, cores: ["0,32", "1,33"] },
      { id: 1, cores: ["16,48", "17,49"] },
    ]);
  });

  test("bad node ids, cpu lists and GPU facts are all reported, each with its key path", () => {
    const yaml = fleet(
      `
      numaNodes:
        - { id: 0, cores: ["0,32", "1-"] }
        - { id: 1, cores: [] }`,
      '{ address: "0000:0b:00.0", model: nvidia-rtx-3080, numaNode: -1, bootVga: 1 }',
    );
    expect(fleetProblems(yaml)).toEqual([
      'hosts[0].libvirt.numaNodes[0].cores[1] (line 11): "1-" in cpu list "1-" is not a cpu number or range: write "0,32" or "0-3,8"',
      "hosts[0].libvirt.numaNodes[1].cores (line 12): a node needs at least one core",
      "hosts[0].gpus[0].numaNode (line 13): must be 0 or more: leave numaNode out where sysfs numa_node reads -1",
      "hosts[0].gpus[0].bootVga (line 13): must be true or false",
    ]);
  });

  test("a node declared twice and a cpu in two cores name both places and the fix", () => {
    const yaml = fleet(
      `
      numaNodes:
        - { id: 0, cores: ["0,32", "1"] }
        - { id: 0, cores: ["32,2"] }`,
      '{ address: "0000:0b:00.0", model: nvidia-rtx-3080 }',
    );
    expect(fleetProblems(yaml)).toEqual([
      "hosts[0].libvirt.numaNodes (line 11): numaNodes[1]: node id 0 is declared twice: give each node once, with all its cores",
      'hosts[0].libvirt.numaNodes (line 11): numaNodes[1].cores[0]: cpu 32 is in node 0 core "0,32" and in node 0 core "32,2": a cpu belongs to one core of one node (copy the lists from gpu-passthrough discover)',
    ]);
  });
});

describe("a GPU's NUMA node against the host's nodes", () => {
  const nodes = [
    { id: 0, cores: ["0,32"] },
    { id: 1, cores: ["16,48"] },
  ];

  test("a GPU on a declared node, or hosts without declared nodes: no problem", () => {
    const host = newKvmHost(newKvmStack(Testing.app()), [
      { address: "0000:0b:00.0", model: "nvidia-rtx-3080", numaNode: 1, bootVga: true },
    ]);
    expect(host.gpus[0]).toMatchObject({ numaNode: 1, bootVga: true });
    const checked = numaHostProblems(host, nodes);
    expect(checked.problems).toEqual([]);
    expect(checked.topology?.nodes.map((n) => n.id)).toEqual([0, 1]);
    expect(numaHostProblems(host, undefined).problems).toEqual([]);
  });

  test("a GPU on a node the host does not declare is named with both values", () => {
    const host = newKvmHost(newKvmStack(Testing.app()), [
      { address: "0000:0b:00.0", model: "nvidia-rtx-3080", numaNode: 3 },
    ]);
    const checked = numaHostProblems(host, nodes);
    expect(checked.topology).toBeUndefined();
    expect(checked.problems.map(formatProblem)).toEqual([
      "host \"ws-01\" GPU 0000:0b:00.0: numaNode 3 is not one of the host's numaNodes (0, 1). Fix: read /sys/bus/pci/devices/0000:0b:00.0/numa_node on the host and correct the GPU's numaNode or the host's numaNodes (gpu-passthrough discover --libvirt prints both)",
    ]);
  });

  test("the host's own node mistakes come with the fix", () => {
    const host = newKvmHost(newKvmStack(Testing.app()));
    expect(numaHostProblems(host, [{ id: 0, cores: ["0", "0"] }]).problems.map(formatProblem)).toEqual([
      'host "ws-01": numaNodes[0].cores[1]: cpu 0 is in node 0 core "0" and in node 0 core "0": a cpu belongs to one core of one node (copy the lists from gpu-passthrough discover). Fix: copy numaNodes from `gpu-passthrough discover --libvirt` on the host',
    ]);
  });

  test("a library user's negative or fractional numaNode is refused at synth", () => {
    const stack = newKvmStack(Testing.app());
    newKvmHost(stack, [{ address: "0000:0b:00.0", model: "nvidia-rtx-3080", numaNode: 1.5 }]);
    expect(() => Testing.synth(stack, true)).toThrow(/gpus\[0\]: numaNode 1.5 must be an integer from 0 to 1023/);
  });
});
