/** Builders for Proxmox VE stacks in tests: a provider per stack, a node with two GPUs, a VM's rendered JSON. */
import { TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { ProxmoxProvider } from "../.gen/providers/proxmox/provider";
import { ProxmoxBackend, ProxmoxBackendProps } from "../lib/backends/proxmox/proxmox-backend";
import { ProxmoxVmOptions } from "../lib/backends/proxmox/vm-options";
import { TestVmProps, vmBuilder } from "./vm-builder";
import { HostGpuProps, PassthroughHost } from "../lib/host";
import { GpuPassthroughVm } from "../lib/vm";

export function newPveStack(app = Testing.app(), id = "pve"): TerraformStack {
  const stack = new TerraformStack(app, id);
  new ProxmoxProvider(stack, "proxmox", { endpoint: "https://pve-01.example.com:8006/" });
  return stack;
}

/** A homelab node: an RTX 4090 (+ HDMI audio) for gaming, an RTX A6000 (64 GiB BAR1) for compute. */
export const NODE_GPUS: HostGpuProps[] = [
  { address: "0000:0b:00.0", model: "nvidia-rtx-4090" },
  { address: "0000:0c:00.0", model: "nvidia-rtx-a6000" },
];
export const NODE_GROUPS: ProxmoxBackendProps["iommuGroups"] = [
  { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"], bridges: ["0000:00:03.1"] },
  { id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] },
];

export function newPveHost(
  scope: Construct,
  backend: Partial<ProxmoxBackendProps> = {},
  gpus: HostGpuProps[] = NODE_GPUS,
  hostName = "pve-01",
): PassthroughHost {
  return new PassthroughHost(scope, hostName, {
    hostName,
    backend: new ProxmoxBackend({ cpuVendor: "amd", iommuGroups: NODE_GROUPS, ...backend }),
    gpus,
  });
}

/** A VM's props for the tests: cpus and memory defaulted, its Proxmox options as `proxmox` without a kind. */
export type PveVmProps = TestVmProps<ProxmoxVmOptions>;

export const newPveVm = vmBuilder<ProxmoxVmOptions>("proxmox", {
  cpus: 8,
  memoryGib: 32,
  options: { template: 9000 },
  merge: false,
});

/** The synthesized resources of the VM's stack, by type. */
export function synthesized(scope: Construct): Record<string, Record<string, any>> {
  return JSON.parse(Testing.synth(TerraformStack.of(scope))).resource;
}

/** The synthesized `proxmox_virtual_environment_vm` attributes of one VM. */
export function renderedPveVm(vm: GpuPassthroughVm): Record<string, any> {
  return synthesized(vm)[vm.resource.terraformResourceType][vm.resource.friendlyUniqueId];
}

/** The problems of a VM, as one text per problem (subject, message and fix). */
export function problemTexts(vm: GpuPassthroughVm): string[] {
  return vm.validate().map((p) => `${p.subject}: ${p.message}${p.fix ? `. Fix: ${p.fix}` : ""}`);
}
