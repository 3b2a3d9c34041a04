/**
 * What a KVM backend's host binding does with the planner: the planner's input from the host and its VMs, and the
 * plan written beside the stack, as a script to read and run and as data.
 */
import type { IConstruct } from "constructs";
import { StackFile } from "../stack-file";
import type { HostPrepInput, PlannedGpu } from "./plan";

/**
 * Every guest GPU of the host, with the VM that holds it or "no VM yet", and the GPUs the host keeps. Every guest
 * GPU, as vSphere enables DirectPath on every guest GPU: the preparation does not depend on which VMs exist yet, so a
 * host can be prepared before its VMs, and a GPU declared for guests is on vfio-pci from boot.
 */
export function gpuUse<G extends PlannedGpu & { readonly role: string }>(
  host: { readonly gpus: readonly G[]; guestGpus(): G[] },
  vms: readonly { readonly vmName: string; readonly gpus: readonly G[] }[],
): Pick<HostPrepInput, "assigned" | "kept"> {
  return {
    assigned: host.guestGpus().map((gpu) => ({
      gpu,
      vm: vms.find((vm) => vm.gpus.includes(gpu))?.vmName ?? "no VM yet",
    })),
    kept: host.gpus.filter((g) => g.role === "host"),
  };
}

/**
 * `hosts/<host>/prepare-host.sh` and `hosts/<host>/host-prep.json` in the stack's output, made from `plan` at synth
 * (a KVM host's plan follows from the app's GPU allocation).
 */
export function preparationFiles<P>(
  host: IConstruct & { readonly hostName: string },
  plan: () => P,
  script: (plan: P) => string,
): StackFile[] {
  const dir = `hosts/${host.hostName}`;
  return [
    new StackFile(host, "prepare-host-sh", {
      path: `${dir}/prepare-host.sh`,
      content: () => script(plan()),
      executable: true,
    }),
    new StackFile(host, "host-prep-json", {
      path: `${dir}/host-prep.json`,
      content: () => `${JSON.stringify(plan(), null, 2)}\n`,
    }),
  ];
}

/**
 * `compute` again only when `key` gives other items than last time (compared by identity): a host's plan is read for
 * each of its files, its steps output and the manifest, and follows only from the GPUs its VMs hold.
 */
export function cachedByItems<T>(key: () => readonly unknown[], compute: () => T): () => T {
  let last: { readonly items: readonly unknown[]; readonly value: T } | undefined;
  return () => {
    const items = key();
    if (!last || last.items.length !== items.length || last.items.some((item, i) => item !== items[i])) {
      last = { items, value: compute() };
    }
    return last.value;
  };
}
