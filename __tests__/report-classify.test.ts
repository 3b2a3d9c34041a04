/**
 * The rules that turn one planned change into what a reviewer needs to know (in place, reboot, replace, create,
 * delete, an update the provider cannot apply), the GPUs a VM holds in a plan, and the plan parser's refusals.
 */
import { VSPHERE_POWER_OFF } from "../lib/backends/vsphere/plan-reading";
import { changedAttributes, classifyChange } from "../lib/report/classify";
import { compactFunctions } from "../lib/report/markdown";
import { PlanChange, PlanError, PlanResourceChange, effectiveChanges, parsePlan } from "../lib/report/plan";
import { isVmType, vmPciFunctions } from "../lib/report/readings";

function rc(type: string, change: Partial<PlanChange> & Pick<PlanChange, "actions">, extra = {}): PlanResourceChange {
  return {
    address: `${type}.x_ABCDEF12`,
    type,
    name: "x_ABCDEF12",
    change: { before: null, after: null, ...change },
    ...extra,
  };
}

const vsphere = (before: Record<string, unknown>, after: Record<string, unknown>) =>
  rc("vsphere_virtual_machine", {
    actions: ["update"],
    before: { name: "vm", ...before },
    after: { name: "vm", ...after },
  });

describe("vsphere_virtual_machine updates", () => {
  // One example per entry of the provider's "Virtual Machine Reboot" list (docs/resources/virtual_machine.md at
  // v2.15.0), plus num_cpus and vapp, which its code restarts for; disk settings are per disk block.
  const disk = (extra: object) => [{ label: "disk0", size: 100, unit_number: 0, controller_type: "scsi", ...extra }];
  const changes: Record<string, [unknown, unknown]> = {
    alternate_guest_name: ["", "Windows 11"],
    cpu_hot_add_enabled: [false, true],
    cpu_hot_remove_enabled: [false, true],
    cpu_performance_counters_enabled: [false, true],
    "disk.controller_type": [disk({ controller_type: "scsi" }), disk({ controller_type: "nvme" })],
    "disk.unit_number": [disk({ unit_number: 0 }), disk({ unit_number: 1 })],
    "disk.disk_mode": [disk({ disk_mode: "persistent" }), disk({ disk_mode: "independent_persistent" })],
    "disk.write_through": [disk({ write_through: false }), disk({ write_through: true })],
    "disk.disk_sharing": [disk({ disk_sharing: "sharingNone" }), disk({ disk_sharing: "sharingMultiWriter" })],
    efi_secure_boot_enabled: [false, true],
    ept_rvi_mode: ["automatic", "on"],
    enable_disk_uuid: [false, true],
    enable_logging: [false, true],
    extra_config: [{ "pciPassthru.64bitMMIOSizeGB": "128" }, { "pciPassthru.64bitMMIOSizeGB": "256" }],
    firmware: ["bios", "efi"],
    guest_id: ["windows9_64Guest", "windows11_64Guest"],
    hardware_version: [19, 21],
    hv_mode: ["hvAuto", "hvOn"],
    memory: [65536, 131072],
    memory_hot_add_enabled: [false, true],
    nested_hv_enabled: [false, true],
    num_cores_per_socket: [8, 4],
    num_cpus: [8, 16],
    pci_device_id: [["0000:3b:00.0"], ["0000:5e:00.0"]],
    run_tools_scripts_after_power_on: [true, false],
    run_tools_scripts_after_resume: [true, false],
    run_tools_scripts_before_guest_standby: [true, false],
    run_tools_scripts_before_guest_shutdown: [true, false],
    run_tools_scripts_before_guest_reboot: [false, true],
    swap_placement_policy: ["inherit", "vmDirectory"],
    tools_upgrade_policy: ["manual", "upgradeAtPowerCycle"],
    vapp: [[{ properties: { a: "1" } }], [{ properties: { a: "2" } }]],
    vbs_enabled: [false, true],
    vvtd_enabled: [false, true],
    vtpm: [[], [{ version: "2.0" }]],
  };

  test("the table covers every power-off attribute", () => {
    expect(Object.keys(changes).sort()).toEqual([...VSPHERE_POWER_OFF].sort());
  });

  test.each(Object.entries(changes))("%s needs a power-off: reboot", (attr, [before, after]) => {
    const key = attr.split(".")[0];
    const c = classifyChange(vsphere({ [key]: before }, { [key]: after }));
    expect(c.kind).toBe("reboot");
    expect(c.why).toMatch(new RegExp(`^${attr} cannot change while a VM with a passthrough device runs`));
  });

  test("memory_reservation alone changes in place: the provider's restart list does not have it", () => {
    const c = classifyChange(vsphere({ memory_reservation: 65536 }, { memory_reservation: 131072 }));
    expect(c).toMatchObject({
      kind: "update-in-place",
      attributes: [{ path: "memory_reservation", before: "65536", after: "131072" }],
    });
  });

  test("a disk that grows, or a new disk, changes in place; the changed disk setting is named", () => {
    const grow = classifyChange(vsphere({ disk: disk({ size: 100 }) }, { disk: disk({ size: 200 }) }));
    expect(grow).toMatchObject({ kind: "update-in-place", attributes: [{ path: "disk[0].size" }] });
    const added = classifyChange(vsphere({ disk: disk({}) }, { disk: [...disk({}), { label: "disk1", size: 10 }] }));
    expect(added).toMatchObject({ kind: "update-in-place", attributes: [{ path: "disk[1]" }] });
  });

  test("a disk's thin_provisioned or eagerly_scrub cannot change and a disk cannot shrink: the provider refuses it at apply", () => {
    const c = classifyChange(
      vsphere({ disk: disk({ thin_provisioned: true }) }, { disk: disk({ thin_provisioned: false }) }),
    );
    expect(c.kind).toBe("unsupported-update");
    expect(c.why).toMatch(/^provider 2\.15\.0 cannot change disk\.thin_provisioned of an existing disk/);
    expect(c.why).toContain("-replace=vsphere_virtual_machine.x_ABCDEF12");
    const shrink = classifyChange(vsphere({ disk: disk({ size: 200 }) }, { disk: disk({ size: 100 }) }));
    expect(shrink).toMatchObject({
      kind: "unsupported-update",
      why: expect.stringMatching(/cannot change disk\.size/),
    });
  });

  test("extra_config changes in place when extra_config_reboot_required is false", () => {
    const c = classifyChange(
      vsphere(
        { extra_config: { "guestinfo.a": "1" }, extra_config_reboot_required: false },
        { extra_config: { "guestinfo.a": "2" }, extra_config_reboot_required: false },
      ),
    );
    expect(c.kind).toBe("update-in-place");
  });

  test("a network adapter type change or a removed adapter restarts the VM when VMware Tools is not running", () => {
    const nic = (type: string) => ({ network_id: "n1", adapter_type: type });
    const retyped = classifyChange(
      vsphere({ network_interface: [nic("e1000e")] }, { network_interface: [nic("vmxnet3")] }),
    );
    expect(retyped.kind).toBe("reboot");
    expect(retyped.why).toMatch(/^network_interface\.adapter_type .*when VMware Tools is not running in the guest/);
    const removed = classifyChange(
      vsphere({ network_interface: [nic("vmxnet3"), nic("vmxnet3")] }, { network_interface: [nic("vmxnet3")] }),
    );
    expect(removed.kind).toBe("reboot");
    expect(removed.attributes).toEqual([{ path: "network_interface[1]" }]);
  });

  test.each([
    ["annotation", "", "team A"],
    ["folder", "", "gpu"],
    ["custom_attributes", {}, { "101": "ml" }],
    ["tags", [], ["urn:vmomi:InventoryServiceTag:1"]],
    ["name", "vm", "vm-2"],
  ])("%s changes in place", (attr, before, after) => {
    expect(classifyChange(vsphere({ [attr]: before }, { [attr]: after })).kind).toBe("update-in-place");
  });

  test("a power-off attribute known only after apply still means a reboot", () => {
    const change = rc("vsphere_virtual_machine", {
      actions: ["update"],
      before: { pci_device_id: ["0000:3b:00.0"] },
      after: {},
      after_unknown: { pci_device_id: true },
    });
    expect(classifyChange(change)).toMatchObject({
      kind: "reboot",
      attributes: [{ path: "pci_device_id", knownAfterApply: true }],
    });
  });

  test("values are shown for plain settings only, never for extra_config or sensitive ones", () => {
    const change = rc("vsphere_virtual_machine", {
      actions: ["update"],
      before: { num_cpus: 8, memory: 1024, extra_config: { "guestinfo.userdata": "c2VjcmV0" } },
      after: { num_cpus: 16, memory: 2048, extra_config: { "guestinfo.userdata": "bmV3LXNlY3JldA==" } },
      before_sensitive: { memory: true },
      after_sensitive: {},
    });
    const attrs = changedAttributes(change);
    expect(attrs).toEqual([
      { path: "extra_config.guestinfo.userdata" },
      { path: "memory" },
      { path: "num_cpus", before: "8", after: "16" },
    ]);
    expect(JSON.stringify(classifyChange(change))).not.toMatch(/c2VjcmV0|bmV3|1024|2048/);
  });
});

