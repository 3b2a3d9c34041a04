/**
 * One site's stack (or one host's, with stackPer: host), whatever the hypervisor: its state backend, the
 * hypervisor's providers (from its plug-in), its hosts and VMs, one output per host with the steps outside
 * Terraform, and the passthrough manifest the report reads.
 */
import { Lazy, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import type { HypervisorPlugin, SiteBinding, SiteScope } from "../lib/backends/plugin";
import { childWithId, isPrototypeName } from "../lib/construct-ids";
import { StackPlan, constructId, resolveState, terraformName } from "../lib/fleet/layout";
import { FleetVm } from "../lib/fleet/schema";
import { PassthroughHost } from "../lib/host";
import { markSelfDescribing } from "../lib/problems";
import { ensureManifest } from "../lib/report/manifest";
import { sensitiveVariable } from "../lib/sensitive-variable";
import { terraformLiteral } from "../lib/terraform-literal";
import { GpuPassthroughVm } from "../lib/vm";
import { addStateBackend } from "./state-backend";

export interface FleetStackProps {
  readonly plan: StackPlan;
  /** The site's hypervisor. */
  readonly hypervisor: HypervisorPlugin;
  /** The VMs on this stack's hosts. */
  readonly vms: readonly FleetVm[];
}

export class FleetStack extends TerraformStack {
  public readonly hypervisor: HypervisorPlugin;
  public readonly hosts = new Map<string, PassthroughHost>();
  public readonly vms: GpuPassthroughVm[] = [];

  private readonly nameProblems: string[] = [];

  /**
   * cdktf resolves every element once more before writing, only to find references to other stacks and add the
   * outputs and remote state they need. A fleet's stacks never reference each other (a VM is in its host's stack,
   * each stack has its own providers and state backend, which is configured here), so that pass would find nothing:
   * skipping it saves a fifth of the example app's synth, with the same output (`__tests__/app.test.ts`).
   */
  public override prepareStack(): void {}

  constructor(scope: Construct, props: FleetStackProps) {
    super(scope, props.plan.name);
    this.hypervisor = props.hypervisor;
    addStateBackend(this, resolveState(props.plan.site.state, props.plan.name));
    this.node.addValidation({ validate: () => this.nameProblems });
    markSelfDescribing(this);
    ensureManifest(this);

    const { kind, fleet } = props.hypervisor;
    const pick = (entry: Readonly<Record<string, unknown>>) =>
      Object.fromEntries(Object.keys(fleet.hostFields).map((key) => [key, entry[key]]));
    const hosts = props.plan.hosts.map((h) => ({ name: h.name, settings: pick(h), gpus: h.gpus }));
    const binding: SiteBinding<unknown, unknown> = fleet.bindSite(
      this.siteScope(props.plan.site.name),
      props.plan.site[kind],
      hosts,
    );

    for (const h of hosts) {
      if (!this.claim(constructId("host", h.name), `host "${h.name}"`)) continue;
      this.hosts.set(
        h.name,
        new PassthroughHost(this, constructId("host", h.name), {
          hostName: h.name,
          backend: binding.backendFor(h),
          gpus: h.gpus,
        }),
      );
    }
    // The order does not matter: the app allocates GPUs in one pass at synth (lib/allocation.ts).
    for (const v of props.vms) {
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
          hypervisor: binding.vmOptions({ name: v.name, host: v.host, settings: v[kind] }),
        }),
      );
    }
    for (const [name, host] of this.hosts) {
      const id = `host_steps_${terraformName(name)}`;
      if (!this.claim(id, `the host steps output of "${name}"`)) continue;
      // Lazy: a KVM host's preparation follows from the GPUs its VMs get, which the app allocates at synth.
      new TerraformOutput(this, id, {
        description: `Steps outside Terraform that ${name} needs before its GPUs can be passed through`,
        value: Lazy.anyValue({
          produce: () => terraformLiteral(host.hostSteps().map((s) => s.command ?? `${s.kind}: ${s.description}`)),
        }),
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

  private siteScope(siteName: string): SiteScope {
    return {
      stack: this,
      siteName,
      credential: (name, description, defaultValue = null) => this.credential(name, description, defaultValue),
      problem: (message) => this.nameProblems.push(message),
    };
  }

  /** The stack's sensitive variable of this name (see lib/sensitive-variable.ts), made once. */
  private credential(name: string, description: string, defaultValue: string | null): string {
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
    return sensitiveVariable(this, name, description, defaultValue).stringValue;
  }
}
