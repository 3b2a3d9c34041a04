/**
 * One check per stack that no `vsphere_virtual_machine_snapshot` targets a GPU VM (vSphere cannot snapshot a VM
 * with a passthrough device). It walks the stack once, however many VMs it holds.
 */
import { TerraformStack } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { singleton } from "../../construct-ids";
import { formatProblem, markSelfDescribing } from "../../problems";
import type { GpuPassthroughVm } from "../../vm";
import { snapshotProblems } from "./vm-rules";

const RULE_ID = "gpu-passthrough-snapshot-rule";

export class VsphereSnapshotRule extends Construct {
  /** The rule of the stack that holds `scope`, created on first use. */
  public static of(scope: IConstruct): VsphereSnapshotRule {
    const stack = TerraformStack.of(scope);
    return singleton(stack, RULE_ID, VsphereSnapshotRule, () => new VsphereSnapshotRule(stack));
  }

  private readonly vms: GpuPassthroughVm[] = [];

  private constructor(stack: TerraformStack) {
    super(stack, RULE_ID);
    this.node.addValidation({ validate: () => snapshotProblems(stack, this.vms).map(formatProblem) });
    markSelfDescribing(this);
  }

  public watch(vm: GpuPassthroughVm): void {
    this.vms.push(vm);
  }
}
