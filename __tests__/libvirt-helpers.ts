/** Builders for libvirt stacks in tests: a provider per stack, a KVM host with its IOMMU groups, a domain's JSON. */
import { TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { LibvirtProvider } from "../.gen/providers/libvirt/provider";
import { Domain } from "../.gen/providers/libvirt/domain";
import { LibvirtBackend, LibvirtBackendProps } from "../lib/backends/libvirt/libvirt-backend";
import { HostGpuProps, PassthroughHost } from "../lib/host";
import { LibvirtVmOptions } from "../lib/backends/libvirt/vm-options";
import { TestVmProps, vmBuilder } from "./vm-builder";
import { GpuPassthroughVm } from "../lib/vm";

export function newKvmStack(app = Testing.app(), id = "kvm"): TerraformStack {
  const stack = new TerraformStack(app, id);
  new LibvirtProvider(stack, "libvirt", { uri: "qemu:///system" });
  return stack;
}

/** The dual-GPU workstation of seed 000: an RTX 3080 (+ audio) for guests, an RTX 3060 kept by the host. */
export const WORKSTATION_GPUS: HostGpuProps[] = [
  { address: "0000:0b:00.0", model: "nvidia-rtx-3080" },
  { address: "0000:0c:00.0", model: "nvidia-rtx-3060", role: "host" },
];
export const WORKSTATION_GROUPS: LibvirtBackendProps["iommuGroups"] = [
  { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"], bridges: ["0000:00:03.1"] },
  { id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] },
];

export function newKvmHost(
  scope: Construct,
  gpus: HostGpuProps[] = WORKSTATION_GPUS,
  backend: Partial<LibvirtBackendProps> = {},
  hostName = "ws-01",
): PassthroughHost {
  return new PassthroughHost(scope, hostName, {
    hostName,
    backend: new LibvirtBackend({ cpuVendor: "amd", iommuGroups: WORKSTATION_GROUPS, ...backend }),
    gpus,
  });
}

/** A VM's props for the tests: cpus and memory defaulted, and its libvirt options as `libvirt` without a kind. */
export type KvmVmProps = TestVmProps<LibvirtVmOptions>;

export const newKvmVm = vmBuilder<LibvirtVmOptions>("libvirt", {
  cpus: 8,
  memoryGib: 16,
  options: {
    baseImage: "/var/lib/libvirt/images/base.qcow2",
    cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
  },
  merge: false,
});

/** The synthesized resources of the VM's stack, by type. */
export function synthesized(vm: GpuPassthroughVm): Record<string, Record<string, any>> {
  return JSON.parse(Testing.synth(TerraformStack.of(vm))).resource;
}

/** The synthesized `libvirt_domain` attributes of one VM. */
export function renderedDomain(vm: GpuPassthroughVm): Record<string, any> {
  return synthesized(vm)[Domain.tfResourceType][(vm.resource as Domain).friendlyUniqueId];
}

/** A two-socket host, 8 cores of 2 threads per node, a T4 on each node. */
export function twoNodeHost(stack: Construct): PassthroughHost {
  const cores = (node: number) => Array.from({ length: 8 }, (_, i) => `${node * 8 + i},${node * 8 + i + 16}`);
  return newKvmHost(
    stack,
    [
      { address: "0000:17:00.0", model: "nvidia-t4", numaNode: 0 },
      { address: "0000:b1:00.0", model: "nvidia-t4", numaNode: 1 },
    ],
    {
      cpuVendor: "intel",
      iommuGroups: [
        { id: 40, devices: ["0000:17:00.0"] },
        { id: 71, devices: ["0000:b1:00.0"] },
      ],
      numaNodes: [0, 1].map((id) => ({ id, cores: cores(id) })),
    },
    "kvm-numa",
  );
}
