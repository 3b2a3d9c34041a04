/**
 * Every domain this library renders is checked by libvirt itself: its XML goes through `virt-xml-validate` (Debian's
 * libvirt-clients, with xmllint from libxml2-utils; .ci/run installs both). A domain libvirt would reject fails here.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { TerraformStack, Testing } from "cdktf";
import { domainXml } from "../lib/backends/libvirt/domain-xml";
import { StackFile } from "../lib/stack-file";
import { GpuPassthroughVm } from "../lib/vm";
import { newKvmHost, newKvmStack, newKvmVm, renderedDomain } from "./libvirt-helpers";

const dir = mkdtempSync(join(tmpdir(), "gpt-xml-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function validate(name: string, xml: string): { ok: boolean; output: string } {
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  const run = spawnSync("virt-xml-validate", [file, "domain"], { encoding: "utf8" });
  if (run.error) {
    throw new Error(
      `virt-xml-validate could not run (${run.error.message}): install it with "apt-get install libvirt-clients libxml2-utils" (.ci/run does)`,
    );
  }
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

function xmlOf(vm: GpuPassthroughVm): string {
  const file = StackFile.of(TerraformStack.of(vm)).find((f) => f.path === `domains/${vm.vmName}.xml`);
  return file ? file.content(JSON.parse(Testing.synth(TerraformStack.of(vm)))) : "";
}

describe("domain XML, validated by libvirt's schema", () => {
  test("libvirt rejects a broken domain, so this check can fail", () => {
    const result = validate(
      "broken",
      domainXml({ name: "x", type: "kvm", memory: 1024, memory_unit: "parsecs", vcpu: 1 }),
    );
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/fails to validate|Invalid|Relax-NG/i);
  });

  test("every domain variant validates: consumer GPU hidden, secure boot, BIOS, large BAR, huge pages, ROM, USB", () => {
    const stack = newKvmStack();
    const ws = newKvmHost(stack);
    const server = newKvmHost(
      stack,
      [
        { address: "0000:17:00.0", model: "nvidia-l40s" },
        { address: "0000:31:00.0", model: "nvidia-l40s" },
        { address: "0000:65:00.0", model: "nvidia-t4" },
      ],
      {
        cpuVendor: "intel",
        distro: "fedora",
        iommuGroups: [
          { id: 40, devices: ["0000:17:00.0"], bridges: ["0000:16:00.0"] },
          { id: 52, devices: ["0000:31:00.0"] },
          { id: 60, devices: ["0000:65:00.0"] },
        ],
      },
      "kvm-01",
    );
    const vms = [
      newKvmVm(stack, "gaming", ws, {
        gpus: ["0000:0b:00.0"],
        libvirt: {
          guestOs: "windows",
          baseImage: "/img/win11.qcow2",
          vcpuPins: ["8", "9", "10", "11", "12", "13", "14", "15"],
          gpuRom: { file: "/usr/share/vgabios/3080.rom", bar: false },
          usbDevices: [{ vendorId: "046d", productId: "c52b" }],
          hypervisorVendorId: "AuthenticAMD",
        },
      }),
      newKvmVm(stack, "train", server, {
        gpus: ["0000:17:00.0", "0000:31:00.0"],
        cpus: 32,
        coresPerSocket: 16,
        memoryGib: 256,
        secureBoot: true,
        libvirt: {
          baseImage: "/img/noble.img",
          cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"] },
          hugepages: "1G",
        },
      }),
      newKvmVm(stack, "legacy", server, { gpus: ["0000:65:00.0"], firmware: "bios" }),
    ];
    for (const vm of vms) {
      const xml = xmlOf(vm);
      expect(xml).toMatch(/^<domain type="kvm"/);
      // The XML shows every attribute the library sets.
      expect(xml).not.toContain("not shown");
      expect(vm.validate()).toEqual([]);
      const result = validate(vm.vmName, xml);
      if (!result.ok) throw new Error(`libvirt rejects the domain XML of ${vm.vmName}:\n${result.output}\n${xml}`);
    }
    // What a reviewer looks for in the gaming VM's XML.
    const gaming = xmlOf(vms[0]);
    expect(gaming).toContain('<address domain="0x0000" bus="0x0b" slot="0x00" function="0x0"/>');
    expect(gaming).toContain('<address domain="0x0000" bus="0x0b" slot="0x00" function="0x1"/>');
    expect(gaming).toContain('<hidden state="on"/>');
    expect(gaming).toContain('<vendor_id state="on" value="AuthenticAMD"/>');
    expect(gaming).toContain('<rom bar="off" file="/usr/share/vgabios/3080.rom"/>');
    expect(gaming).toContain('<vendor id="0x046d"/>');
    const train = xmlOf(vms[1]);
    expect(train).toContain('<qemu:arg value="name=opt/ovmf/X-PciMmio64Mb,string=262144"/>');
    expect(train).toContain(
      '<loader readonly="yes" secure="yes" type="pflash">/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd</loader>',
    );
    expect(train).toContain('<smm state="on"/>');
    expect(train).toContain('<page size="1048576" unit="KiB"/>');
  });

  test("the XML shows escape-hatch overrides it knows, top level and nested", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "vm", newKvmHost(stack), { gpus: ["0000:0b:00.0"] });
    vm.resource.addOverride("vcpu", 6);
    vm.resource.addOverride("on_crash", "restart");
    vm.resource.addOverride("devices.hostdevs.0.boot.order", 1);
    expect(renderedDomain(vm).vcpu).toBe(6);
    const xml = xmlOf(vm);
    expect(xml).toContain('<vcpu placement="static">6</vcpu>');
    expect(xml).toContain("<on_crash>restart</on_crash>");
    expect(xml).toContain('<boot order="1"/>');
    expect(xml).not.toContain("not shown");
    expect(vm.validate()).toEqual([]);
    expect(validate("override", xml).ok).toBe(true);
  });

  test("what the XML renders beyond the library's own settings is in provider 0.9.7's schema and validates", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "vm", newKvmHost(stack), {
      gpus: ["0000:0b:00.0"],
      libvirt: {
        guestOs: "windows",
        baseImage: "/img/win11.qcow2",
        usbDevices: [{ vendorId: "046d", productId: "c52b" }],
      },
    });
    const on = { state: "on" };
    const overrides: Record<string, unknown> = {
      title: "Gaming",
      current_memory: 16384,
      current_memory_unit: "MiB",
      vcpu_placement: "static",
      vcpu_cpuset: "8-15",
      on_poweroff: "destroy",
      on_reboot: "restart",
      on_crash: "destroy",
      "features.hyper_v": {
        mode: "custom",
        relaxed: on,
        vapic: on,
        spinlocks: { state: "on", retries: 8191 },
        vp_index: on,
        runtime: on,
        synic: on,
        stimer: { state: "on", direct: on },
        reset: on,
        vendor_id: { state: "on", value: "0123456789ab" },
        frequencies: on,
        re_enlightenment: on,
        // tlbflush's direct/extended, emsr_bitmap and xmm_input are newer than libvirt 9.0's schema, which checks this.
        tlb_flush: on,
        ipi: on,
        evmcs: { state: "off" },
        avic: on,
      },
      "features.kvm": {
        hidden: on,
        hint_dedicated: on,
        poll_control: on,
        pvipi: on,
        dirty_ring: { state: "on", size: 4096 },
      },
      "devices.hostdevs.0.boot": { order: 1 },
      "devices.hostdevs.0.alias": { name: "ua-gpu" },
      "devices.hostdevs.2.alias": { name: "ua-keyboard" },
    };
    for (const [path, value] of Object.entries(overrides)) vm.resource.addOverride(path, value);
    expect(vm.validate()).toEqual([]);
    const schema = JSON.parse(
      readFileSync(join(__dirname, "..", "lib", "backends", "libvirt", "provider", "schema.json"), "utf8"),
    ).provider_schemas["registry.terraform.io/dmacvicar/libvirt"].resource_schemas.libvirt_domain.block;
    const notInSchema = leafPaths(renderedDomain(vm))
      .filter((p) => !["//", "depends_on", "provider"].includes(p.split(/[.[]/)[0]))
      .filter((p) => !schemaHas(schema, p.replace(/\[\d+\]/g, "").split(".")));
    expect(notInSchema).toEqual([]);
    const xml = xmlOf(vm);
    for (const tag of [
      "<vpindex",
      "<tlbflush",
      "<reenlightenment",
      "<hint-dedicated",
      "<pv-ipi",
      '<alias name="ua-gpu"/>',
    ])
      expect(xml).toContain(tag);
    const result = validate("all-known", xml);
    if (!result.ok) throw new Error(`libvirt rejects the XML:\n${result.output}\n${xml}`);
  });

  test("an override the XML cannot show, also nested, is listed in the XML and fails validation with its path and value", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "vm", newKvmHost(stack), { gpus: ["0000:0b:00.0"] });
    vm.resource.addOverride("os.firmware", "efi");
    vm.resource.addOverride("devices.hostdevs.0.subsys_pci.source.write_filtering", "no");
    const xml = xmlOf(vm);
    expect(xml).toContain('os.firmware = "efi"');
    expect(xml).toContain('devices.hostdevs[0].subsys_pci.source.write_filtering = "no"');
    const problems = vm
      .validate()
      .map((p) => `${p.message} Fix: ${p.fix}`)
      .sort();
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^libvirt_domain attribute devices\.hostdevs\[0\]\.subsys_pci\.source\.write_filtering = "no" /,
    );
    expect(problems[1]).toMatch(/^libvirt_domain attribute os\.firmware = "efi" .*domains\/vm\.xml.* Fix: remove it/);
  });

  test("the example fleet's domains are written beside their stacks and all validate", () => {
    const out = mkdtempSync(join(tmpdir(), "gpt-example-"));
    try {
      const run = spawnSync(process.execPath, [join(__dirname, "..", "dist", "main.js")], {
        cwd: join(__dirname, ".."),
        env: { ...process.env, CDKTF_OUTDIR: out, FLEET_FILE: "fleet.yaml" },
        encoding: "utf8",
      });
      expect(run.stderr).toBe("");
      const domains = readdirSync(join(out, "stacks")).flatMap((stack) => {
        const d = join(out, "stacks", stack, "domains");
        return readdirSync(join(out, "stacks", stack)).includes("domains") ? readdirSync(d).map((f) => join(d, f)) : [];
      });
      expect(domains.map((f) => f.split("/").pop()).sort()).toEqual([
        "kvm-train-01.xml",
        "kvm-train-02.xml",
        "ws-gaming.xml",
      ]);
      for (const file of domains) {
        const result = validate(`example-${file.split("/").pop()}`, readFileSync(file, "utf8"));
        if (!result.ok) throw new Error(`libvirt rejects ${file}:\n${result.output}`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

/** Paths of every set value: `devices.hostdevs[0].managed`. */
function leafPaths(value: unknown, path = ""): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, `${path}[${i}]`));
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length ? entries.flatMap(([k, v]) => leafPaths(v, path ? `${path}.${k}` : k)) : [path];
  }
  return [path];
}

/** Whether a libvirt_domain attribute path (no list indices) is in the provider schema's block. */
function schemaHas(block: { attributes: Record<string, any> }, path: string[]): boolean {
  let attrs: Record<string, any> | undefined = block.attributes;
  for (const name of path) {
    const a: any = attrs?.[name];
    if (!a) return false;
    attrs = a.nested_type?.attributes;
  }
  return true;
}
