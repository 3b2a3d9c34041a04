import { Construct } from "constructs";
import { HostBinding, HostStep, HypervisorBackend, IPassthroughHost } from "./backends/backend";
import { CustomGpuModel, DisplayMode, GpuModel } from "./gpu/model";
import { resolveGpuModel } from "./gpu/resolve";
import { PciAddress } from "./pci/address";
import { Problem, formatProblem, markSelfDescribing } from "./problems";
import { checkedBeforeSynth } from "./validation/checked-once";
import { hostNameProblem } from "./validation/names";

/** Who a GPU is for: guests, or the host itself (its console or desktop, seed 000's "host GPU"). */
export type GpuRole = "guest" | "host";

/**
 * Finds a device in the hypervisor's inventory when its address is not known (vSphere: `vsphere_host_pci_device`).
 * Hex strings as `lspci -nn` shows them; at least one field.
 */
export interface PciDeviceMatch {
  /**
   * e.g. `10de` (NVIDIA).
   * @default - any vendor
   */
  readonly vendorId?: string;
  /**
   * e.g. `302` (3D controller) or `300` (VGA).
   * @default - any class
   */
  readonly classId?: string;
  /**
   * Regular expression on the device name, e.g. `A100`; on vSphere in Go's RE2 syntax (no lookaround or
   * backreferences).
   * @default - any name
   */
  readonly nameRegex?: string;
}

export interface HostGpuProps {
  /**
   * PCI address of the GPU's first function, e.g. `0000:3b:00.0` (`3b:00.0` is read as domain 0000).
   * Give this or `match`.
   * @default - none: the GPU is found by `match`
   */
  readonly address?: string | PciAddress;
  /**
   * Find the GPU by vendor, class or name instead of by address. Only function 0 is passed, so a GPU with extra
   * functions (HDMI audio) must be declared by address.
   * @default - none: the GPU is declared by address
   */
  readonly match?: PciDeviceMatch;
  /** A catalog id such as `nvidia-a100-80gb`, or a model the catalog lacks, declared by its BAR sizes. */
  readonly model: string | CustomGpuModel;
  /**
   * Workstation boards with display modes (NVIDIA Display Mode Selector: `gpu-passthrough catalog` lists them): with
   * displays enabled BAR1 is 256 MiB, displayless it maps the whole memory.
   * @default "displayless" (the larger BAR1: a window sized for it is never too small)
   */
  readonly displayMode?: DisplayMode;
  /**
   * Consumer boards: Resizable BAR is on in the host's firmware, so BAR1 maps the whole VRAM.
   * @default false (the setting passthrough guides recommend)
   */
  readonly resizableBar?: boolean;
  /**
   * `host` keeps the GPU for the host; no VM may take it.
   * @default - "guest"
   */
  readonly role?: GpuRole;
  /**
   * The NUMA node the GPU's PCIe root hangs off (`/sys/bus/pci/devices/<address>/numa_node`; leave it out where that
   * reads -1): its VM's vCPUs and memory belong on that node.
   * @default - unknown
   */
  readonly numaNode?: number;
  /**
   * The host firmware initialised this GPU as its boot display (`/sys/bus/pci/devices/<address>/boot_vga` reads 1):
   * its ROM is shadowed and the host console is on it, so a guest needs another GPU made primary or a clean vBIOS file.
   * @default false
   */
  readonly bootVga?: boolean;
}

export interface PassthroughHostProps<B extends HostBinding = HostBinding> {
  /** The host's name in the hypervisor's inventory (vCenter host name, or the KVM host's name). */
  readonly hostName: string;
  /** The hypervisor and how to reach the host, e.g. `new VsphereBackend({ datacenter: "dc1" })`. */
  readonly backend: HypervisorBackend<B>;
  /** The host's GPUs: those for guests and any it keeps for itself. */
  readonly gpus: readonly HostGpuProps[];
}

/** One physical GPU of a host: a PCI device with all its functions. */
export interface HostGpu {
  /** Identity on the host: the device part of the address, or the match criteria. */
  readonly key: string;
  /** How messages name it: its address, or its match criteria. */
  readonly label: string;
  /** Address of function 0, when declared by address. */
  readonly address?: PciAddress;
  /** The lookup, when declared by match. */
  readonly match?: PciDeviceMatch;
  readonly model: GpuModel;
  readonly role: GpuRole;
  /** Every function passed together: function 0 first, then the model's extra functions. Empty when matched. */
  readonly functions: readonly PciAddress[];
  /** The NUMA node of its PCIe root, when declared. */
  readonly numaNode?: number;
  /** The host firmware's boot display. */
  readonly bootVga: boolean;
}

/**
 * A hypervisor host and its PCI inventory: which GPUs it gives to guests and which it keeps.
 *
 * VMs take GPUs from a host by count or by address; the host knows which are free, the steps outside Terraform
 * it needs (e.g. toggling DirectPath I/O on ESXi), and reports problems with its inventory at synth.
 */
export class PassthroughHost<B extends HostBinding = HostBinding> extends Construct implements IPassthroughHost {
  public readonly hostName: string;
  public readonly backend: HypervisorBackend<B>;
  /** All GPUs that were declared correctly, in address order. */
  public readonly gpus: readonly HostGpu[];
  /**
   * The backend's rendering of this host, typed by its backend: `VsphereHostBinding` (its `hostData`, PCI lookups),
   * `LibvirtHostBinding` (IOMMU groups, preparation plan). The escape hatch for the host's resources.
   */
  public readonly binding: B;

  private readonly problems: Problem[] = [];

