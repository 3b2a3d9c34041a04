/**
 * Which VM holds which GPU, across every stack of one app, decided in one pass over every VM's request whatever
 * order the VMs were defined in. A physical GPU can belong to one VM only; two stacks that describe the same host
 * share this ledger (it lives on the app's root), so a GPU given twice is caught even when the two VMs are deployed
 * from different stacks.
 *
 * The pass: VMs that name their GPUs by address take them first, then VMs that ask for a count take the lowest
 * free addresses. Within each group VMs go in construct-path order (stack, then VM id), so the result depends on
 * what the app holds, not on the order of the code or the fleet file.
 */
import { Construct, IConstruct } from "constructs";
import { singleton } from "./construct-ids";
import type { HostGpu, PassthroughHost } from "./host";
import { PciAddress } from "./pci/address";
import type { Problem } from "./problems";
import { compareText } from "./text";

export interface GpuClaim {
  /** The claiming VM's name, for messages. */
  readonly vmName: string;
  /** Construct path of the claiming VM, to tell two VMs of the same name in different stacks apart. */
  readonly vmPath: string;
}

/** What one VM asks for: GPUs by address, or a number of the host's free guest GPUs. */
export interface GpuRequest {
  readonly vmName: string;
  readonly vmPath: string;
  /** How messages name the VM: `VM "ws-01"`. */
  readonly subject: string;
  readonly host: PassthroughHost;
  readonly addresses?: readonly (string | PciAddress)[];
  readonly count?: number;
}

/** The outcome for one VM. */
export interface GpuAllocation {
  /** Its GPUs, in the host's address order. */
  readonly gpus: readonly HostGpu[];
  /** Why it did not get what it asked for. */
  readonly problems: readonly Problem[];
}

const LEDGER_ID = "GpuPassthroughLedger";
const NOTHING: GpuAllocation = { gpus: [], problems: [] };

export class GpuLedger extends Construct {
  /** The app-wide ledger, created on first use. */
  public static of(scope: IConstruct): GpuLedger {
    const root = scope.node.root;
    return singleton(root, LEDGER_ID, GpuLedger, () => new GpuLedger(root, LEDGER_ID));
  }

  private readonly requests: GpuRequest[] = [];
  private result?: {
    readonly byVm: Map<string, GpuAllocation>;
    readonly claims: Map<string, GpuClaim[]>;
  };

  /** Records a VM's request; the allocation is made again, over every request, when it is next read. */
  public request(request: GpuRequest): void {
    this.requests.push(request);
    this.result = undefined;
  }

  /** The GPUs the VM at `vmPath` gets, and why it did not get more. */
  public allocationOf(vmPath: string): GpuAllocation {
    return this.allocate().byVm.get(vmPath) ?? NOTHING;
  }

  /** Every VM that claimed this GPU (host key + device), in the order of the pass. */
  public claimants(gpuKey: string): readonly GpuClaim[] {
    return this.allocate().claims.get(gpuKey) ?? [];
  }

