/**
 * Board modes where GPUs are declared: a workstation board's display mode and a consumer board's Resizable BAR, in
 * the construct props and the fleet file, and what they do to the VM's MMIO window on vSphere.
 */
import { fleetProblems } from "./fleet-helpers";
import { newHost, newStack, newVm, problemsOf, renderedVm } from "./helpers";

const fleet = (gpu: string) => `
sites:
  - name: lab
    vsphere: { server: vc.lab, datacenter: dc }
hosts:
  - name: esx01
    site: lab
    datastore: ds
    network: net
    gpus:
      - ${gpu}
vms: []
`;

describe("board modes in the construct props", () => {
  test("an RTX A6000 declared with its displays enabled maps 256 MiB: the VM gets no 64-bit window", () => {
    const stack = newStack();
    const host = newHost(stack, [
      { address: "0000:0c:00.0", model: "nvidia-rtx-a6000", displayMode: "display-enabled" },
    ]);
    const vm = newVm(stack, "cad", host, { gpus: ["0000:0c:00.0"] });
    expect(problemsOf(stack)).toEqual([]);
    expect(vm.mmio).toMatchObject({ needs64BitMmio: false, sizeGb: 0 });
    expect(renderedVm(vm).extra_config?.["pciPassthru.64bitMMIOSizeGB"]).toBeUndefined();
  });

  test("the same board by default (displayless) gets NVIDIA's 128 GB", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:0c:00.0", model: "nvidia-rtx-a6000" }]);
    const vm = newVm(stack, "cad", host, { gpus: ["0000:0c:00.0"] });
    expect(vm.mmio).toMatchObject({ sizeGb: 128 });
    expect(renderedVm(vm).extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("128");
  });

  test("an RTX 4090 with Resizable BAR on gets the window of its 32 GiB BAR1", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:0b:00.0", model: "nvidia-rtx-4090", resizableBar: true }]);
    const vm = newVm(stack, "game", host, { gpus: ["0000:0b:00.0"] });
    expect(vm.mmio).toMatchObject({ needs64BitMmio: true, sizeGb: 64, rule: "bar-sum" });
  });

  test("one V100 16GB gets NVIDIA's 64 GB, and the VM says the vendor's figure governed", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:17:00.0", model: "nvidia-v100-16gb" }]);
    const vm = newVm(stack, "train", host, { gpus: ["0000:17:00.0"] });
    expect(vm.mmio).toMatchObject({ sizeGb: 64, rule: "vendor-table" });
    expect(renderedVm(vm).extra_config["pciPassthru.64bitMMIOSizeGB"]).toBe("64");
  });

  test("a setting the board lacks is a problem of the host that names the GPU", () => {
    const stack = newStack();
    newHost(stack, [
      { address: "0000:3b:00.0", model: "nvidia-a100-80gb", displayMode: "display-enabled" },
      { address: "0000:5e:00.0", model: "nvidia-gtx-1080-ti", resizableBar: true },
    ]);
    const problems = problemsOf(stack).join("\n");
    expect(problems).toContain(
      "displayMode is set but NVIDIA A100 80GB PCIe has no display modes (its BARs do not depend on one): leave displayMode out",
    );
    expect(problems).toContain(
      "resizableBar is set but the catalog has no Resizable BAR layout for NVIDIA GeForce GTX 1080 Ti",
    );
    expect(problems).toMatch(/gpus\[0\]/);
    expect(problems).toMatch(/gpus\[1\]/);
  });
});

describe("board modes in the fleet file", () => {
  test.each([
    ['{ address: "0000:0c:00.0", model: nvidia-rtx-a6000, displayMode: display-enabled }'],
    ['{ address: "0000:0c:00.0", model: nvidia-rtx-a6000, displayMode: displayless }'],
    ['{ address: "0000:0b:00.0", model: nvidia-rtx-3080, resizableBar: true }'],
    ['{ address: "0000:0b:00.0", model: nvidia-rtx-3080, resizableBar: false }'],
  ])("%s is valid", (gpu) => {
    expect(fleetProblems(fleet(gpu))).toEqual([]);
  });

  test.each([
    [
      '{ address: "0000:0c:00.0", model: nvidia-rtx-a6000, displayMode: hdmi }',
      "hosts[0].gpus[0].displayMode (line 11): must be displayless or display-enabled (the board's Display Mode Selector mode)",
    ],
    [
      '{ address: "0000:0b:00.0", model: nvidia-rtx-3080, resizableBar: "yes" }',
      "hosts[0].gpus[0].resizableBar (line 11): must be true or false",
    ],
    [
      '{ address: "0000:3b:00.0", model: nvidia-a30, displayMode: display-enabled }',
      "hosts[0].gpus[0].displayMode (line 11): displayMode is set but NVIDIA A30 has no display modes (its BARs do not depend on one): leave displayMode out",
    ],
    [
      '{ address: "0000:3b:00.0", model: nvidia-rtx-2080-ti, resizableBar: true }',
      "hosts[0].gpus[0].resizableBar (line 11): resizableBar is set but the catalog has no Resizable BAR layout for " +
        "NVIDIA GeForce RTX 2080 Ti: leave resizableBar out, or declare the model by the BAR sizes lspci -vv shows " +
        "(model: { name, barsMib })",
    ],
  ])("%s is refused with its key path and line", (gpu, problem) => {
    expect(fleetProblems(fleet(gpu))).toEqual([problem]);
  });

  test("an unknown model with a mode is reported once, as an unknown model", () => {
    const problems = fleetProblems(fleet('{ address: "0000:3b:00.0", model: nvidia-a31, displayMode: displayless }'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^hosts\[0\]\.gpus\[0\]\.model \(line 11\): unknown GPU model "nvidia-a31"/);
  });
});
