/**
 * What vmware/vsphere 2.15.0 does with the rendered VM, read from its source (file:line in each test's comment or
 * in the code it tests): the rendering must survive a real `terraform apply`, not only synthesize.
 */
import { Testing } from "cdktf";
import { re2Problem } from "../lib/backends/vsphere/re2";
import { buildManifest } from "../lib/report/manifest";
import { vmSettings } from "../lib/report/vm-settings";
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
    expect(placement.input).toEqual({ datacenter: "dc1", host: "esx01" });
    expect(renderedVm(vm).lifecycle).toEqual({ replace_triggered_by: [`terraform_data.${name}`] });
    expect(problemsOf(stack)).toEqual([]);
  });
});

describe("GPUs matched by name: the provider compiles nameRegex with Go's regexp (RE2)", () => {
  const matched = (nameRegex: string) => {
    const stack = newStack();
    newHost(stack, [{ match: { vendorId: "10de", nameRegex }, model: A100 }]);
    return problemsOf(stack);
  };

  test.each([
    ["A100(?!-40GB)", "uses a negative lookahead ((?!...), which Go's regexp (RE2) does not have"],
    ["(?<=NVIDIA )A100", "uses a lookbehind ((?<=...)"],
    ["(A100)-\\1", "uses a backreference (\\1)"],
    ["A\\u0031", "uses \\u, which Go's regexp does not know: write \\x{...}"],
  ])("%s is refused, naming the value, why and what to write", (pattern, why) => {
    const problems = matched(pattern);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      `host "esx01" GPU match(vendor 10de, name /${pattern}/): match.nameRegex "${pattern}" ${why}`,
    );
    expect(problems[0]).toMatch(/Fix: write it without lookaround or backreferences/);
  });

  test.each(["(?i)a100", "NVIDIA.*(?P<model>A100|H100)", "A100\\x{20}80GB", "\\pL+100"])(
    "%s is Go syntax JavaScript refuses or reads differently, and is accepted",
    (pattern) => {
      expect(matched(pattern)).toEqual([]);
    },
  );
});

test("the RE2 check agrees with Go's regexp.Compile (go1.26) on these patterns", () => {
  // Each verdict was read from Go: regexp.Compile(pattern) == nil.
  const go: [string, boolean][] = [
    ["A100", true],
    ["(?i)a100", true],
    ["(?-i)a", true],
    ["(?)", true],
    ["(?P<x>a)", true],
    ["(?<x>a)", true],
    ["\\012", true],
    ["\\17", true],
    ["[\\d]+", true],
    ["a*?", true],
    ["a{1000}", true],
    ["\\Qa.b\\E+", true],
    ["[]a]", true],
    ["[[:alpha:]]+", true],
    ["\\x{263a}", true],
    ["\\p{Greek}", true],
    ["GA100 \\[A100 SXM4 80GB\\]", true],
    ["a{,3}", true],
    ["A100(?!-40GB)", false],
    ["(?#c)", false],
    ["(?P=x)", false],
    ["(a)\\1", false],
    ["\\8", false],
    ["\\u0041", false],
    ["\\Z", false],
    ["\\e", false],
    ["\\x4", false],
    ["\\pa", false],
    ["[\\b]", false],
    ["a**", false],
    ["a{2}{3}", false],
    ["x+?+", false],
    ["x{1001}", false],
    ["*a", false],
    ["(?i)*", false],
    ["(", false],
    [")", false],
    ["[a", false],
    ["(?-)", false],
  ];
  expect(go.filter(([pattern, ok]) => (re2Problem(pattern) === undefined) !== ok)).toEqual([]);
});

test("a Windows clone's time zone is written out: the provider sets 85 (GMT) when none is given, not the template's", () => {
  const stack = newStack();
  const host = newHost(stack, [
    { address: "3b:00.0", model: A100 },
    { address: "5e:00.0", model: A100 },
  ]);
  const tz = (timeZone?: number) =>
    renderedVm(
      newVm(stack, `w${timeZone ?? "x"}`, host, {
        gpuCount: 1,
        vsphere: { template: "win", customize: { windows: { computerName: "W", timeZone } } },
      }),
    ).clone.customize.windows_options.time_zone;
  expect(tz()).toBe(85);
  expect(tz(110)).toBe(110);
});

describe("a Windows 11 template's vTPM and secure boot survive the clone", () => {
  // The provider removes a cloned vTPM the configuration does not declare (virtual_machine_device_subresource.go
  // 1170-1182) and sends efi_secure_boot_enabled = false when it is unset.
  const win11 = (props: Parameters<typeof newVm>[3] = {}, vsphere: object = {}) => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
    const vm = newVm(stack, "w", host, { gpuCount: 1, ...props, vsphere: { template: "win11", ...vsphere } });
    return { vm, r: renderedVm(vm), manifest: buildManifest(stack) };
  };

  test("by default the VM has a vTPM exactly when the template has one, and the template's secure boot", () => {
    const { r, manifest } = win11();
    const template = /^\$\{data\.vsphere_virtual_machine\.vsphere-dc1_template-win11_\w+/;
    expect(r.dynamic.vtpm.for_each).toMatch(template);
    expect(r.dynamic.vtpm.for_each).toMatch(/\.vtpm \? \["2\.0"\] : \[\]\}$/);
    expect(r.dynamic.vtpm.content).toEqual({ version: "2.0" });
    expect(r.vtpm).toBeUndefined();
    expect(r.efi_secure_boot_enabled).toMatch(template);
    expect(r.efi_secure_boot_enabled).toMatch(/\.efi_secure_boot_enabled\}$/);
    const settings = vmSettings(manifest.vms[0]);
    expect(settings.find((s) => s.setting === "vtpm")).toMatchObject({ value: "as the template" });
    expect(settings.find((s) => s.setting === "secure-boot")).toMatchObject({ value: "as the template" });
  });

  test("vtpm and secureBoot set for the VM win over the template", () => {
    const on = win11({ secureBoot: true }, { vtpm: true }).r;
    expect(on).toMatchObject({ vtpm: { version: "2.0" }, efi_secure_boot_enabled: true });
    expect(on.dynamic).toBeUndefined();
    const off = win11({ secureBoot: false }, { vtpm: false }).r;
    expect(off.efi_secure_boot_enabled).toBe(false);
    expect(off.vtpm).toBeUndefined();
    expect(off.dynamic).toBeUndefined();
  });
});
