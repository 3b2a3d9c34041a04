/// <reference types="cdktf/lib/testing/adapters/jest" />
/**
 * The README's "Use the constructs in your own stack" example, kept here so that it cannot rot.
 */
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { Construct } from "constructs";
import { GpuPassthroughVm, PassthroughApp, PassthroughHost, VsphereBackend } from "../lib";

// --- README example start
class MlStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const password = new TerraformVariable(this, "vsphere_password", { type: "string", sensitive: true });
    new VsphereProvider(this, "vsphere", {
      vsphereServer: "vcenter.example.com",
      user: "terraform@vsphere.local",
      password: password.stringValue,
    });

    const host = new PassthroughHost(this, "esx01", {
      hostName: "esx01.example.com",
      backend: new VsphereBackend({ datacenter: "DC1", datastore: "nvme-01", network: "VM Network" }),
      gpus: [
        { address: "0000:3b:00.0", model: "nvidia-a100-80gb" },
        { address: "0000:5e:00.0", model: "nvidia-a100-80gb" },
        { address: "0000:af:00.0", model: { name: "Prototype accelerator", barsMib: [16, 65536, 32] } },
      ],
    });

    const trainer = new GpuPassthroughVm(this, "trainer", {
      host,
      gpuCount: 2,
      cpus: 32,
      memoryGib: 256,
      hypervisor: { kind: "vsphere", template: "ubuntu-2204-efi", diskGib: 200 },
    });
    trainer.resource.latencySensitivity = "high"; // escape hatch: the provider's own VirtualMachine, typed
    trainer.resource.addOverride("annotation", "ML trainer"); // or any attribute, by its Terraform name

    new TerraformOutput(this, "host_steps", { value: host.hostSteps().map((s) => s.command ?? s.description) });
    new TerraformOutput(this, "esx_id", { value: host.binding.hostData.id }); // the host's data source, typed
  }
}

const app = new PassthroughApp(); // checks every stack before writing any
new MlStack(app, "ml");
// app.synth();
// --- README example end

describe("the README's library example", () => {
  test("synthesizes a passthrough VM with the derived settings and the override", () => {
    const stack = app.node.findChild("ml") as TerraformStack;
    const vm = stack.node.findChild("trainer") as GpuPassthroughVm;
    expect(vm.mmio.sizeGb).toBe(512);
    // The CDK convention for escape hatches: the VM's main resource is its default child.
    expect(vm.node.defaultChild).toBe(vm.resource);
    expect(Testing.synth(stack)).toHaveResourceWithProperties(
      { tfResourceType: "vsphere_virtual_machine" },
      {
        pci_device_id: ["0000:3b:00.0", "0000:5e:00.0"],
        memory_reservation: 262144,
        latency_sensitivity: "high",
        annotation: "ML trainer",
        extra_config: { "pciPassthru.use64bitMMIO": "TRUE", "pciPassthru.64bitMMIOSizeGB": "512" },
      },
    );
  });
});

/**
 * What the compiler refuses (checked by `npm run typecheck`, which compiles the tests): a VM's hypervisor options are
 * typed by its host's backend. Never called.
 */
export function refusedAtCompileTime(scope: Construct): void {
  const host = new PassthroughHost(scope, "h", {
    hostName: "esx01",
    backend: new VsphereBackend({ datacenter: "DC1" }),
    gpus: [{ address: "0000:3b:00.0", model: "nvidia-a100-80gb" }],
  });
  const vm = { host, gpuCount: 1, cpus: 4, memoryGib: 16 };
  // @ts-expect-error: a misspelt vSphere option
  new GpuPassthroughVm(scope, "typo", { ...vm, hypervisor: { kind: "vsphere", templat: "ubuntu" } });
  // @ts-expect-error: libvirt options for a vSphere host
  new GpuPassthroughVm(scope, "other", { ...vm, hypervisor: { kind: "libvirt", baseImage: "/img.qcow2" } });
  const typed = new GpuPassthroughVm(scope, "vm", { ...vm, hypervisor: { kind: "vsphere", template: "t" } });
  // @ts-expect-error: the resource of a vSphere VM is a VirtualMachine, which has no libvirt `devices`
  void typed.resource.devices;
}