describe("vsphere_virtual_machine clone settings (used only when the VM is cloned)", () => {
  const clone = (windows: object, extra: object = {}) => [
    {
      template_uuid: "t-1",
      timeout: 30,
      customize: [{ windows_options: [{ computer_name: "D1", ...windows }] }],
      ...extra,
    },
  ];
  const replaced = (paths: (string | number)[][]) =>
    rc(
      "vsphere_virtual_machine",
      {
        actions: ["delete", "create"],
        before: { name: "vm", clone: clone({ admin_password: "old" }) },
        after: { name: "vm", clone: clone({ admin_password: "new" }) },
        replace_paths: paths,
      },
      { action_reason: "replace_because_cannot_update" },
    );

  test("a replacement forced by a clone setting says the VM is cloned again, and names the setting", () => {
    const c = classifyChange(replaced([["clone", 0, "customize", 0, "windows_options", 0, "admin_password"]]));
    expect(c.kind).toBe("replace");
    expect(c.why).toMatch(/^anything under clone .* forces a new VM: the provider destroys it and clones it again/);
    expect(c.attributes).toEqual([{ path: "clone[0].customize[0].windows_options[0].admin_password" }]);
    expect(JSON.stringify(c)).not.toMatch(/"(old|new)"/);
  });

  test("a plan that shows a clone change as an update is still a replacement", () => {
    const update = vsphere(
      { clone: clone({ run_once_command_list: ["a"] }) },
      { clone: clone({ run_once_command_list: ["a", "b"] }) },
    );
    const c = classifyChange(update);
    expect(c.kind).toBe("replace");
    expect(c.why).toMatch(/^anything under clone .* forces a new VM/);
  });

  test("an imported VM records its clone settings in place; clone.timeout alone changes in place", () => {
    const imported = vsphere({ imported: true, clone: [] }, { imported: false, clone: clone({}) });
    expect(classifyChange(imported)).toMatchObject({ kind: "update-in-place" });
    expect(classifyChange(imported).why).toMatch(/^an imported VM: the provider records its clone settings in state/);
    const timeout = vsphere({ clone: clone({}, { timeout: 30 }) }, { clone: clone({}, { timeout: 60 }) });
    expect(classifyChange(timeout).kind).toBe("update-in-place");
  });
});

