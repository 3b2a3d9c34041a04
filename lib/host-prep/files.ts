/** Where a KVM host's preparation is written: beside its stack, as a script to read and run, and as data. */
import type { IConstruct } from "constructs";
import { StackFile } from "../stack-file";

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
