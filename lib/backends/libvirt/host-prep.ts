/**
 * The preparation plan of a libvirt/KVM host (lib/host-prep plans it from the VMs that use the host), with what only
 * libvirt needs on top: the recovery from a failed first start. It is data (`host-prep.json`, for scripts and the
 * report) and a commented shell script (`prepare-host.sh`, for people), both written into the stack's synth output.
 */
import { HostPreparation, HostPrepInput as PlannerInput, planHostPreparation } from "../../host-prep/plan";
import { preparationScript } from "../../host-prep/script";
import { shellQuote } from "../../shell";
import { HostDistro } from "./distro";

export type { CpuVendor } from "../../host-prep/cpu";
export type { PreparedFunction } from "../../host-prep/plan";

export interface HostPrepPlan extends HostPreparation {
  readonly distro: HostDistro;
  /**
   * What to run on the host when a VM's first start fails: provider 0.9.7 then leaves the domain defined outside
   * Terraform's state, and no setting avoids it. Never run by the script: only after such a failure.
   */
  readonly recovery: { readonly when: string; readonly commands: readonly string[] };
}

/** The neutral planner's input, on libvirt's distributions, with the domains a failed first start can leave. */
export interface HostPrepInput extends Omit<PlannerInput, "distro"> {
  readonly distro: HostDistro;
  /** The host's domains with NVRAM (EFI firmware), which a failed first start leaves behind. @default - none */
  readonly nvramVms?: readonly string[];
}

/**
 * Why a first start can leave a domain behind (provider 0.9.7, domain_resource.go Create): the domain is defined, its
 * start fails, and the cleanup calls virDomainUndefine without flags, which libvirt refuses once the start has copied
 * the NVRAM template ("cannot undefine domain with nvram"; libvirt 9.0 copies it before QEMU or the hostdevs can
 * fail). The domain stays defined but not in Terraform's state, so the next apply fails.
 */
export const FIRST_START_FAILURE =
  'a VM\'s first start fails at apply ("Failed to Start Domain"), provider 0.9.7 cannot undefine it ' +
  '(libvirt: "cannot undefine domain with nvram") and the next apply fails because the domain already exists: ' +
  "fix what made the start fail, run this as root on the host (the domain never ran: its NVRAM is the template's copy), then apply again";

/** The host command that removes a domain left by a failed first start, NVRAM included. */
export const undefineCommand = (vm: string): string => `virsh undefine --nvram ${shellQuote(vm)}`;

export function hostPrepPlan(input: HostPrepInput): HostPrepPlan {
  return {
    ...planHostPreparation(input),
    distro: input.distro, // the same value, typed as libvirt's distributions
    recovery: {
      when: FIRST_START_FAILURE,
      commands: [...new Set(input.nvramVms ?? [])].map(undefineCommand),
    },
  };
}

/** The plan as a shell script to read, then run as root on the host. */
export function hostPrepScript(plan: HostPrepPlan): string {
  return preparationScript(plan, plan.recovery);
}
