/**
 * The libvirt domain XML a `libvirt_domain` stands for. The 0.9 provider's schema mirrors the XML (nested attributes
 * named after elements and attributes), so this reads the resource as it will be written, after escape-hatch
 * overrides, and prints the XML a reviewer knows from `virsh dumpxml`. Tests validate it with libvirt's own schema
 * (`virt-xml-validate`) and compare it with what libvirtd stores (`virsh define`/`dumpxml`).
 *
 * The renderer knows the attributes this library sets and common ones around them, not all of the provider's
 * (whose names map to XML through libvirtxml's Go types and hand-written marshalling, not through a rule). Every
 * attribute it reads is recorded; any other one set on the resource is listed in a comment at the top, and
 * {@link unrenderedAttributes} makes it a validation problem, so nothing reaches libvirt unseen.
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
  // A comment cannot hold "--" (XML 1.0).
  const comment = (c: string) => `${indent}  <!--${c.replace(/-(?=-)/g, "- ")}-->`;
  const inner = e.children.map((c) => (typeof c === "string" ? comment(c) : serialize(c, `${indent}  `)));
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

/** Arguments that configure Terraform or the provider's actions, not the domain: no XML, nothing to check. */
const NOT_XML = new Set([
  "//", // cdktf's metadata (construct path)
  "depends_on",
  "provider",
  "lifecycle",
  "count",
  "for_each",
  "provisioner",
  "connection",
  "running",
  "autostart",
  "create",
  "update",
  "destroy",
]);

/** An attribute set on the resource that the XML does not show. */
export interface UnrenderedAttribute {
  /** `devices.hostdevs[0].boot.order` */
  readonly path: string;
  /** The value as JSON, cut to 80 characters. */
  readonly value: string;
}

/**
 * Wraps the resource so that every attribute the renderer reads is recorded by path (`os.loader`,
 * `devices.hostdevs[0].managed`); only attributes that are present count.
 */
function tracked<T>(value: T, path: string, read: Set<string>): T {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value as unknown as object, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver) as unknown;
      if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) return child;
      if (Array.isArray(target) && !/^\d+$/.test(key)) return child;
      const at = Array.isArray(target) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      read.add(at);
      return tracked(child, at, read);
    },
  }) as T;
}

/** Every set value (scalars, and empty objects and lists, which are presence flags) with its path. */
function leaves(value: unknown, path: string, out: [string, unknown][]): [string, unknown][] {
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    if (!value.length) out.push([path, value]);
    value.forEach((v, i) => leaves(v, `${path}[${i}]`, out));
  } else if (typeof value === "object") {
    const keys = Object.keys(value).filter((k) => (value as Attrs)[k] !== undefined && (value as Attrs)[k] !== null);
    if (!keys.length) out.push([path, value]);
    for (const k of keys) if (path || !NOT_XML.has(k)) leaves((value as Attrs)[k], path ? `${path}.${k}` : k, out);
  } else {
    out.push([path, value]);
  }
  return out;
}

