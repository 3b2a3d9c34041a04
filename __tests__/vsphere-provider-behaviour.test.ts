/**
 * What vmware/vsphere 2.15.0 does with the rendered VM, read from its source (file:line in each test's comment or
 * in the code it tests): the rendering must survive a real `terraform apply`, not only synthesize.
 */
import { TerraformVariable, Testing } from "cdktf";
import { toolsInstallCommand } from "../lib/backends/vsphere/horizon";
import { re2Problem } from "../lib/backends/vsphere/re2";
import { buildReport } from "../lib/report/build-report";
import { buildManifest } from "../lib/report/manifest";
import { renderMarkdown } from "../lib/report/markdown";
import { vmSettings } from "../lib/report/vm-settings";
import { fleetProblems } from "./fleet-helpers";
import { A100, newHorizonDesktop, newHost, newStack, newVm, problemsOf, renderedVm } from "./helpers";

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
    expect(renderedVm(vm).lifecycle.replace_triggered_by).toEqual([`terraform_data.${name}`]);
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
    expect(on.dynamic.vtpm).toBeUndefined();
    const off = win11({ secureBoot: false }, { vtpm: false }).r;
    expect(off.efi_secure_boot_enabled).toBe(false);
    expect(off.vtpm).toBeUndefined();
    expect(off.dynamic.vtpm).toBeUndefined();
  });
});

describe("the clone declares its template's disks", () => {
  // The provider refuses fewer disks than the template has (virtual_machine_disk_subresource.go:755-759), takes no
  // scsi_type "unknown" (an NVMe template's), and wants a linked clone's disks exactly as the template's (:805-813).
  const clone = (vsphere: object, name = "vm") => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
    const vm = newVm(stack, name, host, { gpuCount: 1, vsphere: { template: "tpl", ...vsphere } });
    const json = synthOf(stack);
    return { vm, r: renderedVm(vm), templates: Object.values<Record<string, any>>(json.data.vsphere_virtual_machine) };
  };
  const conditions = (r: Record<string, any>) =>
    (r.lifecycle.precondition as { condition: string; error_message: string }[]).map((p) => p.error_message);

  test("one disk block per template disk, with its size, provisioning and unit; diskGib sizes the first", () => {
    const { r, templates } = clone({ diskGib: 400 });
    expect(r.disk).toBeUndefined();
    expect(r.dynamic.disk).toEqual({
      for_each: expect.stringMatching(/^\$\{data\.vsphere_virtual_machine\.vsphere-dc1_template-tpl_\w+\.disks\}$/),
      content: {
        label: "disk${disk.key}",
        size: "${disk.key == 0 ? 400 : disk.value.size}",
        thin_provisioned: "${disk.value.thin_provisioned}",
        eagerly_scrub: "${disk.value.eagerly_scrub}",
        unit_number: "${disk.value.unit_number > 7 ? disk.value.unit_number - 1 : disk.value.unit_number}",
        controller_type: "scsi",
      },
    });
    expect(templates).toEqual([
      expect.objectContaining({ scsi_controller_scan_count: 1, nvme_controller_scan_count: 0 }),
    ]);
    expect(clone({}).r.dynamic.disk.content.size).toBe("${disk.value.size}");
  });

  test("an NVMe template: its disks on NVMe, no SCSI controller managed, no scsi_type", () => {
    const { r, templates } = clone({ diskController: "nvme" });
    expect(r).toMatchObject({ scsi_controller_count: 0, nvme_controller_count: 1 });
    expect(r.scsi_type).toBeUndefined();
    expect(r.dynamic.disk.content).toMatchObject({ controller_type: "nvme", unit_number: "${disk.value.unit_number}" });
    expect(templates).toEqual([
      expect.objectContaining({ scsi_controller_scan_count: 0, nvme_controller_scan_count: 1 }),
    ]);
  });

  test("template mismatches fail at plan with a message that names the setting to change", () => {
    const scsi = conditions(clone({ diskGib: 10 }).r);
    expect(scsi).toEqual([
      expect.stringMatching(
        /^template "tpl" has no disk on its first SCSI controller\. Fix: set vsphere\.diskController/,
      ),
      expect.stringMatching(
        /^template "tpl" has no SCSI controller the provider can manage .*"unknown".*diskController: nvme/,
      ),
      expect.stringMatching(/^vsphere\.diskGib 10 is smaller than the first disk of template "tpl"/),
      expect.stringMatching(/^template "tpl" boots with BIOS firmware, and its clone gets EFI/),
    ]);
    const r = clone({}).r;
    expect(r.lifecycle.precondition[0].condition).toMatch(
      /^\$\{\(length\(data\.vsphere_virtual_machine\.\S+\.disks\) >= 1\)\}$/,
    );
    expect(r.lifecycle.precondition[1].condition).toMatch(
      /^\$\{contains\(\["lsilogic", "lsilogic-sas", "pvscsi"\], \S+\.scsi_type\)\}$/,
    );
    expect(conditions(clone({ diskController: "nvme" }).r)).toHaveLength(2);
  });

  test("a linked clone cannot be resized: diskGib with linkedClone is refused", () => {
    const { vm } = clone({ linkedClone: true, diskGib: 100 });
    expect(problemsOf(vm)).toEqual([
      "VM \"vm\": vsphere.diskGib 100 with linkedClone: a linked clone's disks are deltas on the template's snapshot, exactly its size (the provider refuses any other). Fix: leave diskGib out, or make a full clone (linkedClone: false) to grow the disk",
    ]);
  });
});

