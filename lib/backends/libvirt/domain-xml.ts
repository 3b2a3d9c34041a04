/**
 * The libvirt domain XML a `libvirt_domain` stands for. The 0.9 provider's schema mirrors the XML (nested attributes
 * named after elements and attributes), so this reads the resource as it will be written, after escape-hatch
 * overrides, and prints the XML a reviewer knows from `virsh dumpxml`. Tests validate it with libvirt's own schema
 * (`virt-xml-validate`). Attributes this renderer does not know are listed in a comment, never dropped silently.
 */

type Attrs = Record<string, unknown>;
interface Element {
  readonly name: string;
  readonly attrs: Record<string, string | number | undefined>;
  readonly children: readonly (Element | string)[];
}

const el = (
  name: string,
  attrs: Element["attrs"] = {},
  ...children: (Element | string | undefined | false)[]
): Element => ({ name, attrs, children: children.filter((c): c is Element | string => !!c) });

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function serialize(e: Element, indent = ""): string {
  const attrs = Object.entries(e.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escape(String(v))}"`)
    .join("");
  if (!e.children.length) return `${indent}<${e.name}${attrs}/>`;
  if (e.children.every((c) => typeof c === "string"))
    return `${indent}<${e.name}${attrs}>${e.children.map((c) => escape(c as string)).join("")}</${e.name}>`;
  const inner = e.children.map((c) => (typeof c === "string" ? `${indent}  <!--${c}-->` : serialize(c, `${indent}  `)));
  return `${indent}<${e.name}${attrs}>\n${inner.join("\n")}\n${indent}</${e.name}>`;
}

const obj = (v: unknown): Attrs | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Attrs) : undefined;
const list = (v: unknown): Attrs[] => (Array.isArray(v) ? (v as Attrs[]) : []);
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const hex = (v: unknown, width: number): string | undefined =>
  typeof v === "number" ? `0x${v.toString(16).padStart(width, "0")}` : str(v);
const yesNo = (v: unknown): string | undefined => (typeof v === "boolean" ? (v ? "yes" : "no") : str(v));
const state = (v: unknown): Element["attrs"] => ({ state: str(obj(v)?.state) });

/** Top-level attributes rendered below (or not XML: running, depends_on...); anything else is listed in a comment. */
const RENDERED = new Set([
  "name",
  "type",
  "description",
  "memory",
  "memory_unit",
  "vcpu",
  "running",
  "autostart",
  "os",
  "cpu",
  "cpu_tune",
  "memory_backing",
  "features",
  "devices",
  "qemu_commandline",
  "depends_on",
  "provider",
  "lifecycle",
  "destroy",
  "update",
]);

