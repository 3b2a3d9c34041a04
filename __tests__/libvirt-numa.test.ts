/**
 * NUMA placement of KVM guests (lib/backends/libvirt/numa.ts): memory, vCPUs and emulator threads on the node the
 * GPUs hang off, guest cells across two nodes, and pins checked against nodes and SMT siblings.
 */
import { Testing } from "cdktf";
import { LibvirtHostBinding } from "../lib/backends/libvirt/libvirt-backend";
import { HostGpuProps } from "../lib/host";
import { formatProblem } from "../lib/problems";
import { newKvmHost, newKvmStack, newKvmVm, renderedDomain } from "./libvirt-helpers";

const KEY = { cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] } };
/** Two sockets of 4 cores, two threads each: core N of node 0 is CPUs N and N+8; node 1 has cores 4-7. */
const NODES = [
  { id: 0, cores: ["0,8", "1,9", "2,10", "3,11"] },
  { id: 1, cores: ["4,12", "5,13", "6,14", "7,15"] },
];
const GPUS: HostGpuProps[] = [
  { address: "0000:17:00.0", model: "nvidia-l40s", numaNode: 0 },
  { address: "0000:31:00.0", model: "nvidia-l40s", numaNode: 0 },
  { address: "0000:b1:00.0", model: "nvidia-l40s", numaNode: 1 },
];
const GROUPS = GPUS.map((g, i) => ({ id: 40 + i, devices: [g.address as string] }));

function serverVm(gpus: string[], libvirt: Record<string, unknown> = {}, props: Record<string, unknown> = {}) {
  const stack = newKvmStack();
  const host = newKvmHost(stack, GPUS, { iommuGroups: GROUPS, numaNodes: NODES }, "kvm-01");
  return newKvmVm(stack, "train", host, {
    gpus,
    cpus: 4,
    coresPerSocket: 4,
    ...props,
    libvirt: { baseImage: "/img/noble.img", ...KEY, ...libvirt },
  });
}
const problems = (vm: ReturnType<typeof serverVm>) => vm.validate().map(formatProblem);
const setting = (vm: ReturnType<typeof serverVm>, name: string) => vm.backendSettings.find((s) => s.setting === name);

