/**
 * What every fleet stack does, whatever the hypervisor: its state backend, its hosts, its VMs (those naming GPUs by
 * address first), and one output per host with the steps outside Terraform. A hypervisor's stack adds its
 * provider(s) and says how a fleet host becomes a backend and a fleet VM gets its options.
 */
import { TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { HypervisorBackend } from "../lib/backends/backend";
import { StackPlan, resolveState, terraformName } from "../lib/fleet/layout";
import { FleetHost, FleetVm } from "../lib/fleet/schema";
import { PassthroughHost } from "../lib/host";
import { GpuPassthroughVm, GpuPassthroughVmProps } from "../lib/vm";
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
  }

  /** Builds hosts and VMs; called by the subclass once its providers exist. */
  protected build(props: SiteStackProps): void {
    for (const h of props.plan.hosts) {
      this.hosts.set(
        h.name,
        new PassthroughHost(this, h.name, { hostName: h.name, backend: this.backendFor(h), gpus: h.gpus }),
      );
    }
    // VMs that name their GPUs take them first, so that count-based VMs get what is left.
    const ordered = [...props.vms].sort(
      (a, b) => Number(typeof a.gpus === "number") - Number(typeof b.gpus === "number"),
    );
    for (const v of ordered) {
      const host = this.hosts.get(v.host);
      if (!host) continue; // the fleet loader has already rejected unknown hosts
      this.vms.push(
        new GpuPassthroughVm(this, v.name, {
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
      if (!steps.length) continue;
      new TerraformOutput(this, `host_steps_${terraformName(name)}`, {
        description: `Steps outside Terraform that ${name} needs before its GPUs can be passed through`,
        value: steps.map((s) => s.command ?? `${s.kind}: ${s.description}`),
      });
    }
  }

  protected abstract backendFor(host: FleetHost): HypervisorBackend;
  protected abstract vmOptions(vm: FleetVm): Pick<GpuPassthroughVmProps, "vsphere" | "libvirt">;

  /**
   * A sensitive variable: set by TF_VAR_<name>, or its default. With no default it is null, so a provider falls back
   * to its own environment variable (VSPHERE_PASSWORD); either way no secret is in the output.
   */
  protected credential(name: string, description: string, defaultValue: string | null = null): string {
    const existing = this.node.tryFindChild(name) as TerraformVariable | undefined;
    if (existing) return existing.stringValue;
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