describe("Dynamic DirectPath I/O, converted by hand after the first apply", () => {
  // A converted device vanishes from pci_device_id on read (resource_vsphere_virtual_machine.go:562-571) and the
  // next apply that adds it back panics on its dynamic backing (virtual_machine_device_subresource.go:1058-1063).
  test("the VM ignores pci_device_id and host_system_id, and the conversion is its after-apply step", () => {
    const stack = newStack();
    const host = newHost(stack, [{ address: "0000:01:00.0", model: "nvidia-rtx-3090" }]);
    const vm = newVm(stack, "ws", host, { gpuCount: 1, vsphere: { template: "t", dynamicDirectPath: true } });
    expect(problemsOf(stack)).toEqual([]);
    expect(renderedVm(vm).lifecycle.ignore_changes).toEqual(["pci_device_id", "host_system_id"]);
    expect(renderedVm(vm).pci_device_id).toEqual(["0000:01:00.0", "0000:01:00.1"]);
    const manifest = buildManifest(stack).vms[0];
    expect(manifest.steps).toEqual([
      {
        when: "after-apply",
        description: expect.stringContaining(
          'remove each PCI device (0000:01:00.0, 0000:01:00.1) and add it back as "Dynamic DirectPath I/O"',
        ),
      },
    ]);
    expect(vmSettings(manifest).find((s) => s.setting === "dynamic-directpath")?.value).toBe(
      "by hand after apply; lifecycle.ignore_changes = [pci_device_id, host_system_id]",
    );
    const markdown = renderMarkdown(
      buildReport({
        stacks: [{ name: "test", dir: "stacks/test", manifest: buildManifest(stack), hostPrep: new Map() }],
      }),
    ).replace(/\n +/g, " ");
    expect(markdown).toContain("- **step after apply**: Convert the VM's PCI devices to Dynamic DirectPath I/O");
    expect(markdown).toContain("- **dynamic-directpath**: by hand after apply;");
  });

  test("without it, Terraform manages the devices", () => {
    const stack = newStack();
    const vm = newVm(stack, "vm", newHost(stack, [{ address: "3b:00.0", model: A100 }]), { gpuCount: 1 });
    expect(renderedVm(vm).lifecycle.ignore_changes).toBeUndefined();
    expect(buildManifest(stack).vms[0].steps).toEqual([]);
  });
});

