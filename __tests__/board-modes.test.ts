/**
 * Board modes where GPUs are declared: a workstation board's display mode and a consumer board's Resizable BAR, in
 * the construct props and the fleet file, and what they do to the VM's MMIO window on vSphere.
 */
import { TerraformStack } from "cdktf";
import { parseFleet } from "../lib/fleet/load";
import { readInventory } from "../lib/preflight/inventory";
import { preflightReport } from "../lib/preflight/report";
import { buildManifest } from "../lib/report/manifest";
import { FLEET_YAML, intelDesktop, removeHost, writeHost } from "./fixtures/hosts";
import { vmSettings } from "../lib/report/vm-settings";
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

describe("the report says which rule set the window", () => {
  const mmioWhy = (model: string) => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:17:00.0", model }]);
    newVm(stack, "vm", host, { gpus: ["0000:17:00.0"] });
    const vm = buildManifest(stack as TerraformStack).vms[0];
    return vmSettings(vm).find((s) => s.setting === "mmio");
  };

  test("the vendor's figure, when it governs", () => {
    const mmio = mmioWhy("nvidia-v100-16gb");
    expect(mmio?.value).toBe("64 GB");
    expect(mmio?.why).toMatch(
      /^0000:17:00\.0 NVIDIA V100 PCIe 16GB 16\.05 GiB = 16\.05 GiB; the vendor's figure governs: NVIDIA V100 PCIe 16GB needs 64 GB \(NVIDIA AI Enterprise release notes/,
    );
    expect(mmio?.why).toContain(
      "more than the BAR sum: every BAR of every GPU (16.05 GiB) rounded up to a power of two gives 32 GB",
    );
  });

  test("the BAR sum otherwise (negative control)", () => {
    const mmio = mmioWhy("nvidia-v100-32gb");
    expect(mmio?.value).toBe("64 GB");
    expect(mmio?.why).toMatch(/^every BAR of every GPU \(.*\) rounded up to a power of two;/);
    expect(mmio?.why).not.toContain("vendor");
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

describe("preflight: a GeForce whose BAR1 is larger than the catalog's (Resizable BAR on)", () => {
  const roots: string[] = [];
  afterAll(() => roots.forEach(removeHost));
  /** The Intel desktop fixture with the RTX 3090's BAR1 at 32 GiB, as Resizable BAR sets it. */
  const rebarOn = () => {
    const host = intelDesktop({ geforceDriver: "vfio-pci" });
    const devices = host.devices.map((d) =>
      d.address === "0000:01:00.0" && d.bars
        ? { ...d, bars: { ...d.bars, 1: [0x4800000000n, 32n * 1024n * 1024n * 1024n, d.bars[1]![2]] as const } }
        : d,
    );
    const root = writeHost({ ...host, devices });
    roots.push(root);
    return readInventory(root);
  };
  const desk = (resizableBar?: boolean) => {
    const yaml = resizableBar
      ? FLEET_YAML.replace(
          '{ address: "0000:01:00.0", model: nvidia-rtx-3090 }',
          '{ address: "0000:01:00.0", model: nvidia-rtx-3090, resizableBar: true }',
        )
      : FLEET_YAML;
    const host = parseFleet(yaml).hosts.find((h) => h.name === "kvm-desk-01");
    if (!host) throw new Error("fixture fleet lacks kvm-desk-01");
    return host;
  };

  test("declared with Resizable BAR off, the host's BAR is flagged and the fix is the resizableBar flag", () => {
    const larger = preflightReport(rebarOn(), desk()).findings.filter((f) => f.code === "bar-larger-than-model");
    expect(larger.map((f) => f.fix)).toEqual([
      "set resizableBar: true on this GPU in the fleet file, or turn Resizable BAR off in the BIOS",
    ]);
  });

  test("declared with resizableBar: true, the catalog matches the host and nothing is flagged", () => {
    const larger = preflightReport(rebarOn(), desk(true)).findings.filter((f) => f.code === "bar-larger-than-model");
    expect(larger).toEqual([]);
  });
});
