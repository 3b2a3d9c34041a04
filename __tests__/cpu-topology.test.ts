import { coreOfCpu, formatCpuList, nodeOfCpu, parseCpuList, parseNumaNodes } from "../lib/cpu-topology";

describe("cpu lists", () => {
  test.each([
    ["0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]],
    ["0,32", [0, 32]],
    ["7", [7]],
    ["0-3,8,10-11\n", [0, 1, 2, 3, 8, 10, 11]],
    [" 32 , 0 ", [0, 32]],
    ["3,1-2,2", [1, 2, 3]],
  ])("parses %j as sysfs writes it, sorted and unique", (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });

  test.each([
    ["", /^is an empty cpu list/],
    ["0-", /"0-" in cpu list "0-" is not a cpu number or range/],
    ["a,1", /^is not a cpu list: write cpu numbers and ranges, e.g. "0,32" or "0-3,8"/],
    ["https://admin:pw@host", /^is not a cpu list/],
    ["5-2", /range "5-2" .* runs backwards: write "2-5"/],
    ["0,,1", /"" in cpu list "0,,1"/],
    ["0-9000", /cpu 9000 .* above 8191/],
    ["-1", /not a cpu number or range/],
  ])("rejects %j naming the item", (text, message) => {
    const result = parseCpuList(text);
    expect(Array.isArray(result)).toBe(false);
    expect((result as { problem: string }).problem).toMatch(message);
  });

  test.each([
    [[0, 1, 2, 3, 8], "0-3,8"],
    [[8, 0, 2, 1, 3], "0-3,8"],
    [[4, 5], "4-5"],
    [[0, 32], "0,32"],
    [[], ""],
    [[1, 1, 2], "1-2"],
  ])("formats %j as %s", (cpus, text) => {
    expect(formatCpuList(cpus)).toBe(text);
  });

  test("format and parse are inverse on sorted unique lists", () => {
    for (const cpus of [[0], [0, 2, 4, 5, 6, 31], [1, 2, 3, 63, 64]]) {
      expect(parseCpuList(formatCpuList(cpus))).toEqual(cpus);
    }
  });
});

describe("NUMA nodes", () => {
  const twoSockets = [
    { id: 1, cores: ["1,33", "3,35"] },
    { id: 0, cores: ["0,32", "2,34"] },
  ];

  test("builds nodes sorted by id, cores and cpus sorted", () => {
    const { topology, problems } = parseNumaNodes(twoSockets, "host kvm-01 libvirt.numaNodes");
    expect(problems).toEqual([]);
    expect(topology).toEqual({
      nodes: [
        {
          id: 0,
          cores: [
            [0, 32],
            [2, 34],
          ],
          cpus: [0, 2, 32, 34],
        },
        {
          id: 1,
          cores: [
            [1, 33],
            [3, 35],
          ],
          cpus: [1, 3, 33, 35],
        },
      ],
    });
  });

  test("answers which node and core a cpu is on", () => {
    const t = parseNumaNodes(twoSockets, "x").topology!;
    expect(nodeOfCpu(t, 35)).toBe(1);
    expect(nodeOfCpu(t, 2)).toBe(0);
    expect(nodeOfCpu(t, 99)).toBeUndefined();
    expect(coreOfCpu(t, 34)).toEqual([2, 34]);
    expect(coreOfCpu(t, 99)).toBeUndefined();
  });

  test("reports every problem at once, each naming the value and the fix", () => {
    const { topology, problems } = parseNumaNodes(
      [
        { id: 0, cores: ["0,32", "1,x"] },
        { id: 0, cores: ["2,34"] },
        { id: 2, cores: [] },
        { id: 3, cores: ["32"] },
        { id: -1, cores: ["5"] },
      ],
      "host kvm-01 libvirt.numaNodes",
    );
    expect(topology).toBeUndefined();
    expect(problems).toEqual([
      'host kvm-01 libvirt.numaNodes[0].cores[1]: is not a cpu list: write cpu numbers and ranges, e.g. "0,32" or "0-3,8" (as /sys cpulist files)',
      "host kvm-01 libvirt.numaNodes[1]: node id 0 is declared twice: give each node once, with all its cores",
      'host kvm-01 libvirt.numaNodes[2]: node 2 has no cores: list them ("0,32" per core) or leave the node out',
      'host kvm-01 libvirt.numaNodes[3].cores[0]: cpu 32 is in node 0 core "0,32" and in node 3 core "32": a cpu belongs to one core of one node (copy the lists from gpu-passthrough discover)',
      "host kvm-01 libvirt.numaNodes[4]: node id -1 must be an integer from 0 to 1023 (the node's number in /sys/devices/system/node)",
    ]);
  });

  test("a cpu in two cores of one node is a problem too", () => {
    expect(parseNumaNodes([{ id: 0, cores: ["0,1", "1,2"] }], "n").problems).toEqual([
      'n[0].cores[1]: cpu 1 is in node 0 core "0,1" and in node 0 core "1,2": a cpu belongs to one core of one node (copy the lists from gpu-passthrough discover)',
    ]);
  });

  test("no nodes is an empty topology", () => {
    expect(parseNumaNodes([], "n")).toEqual({ topology: { nodes: [] }, problems: [] });
  });
});
