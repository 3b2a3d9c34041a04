/**
 * What vmware/vsphere 2.15.0 does with the rendered VM, read from its source (file:line in each test's comment or
 * in the code it tests): the rendering must survive a real `terraform apply`, not only synthesize.
 */
import { Testing } from "cdktf";
import { A100, newHost, newStack, newVm, problemsOf, renderedVm } from "./helpers";

function synthOf(scope: Parameters<typeof Testing.synth>[0]): Record<string, any> {
  return JSON.parse(Testing.synth(scope));
}

describe("moving a VM to another host replaces it", () => {
  // Provider 2.15.0 cannot move a passthrough VM in place: the update reconfigures the PCI devices against an empty
  // host_system_id, and vCenter refuses to migrate a powered-on VM with a DirectPath device.
  test("a placement terraform_data holds the datacenter and host, and the VM is replaced when it changes", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
    const vm = newVm(stack, "train", host, { gpuCount: 1 });
    const json = synthOf(stack);
    const placements = Object.entries<Record<string, any>>(json.resource.terraform_data ?? {});
    expect(placements).toHaveLength(1);
    const [name, placement] = placements[0];
    expect(placement.input).toBe("dc1/esx01");
    expect(renderedVm(vm).lifecycle).toEqual({ replace_triggered_by: [`terraform_data.${name}`] });
    expect(problemsOf(stack)).toEqual([]);
  });
});
