import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { VirtualMachine } from "@cdktf/provider-vsphere/lib/virtual-machine";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { Construct } from "constructs";
import { HostGpuProps, PassthroughHost } from "../lib/host";
import { VsphereBackend, VsphereBackendProps } from "../lib/backends/vsphere/vsphere-backend";
import { HorizonDesktopOptions, VsphereVmOptions } from "../lib/backends/vsphere/vm-options";
import { TestVmProps, vmBuilder } from "./vm-builder";
import { GpuPassthroughVm } from "../lib/vm";
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
export type VmProps = TestVmProps<VsphereVmOptions>;

export const newVm = vmBuilder<VsphereVmOptions>("vsphere", {
  cpus: 8,
  memoryGib: 64,
  options: { template: "ubuntu-efi" },
  merge: true,
});

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

/**
 * A Horizon desktop (seed 001): a Windows 11 clone with an RTX A4000, customized as DESK-01 with the Administrator
 * password from a sensitive variable (or none), and these Horizon and Windows settings.
 */
export function newHorizonDesktop(horizon: HorizonDesktopOptions, windows: object = {}, withPassword = true) {
  const stack = newStack();
  const host = newHost(stack, [{ address: "41:00.0", model: "nvidia-rtx-a4000" }]);
  const password = new TerraformVariable(stack, "pw", { type: "string", sensitive: true });
  const vm = newVm(stack, "desk", host, {
    gpuCount: 1,
    vsphere: {
      template: "win11-efi",
      customize: {
        windows: {
          computerName: "DESK-01",
          adminPassword: withPassword ? password.stringValue : undefined,
          ...windows,
        },
      },
      horizon,
    },
  });
  return { stack, vm, r: renderedVm(vm) };
}