describe("NUMA placement from the GPUs' node", () => {
  test("one node: memory strict there, vCPUs and emulator threads on its CPUs", () => {
    const vm = serverVm(["0000:17:00.0"]);
    const d = renderedDomain(vm);
    expect(d.numa_tune).toEqual({ memory: { mode: "strict", nodeset: "0" } });
    expect(d.vcpu_cpuset).toBe("0-3,8-11");
    expect(d.cpu_tune).toEqual({ emulator_pin: { cpu_set: "0-3,8-11" } });
    expect(d.cpu.numa).toBeUndefined();
    expect(problems(vm)).toEqual([]);
    expect(setting(vm, "NUMA memory")).toMatchObject({ value: "strict on node 0" });
  });

  test("the node follows the GPU the allocation gives (by count)", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, GPUS, { iommuGroups: GROUPS, numaNodes: NODES }, "kvm-01");
    newKvmVm(stack, "a", host, {
      gpus: ["0000:17:00.0", "0000:31:00.0"],
      cpus: 4,
      libvirt: { baseImage: "/i", ...KEY },
    });
    const b = newKvmVm(stack, "b", host, { gpuCount: 1, cpus: 4, libvirt: { baseImage: "/img/b", ...KEY } });
    Testing.synth(stack);
    expect(renderedDomain(b).numa_tune).toEqual({ memory: { mode: "strict", nodeset: "1" } });
    expect(renderedDomain(b).vcpu_cpuset).toBe("4-7,12-15");
  });

  test("pins on the node keep the emulator off the VM's own CPUs; a pin on the other node is an error", () => {
    const vm = serverVm(["0000:17:00.0"], { vcpuPins: ["1", "9", "2", "3"] });
    const d = renderedDomain(vm);
    expect(d.vcpu_cpuset).toBeUndefined();
    expect(d.cpu_tune.emulator_pin).toEqual({ cpu_set: "0,8,10-11" });
    expect(problems(vm)).toEqual([]);
    const off = serverVm(["0000:17:00.0"], { vcpuPins: ["1", "2", "5", "20"] });
    expect(problems(off)).toEqual([
      'VM "train": libvirt.vcpuPins[2] "5" puts vCPU 2 on CPU 5 (node 1), but its GPUs and memory are on NUMA node 0: every memory access and DMA completion of that vCPU would cross the socket interconnect. Fix: pin vCPU 2 to CPUs of node 0 (0-3,8-11), or leave vcpuPins out to keep the vCPUs on the node without pinning',
      'VM "train": libvirt.vcpuPins[3] "20" puts vCPU 3 on CPU 20 (not a CPU the host\'s numaNodes list), but its GPUs and memory are on NUMA node 0: every memory access and DMA completion of that vCPU would cross the socket interconnect. Fix: pin vCPU 3 to CPUs of node 0 (0-3,8-11), or leave vcpuPins out to keep the vCPUs on the node without pinning',
    ]);
  });

  test("vCPU pairs on a core's two threads make a guest of 2 threads per core; other pairings are errors", () => {
    const pairs = serverVm(["0000:17:00.0"], { vcpuPins: ["0", "8", "1", "9"] }, { coresPerSocket: 4 });
    expect(renderedDomain(pairs).cpu.topology).toEqual({ sockets: 1, dies: 1, cores: 2, threads: 2 });
    expect(setting(pairs, "guest SMT")).toMatchObject({ value: "2 threads per core" });
    const single = serverVm(["0000:17:00.0"], { vcpuPins: ["0", "1", "2", "3"] });
    expect(renderedDomain(single).cpu.topology.threads).toBe(1);
    const crossed = serverVm(["0000:17:00.0"], { vcpuPins: ["0", "1", "8", "9"] });
    expect(problems(crossed)).toEqual([
      'VM "train": libvirt.vcpuPins put vCPUs 0 and 2 on the two threads of core 0,8, 1 and 3 on the two threads of core 1,9: the guest would take them for separate cores and load both, halving each. Fix: pin a core\'s two threads to consecutive vCPUs (2k and 2k+1), e.g. vCPUs 0 and 1 to CPUs 0,8',
    ]);
    const same = serverVm(["0000:17:00.0"], { vcpuPins: ["0", "1", "2", "2"] });
    expect(problems(same)).toEqual([
      'VM "train": libvirt.vcpuPins put vCPUs 2 and 3 on the same CPU 2: they would take turns on one thread. Fix: give each vCPU a CPU of its own',
    ]);
  });

  test("GPUs on two nodes: one guest cell per node, memory in KiB, each cell's vCPUs on its node, and a warning", () => {
    const vm = serverVm(["0000:17:00.0", "0000:b1:00.0"], {}, { cpus: 8, coresPerSocket: 4, memoryGib: 32 });
    const d = renderedDomain(vm);
    expect(d.cpu.numa).toEqual({
      cell: [
        { id: 0, cpus: "0-3", memory: 16 * 1024 * 1024, unit: "KiB" },
        { id: 1, cpus: "4-7", memory: 16 * 1024 * 1024, unit: "KiB" },
      ],
    });
    expect(d.numa_tune).toEqual({
      memory: { mode: "strict", nodeset: "0-1" },
      mem_nodes: [
        { cell_id: 0, mode: "strict", nodeset: "0" },
        { cell_id: 1, mode: "strict", nodeset: "1" },
      ],
    });
    expect(d.cpu_tune.vcpu_pin.map((p: { cpu_set: string }) => p.cpu_set)).toEqual([
      ...Array(4).fill("0-3,8-11"),
      ...Array(4).fill("4-7,12-15"),
    ]);
    expect(problems(vm)).toEqual([]);
    expect(setting(vm, "NUMA cost")?.why).toMatch(/^its GPUs are on NUMA nodes 0 and 1: .*socket interconnect/);
    // A warning once, however often the VM is validated.
    vm.validate();
    const warnings = vm.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => m.data);
    expect(warnings).toEqual([expect.stringMatching(/^VM "train": its GPUs are on NUMA nodes 0 and 1/)]);
  });

  test("a VM that cannot split into whole-socket cells is an error with the shape that would", () => {
    const vm = serverVm(["0000:17:00.0", "0000:b1:00.0"], {}, { cpus: 6, coresPerSocket: 6 });
    expect(problems(vm)).toEqual([
      'VM "train": its GPUs are on 2 NUMA nodes (0, 1), so it gets one guest NUMA cell per node, but 6 vCPUs in sockets of 6 and 16384 MiB do not split into 2 cells of whole sockets. Fix: give cpus a multiple of 2 and coresPerSocket = cpus / 2 (e.g. cpus 12, coresPerSocket 6), or GPUs of one node',
    ]);
  });

  test("without the host's nodes: memory on the GPU's node, CPUs not placed; without the GPU's node: nothing", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack, GPUS, { iommuGroups: GROUPS }, "kvm-01");
    const vm = newKvmVm(stack, "vm", host, { gpus: ["0000:17:00.0"], cpus: 4, libvirt: { baseImage: "/i", ...KEY } });
    const d = renderedDomain(vm);
    expect(d.numa_tune).toEqual({ memory: { mode: "strict", nodeset: "0" } });
    expect(d.vcpu_cpuset).toBeUndefined();
    expect(d.cpu_tune).toBeUndefined();
    expect(vm.backendSettings.find((s) => s.setting === "NUMA CPUs")?.value).toBe("not placed");
    const plain = newKvmVm(stack, "ws", newKvmHost(stack, undefined, {}, "ws-01"), {
      gpus: ["0000:0b:00.0"],
      libvirt: { baseImage: "/i", ...KEY },
    });
    expect(renderedDomain(plain).numa_tune).toBeUndefined();
    expect(plain.backendSettings.find((s) => s.setting === "NUMA placement")?.value).toBe("none");
  });

  test("the host's binding gives the placement it renders (the escape hatch reads the same)", () => {
    const vm = serverVm(["0000:17:00.0"]);
    const binding = vm.host.binding as LibvirtHostBinding;
    expect(binding.topology?.nodes.map((n) => n.id)).toEqual([0, 1]);
  });
});