describe("vsphere_virtual_machine moved to another host", () => {
  test("a replacement that changes host_system_id says the VM moves host and is cloned again there", () => {
    const change = rc(
      "vsphere_virtual_machine",
      {
        actions: ["delete", "create"],
        before: { name: "vm", host_system_id: "host-10" },
        after: { name: "vm", host_system_id: "host-20" },
      },
      { action_reason: "replace_by_triggers" },
    );
    const c = classifyChange(change);
    expect(c.kind).toBe("replace");
    expect(c.why).toMatch(
      /^it moves to another host \(host_system_id "host-10" → "host-20"\): a VM with a passthrough/,
    );
  });

  test("a plan that moves a VM in place is an error: the provider cannot apply it", () => {
    const c = classifyChange(vsphere({ host_system_id: "host-10" }, { host_system_id: "host-20" }));
    expect(c.kind).toBe("unsupported-update");
    expect(c.why).toContain("-replace=vsphere_virtual_machine.x_ABCDEF12");
  });
});

describe("libvirt", () => {
  test("any libvirt_domain update stops and restarts the domain", () => {
    for (const [before, after] of [
      [{ vcpu: 4 }, { vcpu: 8 }],
      [{ autostart: false }, { autostart: true }],
      [{ description: "a" }, { description: "b" }],
    ]) {
      expect(classifyChange(rc("libvirt_domain", { actions: ["update"], before, after })).kind).toBe("reboot");
    }
  });

  test("a replacement says which attribute forces it, from replace_paths", () => {
    const change = rc(
      "libvirt_domain",
      { actions: ["delete", "create"], before: { name: "a" }, after: { name: "b" }, replace_paths: [["name"]] },
      { action_reason: "replace_because_cannot_update" },
    );
    expect(classifyChange(change)).toMatchObject({ kind: "replace", why: "the provider cannot update name in place" });
  });

  test("a libvirt_volume update fails unless it only renames or moves the volume", () => {
    const update = (before: object, after: object, after_unknown = {}) =>
      classifyChange(rc("libvirt_volume", { actions: ["update"], before, after, after_unknown }));
    const resize = update({ name: "v", capacity: 1 }, { name: "v", capacity: 2 });
    expect(resize.kind).toBe("unsupported-update");
    expect(resize.why).toContain("-replace=libvirt_volume.x_ABCDEF12");
    expect(update({ name: "a", id: "/p/a", path: "/p/a" }, { name: "b" }, { id: true, path: true }).kind).toBe(
      "update-in-place",
    );
    expect(update({ pool: "default" }, { pool: "fast" }).kind).toBe("update-in-place");
  });

  test("hostdev addresses (decimal numbers) are read as PCI functions", () => {
    const hostdev = (bus: number, fn: number) => ({
      subsys_pci: { source: { address: { domain: 0, bus, slot: 0, function: fn } } },
    });
    const values = { devices: { hostdevs: [hostdev(11, 1), hostdev(11, 0), hostdev(175, 0)] } };
    expect(vmPciFunctions("libvirt_domain", values)).toEqual(["0000:0b:00.0", "0000:0b:00.1", "0000:af:00.0"]);
    expect(vmPciFunctions("libvirt_domain", values, { devices: { hostdevs: true } })).toBeUndefined();
    expect(vmPciFunctions("libvirt_domain", null)).toBeUndefined();
  });
});