  constructor(scope: Construct, id: string, props: PassthroughHostProps<B>) {
    super(scope, id);
    this.hostName = props.hostName;
    this.backend = props.backend;
    const nameProblem = hostNameProblem(props.hostName);
    if (nameProblem) this.problems.push({ subject: `host name "${props.hostName}"`, message: nameProblem });
    this.gpus = this.declareGpus(props.gpus);
    this.binding = props.backend.bindHost(this);
    this.node.addValidation({
      validate: () =>
        checkedBeforeSynth(this) ? [] : [...this.problems, ...this.binding.problems()].map(formatProblem),
    });
    markSelfDescribing(this);
  }

  /** How this host is named in messages. */
  public get subject(): string {
    return `host "${this.hostName}"`;
  }

  public guestGpus(): HostGpu[] {
    return this.gpus.filter((g) => g.role === "guest");
  }

  /** The GPU whose function 0 is at this address, if the host has it. */
  public findGpu(address: PciAddress): HostGpu | undefined {
    return this.gpus.find((g) => g.address?.sameDevice(address));
  }

  /** Key of a GPU in the app-wide ledger: the same physical GPU gives the same key in every stack. */
  public gpuKey(gpu: HostGpu): string {
    return `${this.backend.hostKey(this.hostName)}|${gpu.key}`;
  }

  /** Steps outside Terraform the host needs for its guest GPUs (DirectPath toggles, BIOS settings, reboot). */
  public hostSteps(): HostStep[] {
    return this.binding.hostSteps();
  }

  private declareGpus(declared: readonly HostGpuProps[]): HostGpu[] {
    const gpus: HostGpu[] = [];
    declared.forEach((d, i) => {
      const where = `${this.subject} gpus[${i}]`;
      const model = resolveGpuModel(d.model, { displayMode: d.displayMode, resizableBar: d.resizableBar });
      if (Array.isArray(model)) model.forEach((message) => this.problems.push({ subject: where, message }));
      const role = d.role ?? "guest";
      const numaNode = d.numaNode;
      if (numaNode !== undefined && !(Number.isInteger(numaNode) && numaNode >= 0 && numaNode <= 1023)) {
        this.problems.push({
          subject: where,
          message: `numaNode ${numaNode} must be an integer from 0 to 1023`,
          fix: "copy it from /sys/bus/pci/devices/<address>/numa_node (gpu-passthrough discover prints it); leave it out where that reads -1",
        });
      }
      const facts = { numaNode, bootVga: d.bootVga === true };
      if ((d.address === undefined) === (d.match === undefined)) {
        this.problems.push({
          subject: where,
          message: "needs an address or a match, not both",
          fix: 'give address: "0000:3b:00.0" (preferred) or match: { vendorId, classId, nameRegex }',
        });
        return;
      }
      if (d.match) {
        const matchProblem = this.matchProblem(d.match);
        if (matchProblem) this.problems.push({ subject: where, message: matchProblem });
        if (matchProblem || Array.isArray(model)) return;
        const label = describeMatch(d.match);
        if (gpus.some((g) => g.label === label)) {
          this.problems.push({
            subject: where,
            message: `two GPUs are declared by the same ${label}, which finds one device`,
            fix: "declare them by address, or give each a distinct nameRegex",
          });
          return;
        }
        gpus.push({ key: label, label, match: d.match, model, role, functions: [], ...facts });
        return;
      }
      const address = typeof d.address === "string" || !d.address ? PciAddress.tryParse(d.address ?? "") : d.address;
      if (typeof address === "string") this.problems.push({ subject: where, message: address });
      if (typeof address === "string" || Array.isArray(model)) return;
      if (address.fn !== 0) {
        this.problems.push({
          subject: where,
          message: `${address} is function ${address.fn}; a GPU is declared by its first function`,
          fix: `write "${address.withFunction(0)}" (its other functions come from the GPU model)`,
        });
        return;
      }
      if (gpus.some((g) => g.address?.sameDevice(address))) {
        this.problems.push({
          subject: where,
          message: `GPU ${address} is declared twice`,
          fix: "declare each GPU once",
        });
        return;
      }
      const functions = [address, ...model.functions.map((f) => address.withFunction(f.fn))];
      gpus.push({ key: address.deviceKey, label: address.toString(), address, model, role, functions, ...facts });
    });
    // Addressed GPUs in lspci order, then matched ones in the order declared.
    return gpus.sort((a, b) =>
      a.address && b.address ? a.address.compare(b.address) : Number(!a.address) - Number(!b.address),
    );
  }

  private matchProblem(match: PciDeviceMatch): string | undefined {
    const { vendorId, classId, nameRegex } = match;
    if (vendorId === undefined && classId === undefined && nameRegex === undefined) {
      return "match needs vendorId, classId or nameRegex";
    }
    for (const [field, value] of [
      ["vendorId", vendorId],
      ["classId", classId],
    ] as const) {
      if (value !== undefined && !/^[0-9a-fA-F]{1,4}$/.test(value))
        return `match.${field} "${value}" must be 1-4 hex digits`;
    }
    // nameRegex's syntax is the backend's: vSphere compiles it with Go's RE2, which JavaScript's RegExp misjudges.
    if (nameRegex !== undefined && nameRegex.length === 0) return "match.nameRegex is empty";
    return undefined;
  }
}

/** `match(vendor 10de, class 302, name /A100/)`: how a matched GPU is named in messages. */
export function describeMatch(match: PciDeviceMatch): string {
  const parts = [
    match.vendorId !== undefined ? `vendor ${match.vendorId.toLowerCase()}` : "",
    match.classId !== undefined ? `class ${match.classId.toLowerCase()}` : "",
    match.nameRegex !== undefined ? `name /${match.nameRegex}/` : "",
  ].filter(Boolean);
  return `match(${parts.join(", ")})`;
}
