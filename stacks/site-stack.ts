/**
 * What every fleet stack does, whatever the hypervisor: its state backend, its hosts, its VMs (those naming GPUs by
 * address first), and one output per host with the steps outside Terraform. A hypervisor's stack adds its
 * provider(s) and says how a fleet host becomes a backend and a fleet VM gets its options.
 */
import { TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { HypervisorBackend } from "../lib/backends/backend";
import { StackPlan, constructId, resolveState, terraformName } from "../lib/fleet/layout";
import { FleetHost, FleetVm } from "../lib/fleet/schema";
import { PassthroughHost } from "../lib/host";
import { markSelfDescribing } from "../lib/problems";
import { childWithId, isPrototypeName } from "../lib/construct-ids";
import { GpuPassthroughVm, GpuPassthroughVmProps } from "../lib/vm";
import { terraformLiteral } from "../lib/terraform-literal";
import { addStateBackend } from "./state-backend";

export interface SiteStackProps {
  readonly plan: StackPlan;
  /** The VMs on this stack's hosts. */
  readonly vms: readonly FleetVm[];
}

export abstract class SiteStack extends TerraformStack {
  public readonly hosts = new Map<string, PassthroughHost>();
  public readonly vms: GpuPassthroughVm[] = [];

  constructor(scope: Construct, props: SiteStackProps) {
    super(scope, props.plan.name);
    addStateBackend(this, resolveState(props.plan.site.state, props.plan.name));
    this.node.addValidation({ validate: () => this.nameProblems });
    markSelfDescribing(this);
  }

  private readonly nameProblems: string[] = [];

  /** Builds hosts and VMs; called by the subclass once its providers exist. */
  protected build(props: SiteStackProps): void {
    for (const h of props.plan.hosts) {
      if (!this.claim(constructId("host", h.name), `host "${h.name}"`)) continue;
      this.hosts.set(
        h.name,
        new PassthroughHost(this, constructId("host", h.name), {
          hostName: h.name,
          backend: this.backendFor(h),
          gpus: h.gpus,
        }),
      );
    }
    // VMs that name their GPUs take them first, so that count-based VMs get what is left.
    const ordered = [...props.vms].sort(
      (a, b) => Number(typeof a.gpus === "number") - Number(typeof b.gpus === "number"),
    );
    for (const v of ordered) {
      const host = this.hosts.get(v.host);
      if (!host) continue; // the fleet loader has already rejected unknown hosts
      if (!this.claim(constructId("vm", v.name), `VM "${v.name}"`)) continue;
      this.vms.push(
        new GpuPassthroughVm(this, constructId("vm", v.name), {
          host,
          name: v.name,
          gpus: typeof v.gpus === "number" ? undefined : v.gpus,
          gpuCount: typeof v.gpus === "number" ? v.gpus : undefined,
          cpus: v.cpus,
          coresPerSocket: v.coresPerSocket,
          memoryGib: v.memoryGib,
          firmware: v.firmware,
          secureBoot: v.secureBoot,
          mmioSizeGb: v.mmioSizeGb,
          hideHypervisor: v.hideHypervisor,
          ...this.vmOptions(v),
        }),
      );
    }
    // After the VMs: a KVM host's preparation follows from the GPUs its VMs take.
    for (const [name, host] of this.hosts) {
      const steps = host.hostSteps();
      if (!steps.length || !this.claim(`host_steps_${terraformName(name)}`, `the host steps output of "${name}"`))
        continue;
      new TerraformOutput(this, `host_steps_${terraformName(name)}`, {
        description: `Steps outside Terraform that ${name} needs before its GPUs can be passed through`,
        value: terraformLiteral(steps.map((s) => s.command ?? `${s.kind}: ${s.description}`)),
      });
    }
  }

  /**
   * Whether `id` is free in this stack. Hosts, VMs, providers, variables and outputs share the stack's ids; a clash
   * becomes a problem reported with the others (cdktf would throw, and the rest of the fleet would go unchecked).
   */
  private claim(id: string, what: string): boolean {
    const holder = childWithId(this, id);
    if (!holder) return true;
    this.nameProblems.push(
      `${what} of stack "${this.node.id}" needs the construct id "${id}", which ${holder.node.path} already has: rename one of them`,
    );
    return false;
  }

  protected abstract backendFor(host: FleetHost): HypervisorBackend;
  protected abstract vmOptions(vm: FleetVm): Pick<GpuPassthroughVmProps, "vsphere" | "libvirt">;

  /**
   * A sensitive variable: set by TF_VAR_<name>, or its default. With no default it is null, so a provider falls back
   * to its own environment variable (VSPHERE_PASSWORD); either way no secret is in the output.
   */
  protected credential(name: string, description: string, defaultValue: string | null = null): string {
    const existing = childWithId(this, name);
    if (existing instanceof TerraformVariable) return existing.stringValue;
    if (existing) {
      this.claim(name, `the variable ${name}`);
      return "";
    }
    if (isPrototypeName(name)) {
      this.nameProblems.push(`the variable name "${name}" is a property of every JavaScript object: choose another`);
      return "";
    }
    const variable = new TerraformVariable(this, name, {
      type: "string",
      sensitive: true,
      nullable: true,
      description,
    });
    variable.addOverride("default", defaultValue);
    return variable.stringValue;
  }
}

/** Host names as Terraform identifiers; defined with the stack layout, which the loader checks. */