function jsonValue(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The XML and the attributes it could not show. */
export function renderDomainXml(resource: Attrs): { xml: string; unrendered: UnrenderedAttribute[] } {
  const read = new Set<string>();
  const root = domainElement(tracked(resource, "", read));
  const unrendered = leaves(resource, "", [])
    .filter(([path]) => !read.has(path))
    .map(([path, value]) => ({ path, value: jsonValue(value) }));
  const note =
    unrendered.length > 0 &&
    ` not shown here, and refused by validation (set on the resource): ${unrendered.map((u) => `${u.path} = ${u.value}`).join(", ")} `;
  const xml = serialize(note ? { ...root, children: [note, ...root.children] } : root);
  return { xml: `${xml}\n`, unrendered };
}

/** Attributes of the resource the domain XML does not show (escape-hatch overrides, setters). */
export function unrenderedAttributes(resource: Attrs): UnrenderedAttribute[] {
  return renderDomainXml(resource).unrendered;
}

export function domainXml(resource: Attrs): string {
  return renderDomainXml(resource).xml;
}

function domainElement(resource: Attrs): Element {
  const os = obj(resource.os) ?? {};
  const cpu = obj(resource.cpu);
  const features = obj(resource.features);
  const devices = obj(resource.devices) ?? {};
  const backing = obj(resource.memory_backing);
  const tune = obj(resource.cpu_tune);
  const qemu = obj(resource.qemu_commandline);
  const nvram = obj(os.nv_ram);
  const hyperv = obj(features?.hyper_v);
  const kvm = obj(features?.kvm);
  const topology = obj(cpu?.topology);
  const memtune = obj(resource.memory_tune);
  const numatune = obj(resource.numa_tune);
  const clock = obj(resource.clock);
  const cells = list(obj(cpu?.numa)?.cell);

  return el(
    "domain",
    { type: str(resource.type), "xmlns:qemu": qemu ? "http://libvirt.org/schemas/domain/qemu/1.0" : undefined },
    el("name", {}, str(resource.name) ?? ""),
    resource.title !== undefined && el("title", {}, str(resource.title) ?? ""),
    resource.description !== undefined && el("description", {}, str(resource.description) ?? ""),
    el("memory", { unit: str(resource.memory_unit) }, str(resource.memory) ?? ""),
    resource.current_memory !== undefined &&
      el("currentMemory", { unit: str(resource.current_memory_unit) }, str(resource.current_memory) ?? ""),
    memtune &&
      el(
        "memtune",
        {},
        ...(["hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"] as const).map(
          (k) => memtune[k] !== undefined && el(k, { unit: str(memtune[`${k}_unit`]) }, str(memtune[k]) ?? ""),
        ),
      ),
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
    el(
      "vcpu",
      { placement: str(resource.vcpu_placement) ?? "static", cpuset: str(resource.vcpu_cpuset) },
      str(resource.vcpu) ?? "",
    ),
    tune &&
      el(
        "cputune",
        {},
        ...list(tune.vcpu_pin).map((p) => el("vcpupin", { vcpu: str(p.vcpu), cpuset: str(p.cpu_set) })),
        obj(tune.emulator_pin) && el("emulatorpin", { cpuset: str(obj(tune.emulator_pin)?.cpu_set) }),
      ),
    numatune &&
      el(
        "numatune",
        {},
        obj(numatune.memory) &&
          el("memory", {
            mode: str(obj(numatune.memory)?.mode),
            nodeset: str(obj(numatune.memory)?.nodeset),
            placement: str(obj(numatune.memory)?.placement),
          }),
        ...list(numatune.mem_nodes).map((n) =>
          el("memnode", { cellid: str(n.cell_id), mode: str(n.mode), nodeset: str(n.nodeset) }),
        ),
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
            ...HYPERV.map(([attr, tag]) => {
              const e = obj(hyperv[attr]);
              return (
                e &&
                el(
                  tag,
                  { ...state(e), retries: str(e.retries), value: str(e.value) },
                  obj(e.direct) && el("direct", state(e.direct)),
                  obj(e.extended) && el("extended", state(e.extended)),
                )
              );
            }),
          ),
        kvm &&
          el(
            "kvm",
            {},
            ...KVM.map(([attr, tag]) => {
              const e = obj(kvm[attr]);
              return e && el(tag, { ...state(e), size: str(e.size) });
            }),
          ),
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
        cells.length > 0 &&
          el(
            "numa",
            {},
            ...cells.map((c) =>
              el("cell", { id: str(c.id), cpus: str(c.cpus), memory: str(c.memory), unit: str(c.unit) }),
            ),
          ),
      ),
    clock &&
      el(
        "clock",
        { offset: str(clock.offset) },
        ...list(clock.timer).map((t) =>
          el("timer", { name: str(t.name), tickpolicy: str(t.tick_policy), present: yesNo(t.present) }),
        ),
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
      ...list(devices.serials).map((c) => chardevXml("serial", c)),
      ...list(devices.consoles).map((c) => chardevXml("console", c)),
      ...list(devices.tpms).map(tpmXml),
      obj(devices.mem_balloon) && el("memballoon", { model: str(obj(devices.mem_balloon)?.model) }),
    ),
    ...(["on_poweroff", "on_reboot", "on_crash"] as const).map(
      (k) => resource[k] !== undefined && el(k, {}, str(resource[k]) ?? ""),
    ),
    qemu &&
      el(
        "qemu:commandline",
        {},
        ...list(qemu.args).map((a) => el("qemu:arg", { value: str(a.value) })),
        ...list(qemu.envs).map((e) => el("qemu:env", { name: str(e.name), value: str(e.value) })),
      ),
  );
}