describe("actions", () => {
  test.each([
    [["create"], "create"],
    [["delete"], "delete"],
    [["delete", "create"], "replace"],
    [["create", "delete"], "replace"],
    [["update"], "update-in-place"],
  ])("%j is %s", (actions, kind) => {
    const change = rc("terraform_data", {
      actions: actions as PlanChange["actions"],
      before: { a: 1 },
      after: { a: 2 },
    });
    expect(classifyChange(change).kind).toBe(kind);
  });

  test("create-before-destroy and Terraform's reasons are explained", () => {
    const tainted = rc(
      "libvirt_domain",
      { actions: ["create", "delete"] },
      { action_reason: "replace_because_tainted" },
    );
    expect(classifyChange(tainted).why).toBe(
      "the object is tainted (a failed create, or terraform taint) (the new one is created before the old one is destroyed)",
    );
  });

  test("no-op, read, data sources and deposed objects are not changes", () => {
    const plan = parsePlan(
      JSON.stringify({
        format_version: "1.2",
        planned_values: {},
        resource_changes: [
          rc("libvirt_domain", { actions: ["no-op"] }),
          rc("libvirt_domain", { actions: ["read"] }),
          rc("vsphere_host", { actions: ["read"] }, { mode: "data" }),
          rc("libvirt_domain", { actions: ["delete"] }, { deposed: "00000001" }),
          rc("libvirt_domain", { actions: ["update"] }),
        ],
      }),
    );
    expect(effectiveChanges(plan).map((c) => c.change.actions)).toEqual([["update"]]);
  });
});

