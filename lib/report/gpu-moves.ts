/**
 * GPU moves: a PCI function that one VM releases and another takes in the same set of plans. The release must be
 * applied first, since a function belongs to one running VM at a time. Terraform orders changes only along
 * dependencies, and two VMs of one stack do not depend on each other: it may start the taker first, whose power-on
 * then fails ("device busy"). Across stacks, the stacks must be applied in order.
 */
import type { GpuMove } from "./model";
import { byText } from "./order";
import { plural } from "./vm-settings";

/** One VM's GPUs in a plan, before and after; undefined where not known. */
export interface GpuHolding {
  readonly stack: string;
  readonly vm: string;
  readonly address: string;
  readonly before?: readonly string[];
  readonly after?: readonly string[];
  /** The host of one of the VM's PCI functions. */
  readonly hostOf: (fn: string) => { readonly key: string; readonly name: string };
}

export function findGpuMoves(holdings: readonly GpuHolding[]): GpuMove[] {
  const released = new Map<string, { holding: GpuHolding; fn: string; host: string }[]>();
  const taken = new Map<string, { holding: GpuHolding; fn: string }[]>();
  const add = <T>(map: Map<string, T[]>, key: string, value: T) => map.set(key, [...(map.get(key) ?? []), value]);
  for (const h of holdings) {
    if (!h.before || !h.after) continue;
    const before = new Set(h.before);
    const after = new Set(h.after);
    for (const fn of before) {
      if (after.has(fn)) continue;
      const host = h.hostOf(fn);
      add(released, `${host.key}|${fn}`, { holding: h, fn, host: host.name });
    }
    for (const fn of after) if (!before.has(fn)) add(taken, `${h.hostOf(fn).key}|${fn}`, { holding: h, fn });
  }

  // One move per (releasing VM, taking VM), with all the functions that go from one to the other.
  const moves = new Map<string, { from: GpuHolding; to: GpuHolding; host: string; functions: string[] }>();
  for (const [key, releases] of released) {
    for (const r of releases) {
      for (const t of taken.get(key) ?? []) {
        if (t.holding === r.holding) continue;
        const id = `${r.holding.stack}|${r.holding.address}|${t.holding.stack}|${t.holding.address}|${r.host}`;
        const move = moves.get(id) ?? { from: r.holding, to: t.holding, host: r.host, functions: [] };
        move.functions.push(r.fn);
        moves.set(id, move);
      }
    }
  }
  return [...moves.values()]
    .map(({ from, to, host, functions }) => toMove(from, to, host, [...new Set(functions)].sort()))
    .sort((a, b) => byText(a.functions[0], b.functions[0]) || byText(a.to.address, b.to.address));
}

function toMove(from: GpuHolding, to: GpuHolding, host: string, functions: string[]): GpuMove {
  const sameStack = from.stack === to.stack;
  const fns = `${functions.join(", ")}`;
  const what = `function${plural(functions.length)} ${fns}`;
  const advice = sameStack
    ? `Terraform does not order ${from.vm} and ${to.vm} (no dependency between them): it may start ${to.vm} while ` +
      `${from.vm} still holds ${what}, and the apply fails with "device busy". Apply in two steps: first ` +
      `terraform apply -target=${from.address} (release), then terraform apply (take); or release in one pull ` +
      "request and take in the next."
    : `apply stack ${from.stack} (${from.vm} releases ${what}) before stack ${to.stack} (${to.vm} takes it): ` +
      `${to.vm} cannot power on while ${from.vm} holds it.`;
  return {
    host,
    functions,
    from: { stack: from.stack, vm: from.vm, address: from.address },
    to: { stack: to.stack, vm: to.vm, address: to.address },
    sameStack,
    advice,
  };
}
