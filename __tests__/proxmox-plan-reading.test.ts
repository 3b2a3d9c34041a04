/** How the report reads Proxmox VE's resources in a plan: restarts, replacements, failing updates, PCI functions. */
import { proxmoxPlanReading } from "../lib/backends/proxmox/plan-reading";
import { classifyChange } from "../lib/report/classify";
import type { PlanResourceChange } from "../lib/report/plan";

const VM = "proxmox_virtual_environment_vm";
const MAPPING = "proxmox_hardware_mapping_pci";

const base = {
  name: "ml-box",
  node_name: "pve-01",
  vm_id: 202,
  tags: ["gpu-passthrough"],
  description: "GPU passthrough VM",
  hotplug: "network,disk,usb",
  started: true,
  cpu: [{ type: "host", cores: 16, sockets: 1, hotplugged: 0 }],
  memory: [{ dedicated: 98304, floating: 0, shared: 0, hugepages: null }],
  disk: [{ interface: "scsi0", size: 200, aio: "io_uring", cache: "none" }],
  efi_disk: [{ type: "4m", pre_enrolled_keys: false }],
  hostpci: [{ device: "hostpci0", id: "0000:0c:00.0;0000:0c:00.1", pcie: true, rombar: true }],
  kvm_arguments: "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072",
};

function update(after: object, before: object = base, extra: Partial<PlanResourceChange> = {}): PlanResourceChange {
  return {
    address: `${VM}.ml-box_vm_DEBCFC1B`,
    type: VM,
    name: "ml-box_vm_DEBCFC1B",
    change: { actions: ["update"], before, after: { ...before, ...after } },
    ...extra,
  };
}

const kind = (rc: PlanResourceChange) => {
  const c = classifyChange(rc);
  return { kind: c.kind, why: c.why };
};

describe("updates of a VM", () => {
  test("tags, description and the name change while the VM runs", () => {
    expect(kind(update({ tags: ["gpu-passthrough", "ml"], description: "x", name: "ml-2" }))).toEqual({
      kind: "update-in-place",
      why: "description, name, tags change while the VM runs",
    });
  });

  test.each([
    ["hostpci", { hostpci: [{ ...base.hostpci[0], id: "0000:0b:00.0;0000:0b:00.1" }] }],
    ["kvm_arguments", { kvm_arguments: "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=262144" }],
    ["cpu", { cpu: [{ ...base.cpu[0], cores: 8 }] }],
    ["memory", { memory: [{ ...base.memory[0], dedicated: 131072 }] }],
    ["efi_disk", { efi_disk: [{ type: "4m", pre_enrolled_keys: true }] }],
    ["disk.aio", { disk: [{ ...base.disk[0], aio: "native" }] }],
  ])("%s restarts the VM (shut down, changed, started)", (what, after) => {
    expect(kind(update(after))).toEqual({
      kind: "reboot",
      why: expect.stringMatching(
        new RegExp(`^${what.replace(".", "\\.")} cannot change while the VM runs: provider 0\\.112\\.0 shuts it down`),
      ),
    });
  });

  test("memory grows and vCPUs are hot-plugged in place only with hot plug on", () => {
    const hotplug = { hotplug: "network,disk,usb,memory,cpu" };
    const grown = { memory: [{ ...base.memory[0], dedicated: 131072 }] };
    expect(kind(update(grown, { ...base, ...hotplug })).kind).toBe("update-in-place");
    expect(kind(update({ memory: [{ ...base.memory[0], dedicated: 65536 }] }, { ...base, ...hotplug })).kind).toBe(
      "reboot",
    );
    expect(kind(update({ cpu: [{ ...base.cpu[0], hotplugged: 12 }] }, { ...base, ...hotplug })).kind).toBe(
      "update-in-place",
    );
  });

  test("a disk grows online, never shrinks; other disk settings wait for the next restart", () => {
    expect(kind(update({ disk: [{ ...base.disk[0], size: 400 }] })).kind).toBe("update-in-place");
    expect(kind(update({ disk: [{ ...base.disk[0], size: 100 }] }))).toEqual({
      kind: "unsupported-update",
      why: expect.stringMatching(/^disk\[0\]\.size gets smaller, and PVE cannot shrink a disk .*-replace=/),
    });
    expect(kind(update({ disk: [{ ...base.disk[0], cache: "writeback" }] })).why).toMatch(
      /PVE keeps disk\.cache pending until the VM's next restart/,
    );
  });

  test("started = false shuts the VM down", () => {
    expect(kind(update({ started: false }))).toEqual({ kind: "reboot", why: "started = false shuts the VM down" });
  });
});