describe("a resource type no hypervisor's plan reading knows", () => {
  const other = (change: Partial<PlanChange> & Pick<PlanChange, "actions">, extra = {}) =>
    rc("example_machine", change, extra);

  test("an update is told in Terraform's words: in place, values not shown, nested blocks named whole", () => {
    const c = classifyChange(
      other({
        actions: ["update"],
        before: { cpus: 4, disk: [{ size: 1 }], labels: { team: "a" } },
        after: { cpus: 8, disk: [{ size: 2 }], labels: { team: "b" } },
      }),
    );
    expect(c).toEqual({
      kind: "update-in-place",
      why: "cpus, disk, labels change in place",
      attributes: [{ path: "cpus" }, { path: "disk" }, { path: "labels.team" }],
    });
  });

  test("a replacement gives Terraform's reason and paths", () => {
    const c = classifyChange(
      other(
        { actions: ["delete", "create"], before: { host: "a" }, after: { host: "b" }, replace_paths: [["host"]] },
        { action_reason: "replace_because_cannot_update" },
      ),
    );
    expect(c).toMatchObject({ kind: "replace", why: "the provider cannot update host in place" });
  });

  test("it is no GPU VM: no PCI functions are read from it", () => {
    expect(isVmType("example_machine")).toBe(false);
    expect(vmPciFunctions("example_machine", { pci_device_id: ["0000:3b:00.0"] })).toBeUndefined();
  });
});

describe("parsePlan refuses what is not a plan, saying why", () => {
  test.each([
    ["{", /^not JSON \(/],
    ["[]", /^not a Terraform plan in JSON: no format_version/],
    [JSON.stringify({ format_version: "2.0", planned_values: {} }), /^plan format_version 2\.0 is not supported/],
    [JSON.stringify({ format_version: "1.0", values: {} }), /^a Terraform state, not a plan/],
    [JSON.stringify({ format_version: "1.2", resource_changes: {} }), /^resource_changes is not a list$/],
    [
      JSON.stringify({ format_version: "1.2", resource_changes: [{ type: "t" }] }),
      /^resource_changes\[0\]: address is missing \(expected a string\)$/,
    ],
    [
      JSON.stringify({
        format_version: "1.2",
        resource_changes: [{ address: "t.x", type: "t", change: { actions: ["move"] } }],
      }),
      /^resource_changes\[0\] \(t\.x\): change\.actions\[0\] is "move" \(expected one of "no-op", "create", /,
    ],
  ])("%s", (text, message) => {
    expect(() => parsePlan(text)).toThrow(PlanError);
    expect(() => parsePlan(text)).toThrow(message);
  });

  test("a plan without changes is a plan", () => {
    expect(effectiveChanges(parsePlan(JSON.stringify({ format_version: "1.2", planned_values: {} })))).toEqual([]);
  });
});

test("functions of one device are shown together", () => {
  expect(compactFunctions(["0000:0b:00.0", "0000:0b:00.1", "0000:3b:00.0"])).toBe("0000:0b:00.{0,1}, 0000:3b:00.0");
});