export function domainXml(resource: Attrs): string {
  const os = obj(resource.os) ?? {};
  const cpu = obj(resource.cpu);
  const features = obj(resource.features);
  const devices = obj(resource.devices) ?? {};
  const backing = obj(resource.memory_backing);
  const tune = obj(resource.cpu_tune);
  const qemu = obj(resource.qemu_commandline);
  // "//" is cdktf's metadata (construct path), not an attribute.
  const unknown = Object.keys(resource).filter((k) => k !== "//" && !RENDERED.has(k) && resource[k] !== undefined);
  const nvram = obj(os.nv_ram);
  const hyperv = obj(features?.hyper_v);
  const kvm = obj(features?.kvm);
  const topology = obj(cpu?.topology);

  const root = el(
    "domain",
    { type: str(resource.type), "xmlns:qemu": qemu ? "http://libvirt.org/schemas/domain/qemu/1.0" : undefined },
    unknown.length > 0 && ` not shown here (set on the resource): ${unknown.join(", ")} `,
    el("name", {}, str(resource.name) ?? ""),
    resource.description !== undefined && el("description", {}, str(resource.description) ?? ""),
    el("memory", { unit: str(resource.memory_unit) }, str(resource.memory) ?? ""),
    backing &&
      el(
        "memoryBacking",
        {},
        obj(backing.memory_huge_pages) &&
          el(
            "hugepages",
            {},
            ...list(obj(backing.memory_huge_pages)?.hugepages).map((p) =>
              el("page", { size: str(p.size), unit: str(p.unit), nodeset: str(p.nodeset) }),
            ),
          ),
        backing.memory_locked === true && el("locked"),
      ),
    el("vcpu", { placement: "static" }, str(resource.vcpu) ?? ""),
    tune &&
      el(
        "cputune",
        {},
        ...list(tune.vcpu_pin).map((p) => el("vcpupin", { vcpu: str(p.vcpu), cpuset: str(p.cpu_set) })),
        obj(tune.emulator_pin) && el("emulatorpin", { cpuset: str(obj(tune.emulator_pin)?.cpu_set) }),
      ),
    el(
      "os",
      {},
      el("type", { arch: str(os.type_arch), machine: str(os.type_machine) }, str(os.type) ?? "hvm"),
      os.loader !== undefined &&
        el(
          "loader",
          { readonly: yesNo(os.loader_readonly), secure: yesNo(os.loader_secure), type: str(os.loader_type) },
          str(os.loader) ?? "",
        ),
      nvram && el("nvram", { template: str(nvram.template) }, str(nvram.nv_ram) ?? ""),
      ...list(os.boot_devices).map((b) => el("boot", { dev: str(b.dev) })),
    ),
    features &&
      el(
        "features",
        {},
        features.acpi === true && el("acpi"),
        obj(features.apic) && el("apic", { eoi: str(obj(features.apic)?.eoi) }),
        hyperv &&
          el(
            "hyperv",
            { mode: str(hyperv.mode) },
            obj(hyperv.relaxed) && el("relaxed", state(hyperv.relaxed)),
            obj(hyperv.vapic) && el("vapic", state(hyperv.vapic)),
            obj(hyperv.spinlocks) &&
              el("spinlocks", { ...state(hyperv.spinlocks), retries: str(obj(hyperv.spinlocks)?.retries) }),
            obj(hyperv.vendor_id) &&
              el("vendor_id", { ...state(hyperv.vendor_id), value: str(obj(hyperv.vendor_id)?.value) }),
          ),
        kvm && el("kvm", {}, obj(kvm.hidden) && el("hidden", state(kvm.hidden))),
        obj(features.smm) && el("smm", state(features.smm)),
        obj(features.ioapic) && el("ioapic", { driver: str(obj(features.ioapic)?.driver) }),
      ),
    cpu &&
      el(
        "cpu",
        { mode: str(cpu.mode), check: str(cpu.check) },
        topology &&
          el("topology", {
            sockets: str(topology.sockets),
            dies: str(topology.dies),
            cores: str(topology.cores),
            threads: str(topology.threads),
          }),
        obj(cpu.max_phys_addr) &&
          el("maxphysaddr", { mode: str(obj(cpu.max_phys_addr)?.mode), bits: str(obj(cpu.max_phys_addr)?.bits) }),
        ...list(cpu.features).map((f) => el("feature", { policy: str(f.policy), name: str(f.name) })),
      ),
    el(
      "devices",
      {},
      ...list(devices.disks).map(diskXml),
      ...list(devices.interfaces).map((i) =>
        el(
          "interface",
          { type: "network" },
          el("source", { network: str(obj(obj(i.source)?.network)?.network) }),
          obj(i.model) && el("model", { type: str(obj(i.model)?.type) }),
        ),
      ),
      ...list(devices.hostdevs).map(hostdevXml),
    ),
    qemu &&
      el(
        "qemu:commandline",
        {},
        ...list(qemu.args).map((a) => el("qemu:arg", { value: str(a.value) })),
        ...list(qemu.envs).map((e) => el("qemu:env", { name: str(e.name), value: str(e.value) })),
      ),
  );
  return `${serialize(root)}\n`;
}

function diskXml(d: Attrs): Element {
  const source = obj(d.source) ?? {};
  const volume = obj(source.volume);
  const file = obj(source.file);
  const driver = obj(d.driver);
  const target = obj(d.target);
  return el(
    "disk",
    { type: volume ? "volume" : "file", device: str(d.device) },
    driver && el("driver", { name: str(driver.name), type: str(driver.type) }),
    volume && el("source", { pool: str(volume.pool), volume: str(volume.volume) }),
    file && el("source", { file: str(file.file) }),
    target && el("target", { dev: str(target.dev), bus: str(target.bus) }),
    d.read_only === true && el("readonly"),
  );
}

function hostdevXml(h: Attrs): Element {
  const pci = obj(h.subsys_pci);
  const usb = obj(h.subsys_usb);
  const rom = obj(h.rom);
  const managed = yesNo(h.managed);
  if (usb) {
    const source = obj(usb.source) ?? {};
    return el(
      "hostdev",
      { mode: "subsystem", type: "usb", managed },
      el(
        "source",
        {},
        obj(source.vendor) && el("vendor", { id: str(obj(source.vendor)?.id) }),
        obj(source.product) && el("product", { id: str(obj(source.product)?.id) }),
      ),
    );
  }
  const address = obj(obj(pci?.source)?.address) ?? {};
  return el(
    "hostdev",
    { mode: "subsystem", type: "pci", managed },
    obj(pci?.driver) && el("driver", { name: str(obj(pci?.driver)?.name) }),
    el(
      "source",
      {},
      el("address", {
        domain: hex(address.domain, 4),
        bus: hex(address.bus, 2),
        slot: hex(address.slot, 2),
        function: hex(address.function, 1),
      }),
    ),
    rom && el("rom", { bar: str(rom.bar), file: str(rom.file), enabled: str(rom.enabled) }),
  );
}