describe("Horizon: the VMware Tools install runs where it can", () => {
  // After a clone the provider deletes every CD-ROM the configuration does not declare
  // (virtual_machine_cdrom_subresource.go:378-390), and run-once commands wait for the first logon.

  test("without the Tools ISO, the command is a step in the template, not a run-once command the clone cannot run", () => {
    const { stack, vm, r } = newHorizonDesktop({ horizonAgent: true });
    expect(r.clone.customize.windows_options.run_once_command_list).toBeUndefined();
    expect(r.clone.customize.windows_options.auto_logon).toBeUndefined();
    expect(r.cdrom).toBeUndefined();
    expect(vm.steps).toEqual([
      {
        when: "before-apply",
        description: expect.stringMatching(/^In template "win11-efi", install VMware Tools with Horizon's feature set/),
        command: toolsInstallCommand({ horizonAgent: true }),
      },
    ]);
    expect(problemsOf(stack)).toEqual([]);
  });

  test("with the Tools ISO, the clone has it as a CD-ROM, runs the command first and logs on once by itself", () => {
    const { stack, vm, r } = newHorizonDesktop(
      { toolsIso: "[iso-ds] vmtools/windows.iso" },
      { runOnceCommands: ["echo hi"] },
    );
    expect(r.cdrom).toEqual([
      {
        datastore_id: expect.stringMatching(/^\$\{data\.vsphere_datastore\.vsphere-dc1_datastore-iso-ds_\w+\.id\}$/),
        path: "vmtools/windows.iso",
      },
    ]);
    expect(r.clone.customize.windows_options).toMatchObject({
      run_once_command_list: [toolsInstallCommand({}), "echo hi"],
      auto_logon: true,
      auto_logon_count: 1,
    });
    expect(vm.steps).toEqual([]);
    expect(problemsOf(stack)).toEqual([]);
  });

  test("the Tools ISO without an Administrator password, or not a datastore path, is refused", () => {
    expect(problemsOf(newHorizonDesktop({ toolsIso: "[iso] t.iso" }, {}, false).stack)).toEqual([
      'VM "desk": horizon.toolsIso runs the Tools install at the first logon, but without an Administrator password the desktop cannot log on by itself. Fix: give customize.windows.adminPassword (adminPasswordVariable in a fleet file)',
    ]);
    expect(problemsOf(newHorizonDesktop({ toolsIso: "vmtools/windows.iso" }).stack)).toEqual([
      'VM "desk": horizon.toolsIso "vmtools/windows.iso" is not a datastore path. Fix: write it as the vSphere Client shows it: "[datastore1] iso/VMware-tools-windows.iso"',
    ]);
  });

  test("any Windows clone with run-once commands logs on once by itself when it has a password; autoLogon: false opts out", () => {
    const windows = (extra: object, password = true) => {
      const stack = newStack();
      const host = newHost(stack, [{ address: "3b:00.0", model: A100 }]);
      const pw = new TerraformVariable(stack, "pw", { type: "string", sensitive: true });
      const adminPassword = password ? pw.stringValue : undefined;
      const vm = newVm(stack, "w", host, {
        gpuCount: 1,
        vsphere: {
          template: "win",
          customize: { windows: { computerName: "W", runOnceCommands: ["a"], adminPassword, ...extra } },
        },
      });
      return { options: renderedVm(vm).clone.customize.windows_options, problems: problemsOf(stack) };
    };
    expect(windows({}).options).toMatchObject({ auto_logon: true, auto_logon_count: 1 });
    expect(windows({ autoLogon: false }).options.auto_logon).toBeUndefined();
    expect(windows({}, false).options.auto_logon).toBeUndefined();
    expect(windows({ autoLogon: true }, false).problems).toEqual([
      'VM "w": customize.windows.autoLogon needs an Administrator password to log on with. Fix: give customize.windows.adminPassword (adminPasswordVariable in a fleet file)',
    ]);
  });
});

test("a fleet file's toolsIso that is not a datastore path is refused at its key, without echoing it", () => {
  const yaml = [
    "sites: [{ name: s, vsphere: { server: vc.example.com, datacenter: DC } }]",
    "hosts: [{ name: esx01, site: s, datastore: ds, network: n, gpus: [{ address: '0000:41:00.0', model: nvidia-rtx-a4000 }] }]",
    "vms:",
    "  - name: desk",
    "    host: esx01",
    "    gpus: 1",
    "    cpus: 4",
    "    memoryGib: 16",
    "    vsphere:",
    "      template: win11",
    "      customize: { windows: { computerName: DESK, adminPasswordVariable: pw } }",
    "      horizon: { toolsIso: 'https://files.example.com/windows.iso' }",
  ].join("\n");
  expect(fleetProblems(yaml)).toEqual([
    'vms[0].vsphere.horizon.toolsIso (line 12): must be a datastore path as the vSphere Client shows it, e.g. "[datastore1] iso/VMware-tools-windows.iso"',
  ]);
  // A URL with a password gets one problem, which does not repeat it.
  const withSecret = fleetProblems(yaml.replace("https://", "https://u:s3cr3t@"));
  expect(withSecret).toEqual([
    expect.stringMatching(/^vms\[0\]\.vsphere\.horizon\.toolsIso \(line 12\): holds a URL with a password/),
  ]);
  expect(withSecret.join("\n")).not.toContain("s3cr3t");
  expect(fleetProblems(yaml.replace(/'https:[^']+'/, "'[iso] windows.iso'"))).toEqual([]);
});