  private allocate(): NonNullable<GpuLedger["result"]> {
    if (this.result) return this.result;
    const byVm = new Map<string, GpuAllocation>();
    const claims = new Map<string, GpuClaim[]>();
    const claim = (r: GpuRequest, gpu: HostGpu) => {
      const key = r.host.gpuKey(gpu);
      claims.set(key, [...(claims.get(key) ?? []), { vmName: r.vmName, vmPath: r.vmPath }]);
    };
    const ordered = [...this.requests].sort((a, b) => compareText(a.vmPath, b.vmPath));
    for (const r of ordered.filter((o) => o.addresses !== undefined)) {
      const { gpus, problems } = byAddress(r);
      gpus.forEach((g) => claim(r, g));
      byVm.set(r.vmPath, { gpus, problems });
    }
    for (const r of ordered.filter((o) => o.addresses === undefined && o.count !== undefined)) {
      const free = r.host.guestGpus().filter((g) => !claims.has(r.host.gpuKey(g)));
      const count = r.count ?? 0;
      const problems = free.length < count ? [shortage(r, free, claims)] : [];
      const gpus = free.slice(0, count);
      gpus.forEach((g) => claim(r, g));
      byVm.set(r.vmPath, { gpus, problems });
    }
    // A GPU claimed twice: every claimant after the first is told who holds it.
    for (const r of ordered) {
      const own = byVm.get(r.vmPath);
      if (!own) continue;
      const taken = own.gpus.flatMap((gpu): Problem[] => {
        const [first] = claims.get(r.host.gpuKey(gpu)) ?? [];
        if (!first || first.vmPath === r.vmPath) return [];
        return [
          {
            subject: r.subject,
            message: `GPU ${gpu.label} on ${r.host.subject} is already given to VM "${first.vmName}" (${first.vmPath})`,
            fix: "a GPU can belong to one VM only: give this VM another GPU or remove it from the other VM",
          },
        ];
      });
      if (taken.length) byVm.set(r.vmPath, { gpus: own.gpus, problems: [...own.problems, ...taken] });
    }
    this.result = { byVm, claims };
    return this.result;
  }
}

function byAddress(r: GpuRequest): GpuAllocation {
  const { host } = r;
  const taken: HostGpu[] = [];
  const problems: Problem[] = [];
  (r.addresses ?? []).forEach((given, i) => {
    const where = `${r.subject} gpus[${i}]`;
    const address = typeof given === "string" ? PciAddress.tryParse(given) : given;
    if (typeof address === "string") {
      problems.push({ subject: where, message: address });
      return;
    }
    const gpu = host.findGpu(address);
    // Only for the messages: built when one is needed.
    const guestList = () =>
      host
        .guestGpus()
        .map((g) => `${g.label} (${g.model.name})`)
        .join(", ");
    if (!gpu) {
      problems.push({
        subject: where,
        message: `${host.subject} has no GPU at ${address}`,
        fix: guestList() ? `use one of its guest GPUs: ${guestList()}` : `declare the GPU in ${host.subject}'s gpus`,
      });
    } else if (!gpu.address?.equals(address)) {
      problems.push({
        subject: where,
        message: `${address} is function ${address.fn} of GPU ${gpu.label}; VMs take whole GPUs`,
        fix: `write "${gpu.label}" (all its functions are passed together)`,
      });
    } else if (gpu.role === "host") {
      problems.push({
        subject: where,
        message: `GPU ${address} (${gpu.model.name}) is kept by ${host.subject} (role: host)`,
        fix: guestList() ? `use one of its guest GPUs: ${guestList()}` : `give ${host.subject} a guest GPU`,
      });
    } else if (taken.includes(gpu)) {
      problems.push({ subject: where, message: `GPU ${address} is listed twice`, fix: "list each GPU once" });
    } else {
      taken.push(gpu);
    }
  });
  return { gpus: taken.sort((a, b) => host.gpus.indexOf(a) - host.gpus.indexOf(b)), problems };
}

function shortage(r: GpuRequest, free: readonly HostGpu[], claims: Map<string, GpuClaim[]>): Problem {
  const { host } = r;
  const count = r.count ?? 0;
  const held = host
    .guestGpus()
    .filter((g) => !free.includes(g))
    .map((g) => `${g.label} → ${claims.get(host.gpuKey(g))?.[0]?.vmName}`);
  return {
    subject: r.subject,
    message:
      `asks for ${count} GPU(s) but ${host.subject} has ${free.length} free of ${host.guestGpus().length} guest GPU(s)` +
      (held.length ? ` (taken: ${held.join(", ")})` : ""),
    fix: `${free.length ? `ask for ${free.length} GPU(s) or fewer (gpus: ${free.length} in a fleet file, gpuCount in code), ` : ""}free a GPU, or move the VM to another host`,
  };
}