describe("replacements", () => {
  const replace = (paths: (string | number)[][]) =>
    kind({
      ...update({}),
      change: { actions: ["delete", "create"], before: base, after: base, replace_paths: paths },
      action_reason: "replace_because_cannot_update",
    });

  test.each([
    [[["clone", 0, "vm_id"]], /^anything under clone forces a new VM: .* \(here clone\[0\]\.vm_id\)$/],
    [[["node_name"]], /^a new node_name forces a new VM \(migrate is off, .*its GPUs belong to the node\)/],
    [[["vm_id"]], /^a new vm_id forces a new VM/],
    [[["efi_disk", 0, "type"]], /^a new EFI disk type forces a new VM, with new \(empty\) EFI variables/],
    [[["tpm_state", 0, "version"]], /^a new TPM version forces a new VM/],
  ])("%j", (paths, why) => {
    expect(replace(paths)).toEqual({ kind: "replace", why: expect.stringMatching(why) });
  });

  test("another path gets Terraform's words", () => {
    expect(replace([["amd_sev"]]).why).toBe("the provider cannot update amd_sev in place");
  });
});

describe("PCI mappings", () => {
  const mapping = (after: object) =>
    kind({
      address: `${MAPPING}.m`,
      type: MAPPING,
      name: "m",
      change: {
        actions: ["update"],
        before: { name: "gpu-pve-01-0000-0b-00", map: [{ path: "0000:0b:00" }] },
        after: { name: "gpu-pve-01-0000-0b-00", map: [{ path: "0000:0b:00" }], ...after },
      },
    });

  test("a renamed mapping fails at apply; a changed map applies, for the VMs' next start", () => {
    expect(mapping({ name: "gpu-pve-02-0000-0b-00" })).toEqual({
      kind: "unsupported-update",
      why: expect.stringMatching(
        /updates a renamed mapping under its new name, .*-replace=proxmox_hardware_mapping_pci\.m/,
      ),
    });
    expect(mapping({ map: [{ path: "0000:0c:00" }] })).toEqual({
      kind: "update-in-place",
      why: expect.stringMatching(/PVE checks it when a VM using it starts/),
    });
  });
});

describe("PCI functions in a plan's values", () => {
  const [reading] = proxmoxPlanReading.resources;
  const functions = (values: unknown, unknown?: unknown) => reading.pciFunctions?.(values, unknown);

  test("the functions of each id; a whole device (short id or mapping) by its function 0", () => {
    expect(functions(base)).toEqual(["0000:0c:00.0", "0000:0c:00.1"]);
    expect(
      functions({
        hostpci: [
          { device: "hostpci0", id: "0b:00" },
          { device: "hostpci1", mapping: "gpu-pve-01-0000-41-00" },
          { device: "hostpci2", mapping: "someone-elses" },
        ],
      }),
    ).toEqual(["0000:0b:00.0", "0000:41:00.0"]);
  });

  test("none while the values are absent or not known until apply", () => {
    expect(functions(null)).toBeUndefined();
    expect(functions(base, { hostpci: [{ mapping: true }] })).toBeUndefined();
    expect(functions({})).toEqual([]);
  });

  test("the words of the report's VM settings", () => {
    expect(proxmoxPlanReading.mmioSetting(128)).toBe("kvm_arguments -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072");
    expect(proxmoxPlanReading.memoryWhy).toMatch(/balloon off \(memory\.floating 0\)/);
  });
});
