/** One builder of test VMs for every hypervisor's helpers: cpus and memory defaulted, options under the kind's key. */
import { Construct } from "constructs";
import type { HypervisorVmOptions } from "../lib/backends/backend";
import { PassthroughHost } from "../lib/host";
import { GpuPassthroughVm, GpuPassthroughVmProps } from "../lib/vm";

/** A test VM's props: the VM's own, cpus and memory optional, and `<kind>: {...}` for its options without the kind. */
export type TestVmProps<O extends HypervisorVmOptions> = Omit<GpuPassthroughVmProps, "host" | "cpus" | "memoryGib"> &
  Partial<Pick<GpuPassthroughVmProps, "cpus" | "memoryGib">> & { [K in O["kind"]]?: Omit<O, "kind"> };

export interface VmDefaults<O extends HypervisorVmOptions> {
  readonly cpus: number;
  readonly memoryGib: number;
  readonly options: Omit<O, "kind">;
  /** Whether given options add to the defaults (vSphere's template) or replace them. */
  readonly merge: boolean;
}

export function vmBuilder<O extends HypervisorVmOptions>(kind: O["kind"], defaults: VmDefaults<O>) {
  return (scope: Construct, id: string, host: PassthroughHost, props: TestVmProps<O>): GpuPassthroughVm => {
    const { [kind]: given, ...rest } = props as Record<string, unknown>;
    const options = given as Omit<O, "kind"> | undefined;
    return new GpuPassthroughVm(scope, id, {
      cpus: defaults.cpus,
      memoryGib: defaults.memoryGib,
      // `<kind>: undefined` given: a VM without the hypervisor's settings.
      hypervisor:
        kind in props && options === undefined
          ? undefined
          : ({
              kind,
              ...(defaults.merge ? { ...defaults.options, ...options } : (options ?? defaults.options)),
            } as HypervisorVmOptions),
      ...(rest as Omit<GpuPassthroughVmProps, "host" | "cpus" | "memoryGib">),
      host,
    });
  };
}
