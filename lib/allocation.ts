/**
 * Which VM holds which GPU, across every stack of one app. A physical GPU can belong to one VM only; two stacks
 * that describe the same host share this ledger (it lives on the app's root), so a GPU given twice is caught even
 * when the two VMs are deployed from different stacks.
 */
import { Construct, IConstruct } from "constructs";
import { singleton } from "./construct-ids";

export interface GpuClaim {
  /** The claiming VM's name, for messages. */
  readonly vmName: string;
  /** Construct path of the claiming VM, to tell two VMs of the same name in different stacks apart. */
  readonly vmPath: string;
}

const LEDGER_ID = "GpuPassthroughLedger";

export class GpuLedger extends Construct {
  /** The app-wide ledger, created on first use. */
  public static of(scope: IConstruct): GpuLedger {
    const root = scope.node.root;
    return singleton(root, LEDGER_ID, GpuLedger, () => new GpuLedger(root, LEDGER_ID));
  }

  private readonly claims = new Map<string, GpuClaim[]>();

  /** Records that a VM takes the GPU with this key (host key + device). Claims keep their order. */
  public claim(gpuKey: string, claim: GpuClaim): void {
    const list = this.claims.get(gpuKey) ?? [];
    list.push(claim);
    this.claims.set(gpuKey, list);
  }

  /** Every VM that claimed this GPU, first claim first. */
  public claimants(gpuKey: string): readonly GpuClaim[] {
    return this.claims.get(gpuKey) ?? [];
  }

  public isClaimed(gpuKey: string): boolean {
    return this.claimants(gpuKey).length > 0;
  }
}