/** Hyper-V enlightenments: attribute → element, in libvirt's documented order. */
const HYPERV: readonly (readonly [string, string])[] = [
  ["relaxed", "relaxed"],
  ["vapic", "vapic"],
  ["spinlocks", "spinlocks"],
  ["vp_index", "vpindex"],
  ["runtime", "runtime"],
  ["synic", "synic"],
  ["stimer", "stimer"],
  ["reset", "reset"],
  ["vendor_id", "vendor_id"],
  ["frequencies", "frequencies"],
  ["re_enlightenment", "reenlightenment"],
  ["tlb_flush", "tlbflush"],
  ["ipi", "ipi"],
  ["evmcs", "evmcs"],
  ["avic", "avic"],
  ["emsr_bitmap", "emsr_bitmap"],
  ["xmm_input", "xmm_input"],
];

/** KVM features: attribute → element. */
const KVM: readonly (readonly [string, string])[] = [
  ["hidden", "hidden"],
  ["hint_dedicated", "hint-dedicated"],
  ["poll_control", "poll-control"],
  ["pvipi", "pv-ipi"],
  ["dirty_ring", "dirty-ring"],
];

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
  const managed = yesNo(h.managed);
  const boot = obj(h.boot);
  const alias = obj(h.alias);
  // Settings every kind of hostdev takes.
  const common = [
    boot && el("boot", { order: str(boot.order), loadparm: str(boot.load_parm) }),
    alias && el("alias", { name: str(alias.name) }),
  ];
  if (usb) {
    const source = obj(usb.source) ?? {};
    return el(
      "hostdev",
      { mode: "subsystem", type: "usb", managed },
      el(
        "source",
        { startupPolicy: str(source.start_up_policy) },
        obj(source.vendor) && el("vendor", { id: str(obj(source.vendor)?.id) }),
        obj(source.product) && el("product", { id: str(obj(source.product)?.id) }),
      ),
      ...common,
    );
  }
  const rom = obj(h.rom);
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
    ...common,
    rom && el("rom", { bar: str(rom.bar), file: str(rom.file), enabled: str(rom.enabled) }),
  );
}

/**
 * A serial port or console. Without a source the provider (libvirtxml) writes no type and libvirt makes it a pty:
 * shown as libvirt stores it (`virsh dumpxml`), which is also what libvirt's schema requires.
 */
function chardevXml(name: "serial" | "console", c: Attrs): Element {
  const target = obj(c.target);
  const model = obj(target?.model);
  const pty = obj(obj(c.source)?.pty);
  return el(
    name,
    { type: "pty" },
    pty && el("source", { path: str(pty.path) }),
    target &&
      el("target", { type: str(target.type), port: str(target.port) }, model && el("model", { name: str(model.name) })),
  );
}

function tpmXml(t: Attrs): Element {
  const emulator = obj(obj(t.backend)?.emulator);
  return el(
    "tpm",
    { model: str(t.model) },
    emulator && el("backend", { type: "emulator", version: str(emulator.version) }),
  );
}
