import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { HostGpuProps, PassthroughHost } from "../lib/host";
import { VsphereBackend, VsphereBackendProps } from "../lib/backends/vsphere/vsphere-backend";
import { VsphereVmOptions } from "../lib/backends/vsphere/vm-options";
import { GpuPassthroughVm, GpuPassthroughVmProps } from "../lib/vm";
import { appProblems } from "../lib/validation/app";

export function newStack(app = Testing.app(), id = "test"): TerraformStack {
  const stack = new TerraformStack(app, id);
  new VsphereProvider(stack, "vsphere", { user: "u", password: "p", vsphereServer: "vc" });
  return stack;
}

export function newHost(
  scope: Construct,
  gpus: HostGpuProps[],
  backend: Partial<VsphereBackendProps> = {},
  hostName = "esx01",
): PassthroughHost {
  return new PassthroughHost(scope, hostName, {
    hostName,
    backend: new VsphereBackend({ datacenter: "dc1", datastore: "ds1", network: "VM Network", ...backend }),
    gpus,
  });
}

/** A VM's props for the tests: cpus and memory defaulted, and its vSphere options as `vsphere` without a kind. */
export type VmProps = Omit<GpuPassthroughVmProps, "host" | "cpus" | "memoryGib"> &
  Partial<Pick<GpuPassthroughVmProps, "cpus" | "memoryGib">> & { vsphere?: Omit<VsphereVmOptions, "kind"> };

export function newVm(scope: Construct, id: string, host: PassthroughHost, props: VmProps): GpuPassthroughVm {
  const { vsphere, ...rest } = props;
  return new GpuPassthroughVm(scope, id, {
    cpus: 8,
    memoryGib: 64,
    // `vsphere: undefined` given: a VM without vSphere settings.
    hypervisor:
      "vsphere" in props && vsphere === undefined
        ? undefined
        : ({ kind: "vsphere", template: "ubuntu-efi", ...vsphere } as VsphereVmOptions),
    ...rest,
    host,
  });
}

/** The synthesized `vsphere_virtual_machine` attributes of one VM. */
export function renderedVm(vm: GpuPassthroughVm): Record<string, any> {
  const stack = TerraformStack.of(vm);
  const json = JSON.parse(Testing.synth(stack));
  return json.resource[VirtualMachine.tfResourceType][(vm.resource as VirtualMachine).friendlyUniqueId];
}

/** All problem messages of the app that holds `scope`. */
export function problemsOf(scope: Construct): string[] {
  return appProblems(scope.node.root);
}

export const A100 = "nvidia-a100-80gb";
