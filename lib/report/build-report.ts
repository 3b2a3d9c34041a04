/**
 * Builds the report from the synth output and the plans: the GPU allocation of every host across all stacks, each
 * VM's derived settings, the host steps, the constraints, and what each plan does to the GPU VMs. Rendering is
 * elsewhere (markdown.ts); this is the content, in the JSON shape of model.ts.
 */
import { isObject } from "../plan-values";
import { classifyChange } from "./classify";
import { GpuHolding, findGpuMoves } from "./gpu-moves";
import type { ManifestHost, ManifestVm } from "./manifest";
import type {
  ConstraintGroup,
  HostGpuReport,
  HostReport,
  PassthroughReport,
  PlanReport,
  PlanSummary,
  ResourceChangeReport,
  StackPlanReport,
  VmChange,
  VmReport,
} from "./model";
import { REPORT_FORMAT } from "./model";
import { byText } from "./order";
import { PlanResourceChange, TerraformPlan, effectiveChanges, resourceAddress } from "./plan";
import type { SynthOutput, SynthStack } from "./read-output";
import { isVmType, vmPciFunctions } from "./readings";
import { vmSettings } from "./vm-settings";

/** A parsed plan and the stack it was made for. */
export interface StackPlan {
  readonly stack: string;
  readonly plan: TerraformPlan;
}

interface Placed<T> {
  readonly stack: string;
  /** The stack's directory in the output (manifest.json's workingDirectory), for the paths shown. */
  readonly dir: string;
  readonly item: T;
}

export function buildReport(output: SynthOutput, plans: readonly StackPlan[] = []): PassthroughReport {
  const stacks = [...output.stacks].sort((a, b) => byText(a.name, b.name));
  const hosts: Placed<ManifestHost>[] = stacks.flatMap((s) =>
    [...(s.manifest?.hosts ?? [])]
      .sort((a, b) => byText(a.name, b.name))
      .map((item) => ({ stack: s.name, dir: s.dir, item })),
  );
  const vms: Placed<ManifestVm>[] = stacks.flatMap((s) =>
    [...(s.manifest?.vms ?? [])]
      .sort((a, b) => byText(a.name, b.name))
      .map((item) => ({ stack: s.name, dir: s.dir, item })),
  );
  const hostReports = hosts.map((h) => hostReport(h, vms, stacks));
  const vmReports = vms.map(vmReport);
  const plan = plans.length ? planReport(plans, stacks, hosts, vms) : undefined;

  // A physical host declared in two stacks counts once; its GPU is given if a VM of any stack holds it.
  const gpuStates = new Map<string, HostGpuReport["state"]>();
  for (const h of hostReports) {
    for (const g of h.gpus) {
      const id = `${h.key}|${g.gpu}`;
      if (gpuStates.get(id) !== "given") gpuStates.set(id, g.state);
    }
  }
  const count = (state: HostGpuReport["state"]) => [...gpuStates.values()].filter((s) => s === state).length;

  return {
    format: REPORT_FORMAT,
    summary: {
      stacks: stacks.length,
      hosts: new Set(hostReports.map((h) => h.key)).size,
      vms: vmReports.length,
      gpus: { given: count("given"), free: count("free"), kept: count("kept") },
      ...(plan ? { plan: planSummary(plan, plans) } : {}),
    },
    stacks: stacks.map((s) => ({
      name: s.name,
      hasGpuHosts: !!s.manifest?.hosts.length,
      hosts: (s.manifest?.hosts ?? []).map((h) => h.name).sort(byText),
      vms: (s.manifest?.vms ?? []).map((v) => v.name).sort(byText),
    })),
    hosts: hostReports,
    vms: vmReports,
    constraints: constraintGroups(vms),
    ...(plan ? { plan } : {}),
  };
}

function hostKey(host: ManifestHost): string {
  return host.key ?? `${host.backend}:${host.name}`;
}

function hostReport(
  { stack, dir, item: host }: Placed<ManifestHost>,
  vms: readonly Placed<ManifestVm>[],
  stacks: readonly SynthStack[],
): HostReport {
  const key = hostKey(host);
  const stackHosts = (s: string) => stacks.find((x) => x.name === s)?.manifest?.hosts ?? [];
  // VMs on this physical host, in any stack: the same host may be declared in several.
  const holders = vms.filter(
    (v) => stackHosts(v.stack).some((h) => h.name === v.item.host && hostKey(h) === key) && v.item.gpus.length,
  );
  const gpus = [...host.gpus]
    .sort((a, b) => byText(a.gpu, b.gpu))
    .map((g): HostGpuReport => {
      const base = { gpu: g.gpu, model: g.model, functions: [...g.functions] };
      if (g.role === "host") return { ...base, state: "kept" };
      if (g.vm) return { ...base, state: "given", vm: g.vm };
      const other = holders.find((v) => v.stack !== stack && v.item.gpus.some((x) => x.gpu === g.gpu));
      return other
        ? { ...base, state: "given", vm: other.item.name, vmStack: other.stack }
        : { ...base, state: "free" };
    });
  const prep = stacks.find((s) => s.name === stack)?.hostPrep.get(host.name);
  const script = host.files.find((f) => f.endsWith("prepare-host.sh"));
  return {
    stack,
    name: host.name,
    backend: host.backend,
    key,
    gpus,
    steps: host.steps,
    files: host.files.map((f) => `${dir}/${f}`),
    ...(prep
      ? {
          kvm: {
            kernelArgs: prep.kernelArgs,
            vfioPciIds: prep.vfioPciIds,
            bindBy: prep.bindBy,
            bindReason: prep.bindReason,
            ...(script ? { script: `${dir}/${script}` } : {}),
          },
        }
      : {}),
  };
}

function vmReport({ stack, dir, item: vm }: Placed<ManifestVm>): VmReport {
  const { constraints: _grouped, backendSettings: _inSettings, ...described } = vm;
  return {
    stack,
    ...described,
    otherAddresses: [...vm.otherAddresses].sort(byText),
    settings: vmSettings(vm),
    files: vm.files.map((f) => `${dir}/${f}`),
  };
}

function constraintGroups(vms: readonly Placed<ManifestVm>[]): ConstraintGroup[] {
  const groups = new Map<string, { backend: string; constraints: readonly string[]; vms: string[] }>();
  for (const { stack, item } of vms) {
    const id = JSON.stringify([item.backend, item.constraints]);
    const group = groups.get(id) ?? { backend: item.backend, constraints: item.constraints, vms: [] };
    group.vms.push(`${stack}/${item.name}`);
    groups.set(id, group);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, vms: g.vms.sort(byText) }))
    .sort((a, b) => byText(a.backend, b.backend) || byText(a.vms[0], b.vms[0]));
}

function planReport(
  plans: readonly StackPlan[],
  stacks: readonly SynthStack[],
  hosts: readonly Placed<ManifestHost>[],
  vms: readonly Placed<ManifestVm>[],
): PlanReport {
  const holdings: GpuHolding[] = [];
  const stackPlans = [...plans]
    .sort((a, b) => byText(a.stack, b.stack))
    .map(({ stack, plan }): StackPlanReport => {
      const mine = vms.filter((v) => v.stack === stack).map((v) => v.item);
      const byAddress = new Map(mine.map((vm) => [vm.address, vm]));
      const owner = new Map(mine.flatMap((vm) => vm.otherAddresses.map((a) => [a, vm] as const)));
      const hostOf = hostResolver(stack, hosts, stacks);
      const changes = new Map<
        string,
        { vm: string; vmEntry?: ManifestVm; own?: PlanResourceChange; rest: PlanResourceChange[] }
      >();
      let otherChanges = 0;
      for (const rc of effectiveChanges(plan)) {
        const address = resourceAddress(rc.address);
        const vm = byAddress.get(address);
        const parent = owner.get(address);
        if (vm || (isVmType(rc.type) && !parent)) {
          const key = vm?.address ?? rc.address;
          const entry = changes.get(key) ?? { vm: vm?.name ?? removedVmName(rc), vmEntry: vm, rest: [] };
          changes.set(key, { ...entry, own: rc });
        } else if (parent) {
          const entry = changes.get(parent.address) ?? { vm: parent.name, vmEntry: parent, rest: [] };
          entry.rest.push(rc);
          changes.set(parent.address, entry);
        } else {
          otherChanges++;
        }
      }
      const vmChanges = [...changes.entries()]
        .sort(([a], [b]) => byText(a, b))
        .map(([address, c]): VmChange => {
          const own = c.own;
          const actions = own?.change.actions ?? [];
          const before = own
            ? actions.includes("create") && !actions.includes("delete")
              ? []
              : vmPciFunctions(own.type, own.change.before)
            : undefined;
          const after = own
            ? actions.includes("delete") && !actions.includes("create")
              ? []
              : (vmPciFunctions(own.type, own.change.after, own.change.after_unknown) ??
                c.vmEntry?.pciFunctions.slice().sort())
            : undefined;
          if (own) holdings.push({ stack, vm: c.vm, address, before, after, hostOf: (fn) => hostOf(fn, c.vmEntry) });
          const change = own ? resourceChange(own, before ?? []) : undefined;
          return {
            vm: c.vm,
            address,
            inSynth: !!c.vmEntry,
            ...(c.vmEntry ? { host: c.vmEntry.host } : {}),
            ...(change ? { change } : {}),
            ...(before && actions.some((a) => a !== "create") ? { gpusBefore: before } : {}),
            ...(after && actions.some((a) => a !== "delete") ? { gpusAfter: after } : {}),
            resources: c.rest.sort((a, b) => byText(a.address, b.address)).map((rc) => resourceChange(rc, [])),
          };
        });
      return {
        stack,
        ...(plan.terraform_version ? { terraformVersion: plan.terraform_version } : {}),
        vms: vmChanges,
        otherChanges,
      };
    });
  return { stacks: stackPlans, gpuMoves: findGpuMoves(holdings) };
}

function resourceChange(rc: PlanResourceChange, gpus: readonly string[]): ResourceChangeReport {
  const c = classifyChange(rc);
  // A GPU VM replaced create-before-destroy needs its GPUs twice: the new VM cannot start while the old one runs.
  const cbd =
    c.kind === "replace" && rc.change.actions[0] === "create" && isVmType(rc.type) && gpus.length
      ? `; the new VM cannot power on while the old one holds ${gpus.join(", ")}: remove create_before_destroy`
      : "";
  return {
    address: rc.address,
    type: rc.type,
    actions: rc.change.actions,
    kind: c.kind,
    why: `${c.why}${cbd}`,
    attributes: c.attributes,
    ...(rc.action_reason ? { actionReason: rc.action_reason } : {}),
  };
}

/** A VM the plan deletes that synth no longer has: its name from the plan's values. */
function removedVmName(rc: PlanResourceChange): string {
  const values = isObject(rc.change.before) ? rc.change.before : isObject(rc.change.after) ? rc.change.after : {};
  return typeof values.name === "string" ? values.name : rc.name;
}

/**
 * The host of a PCI function of a VM in `stack`: the VM's own host when synth has the VM; otherwise (a VM the code
 * removed) the host of this stack, then of any stack, that declares a GPU with that function.
 */
function hostResolver(
  stack: string,
  hosts: readonly Placed<ManifestHost>[],
  stacks: readonly SynthStack[],
): (fn: string, vm?: ManifestVm) => { key: string; name: string } {
  return (fn, vm) => {
    const own = vm && stacks.find((s) => s.name === stack)?.manifest?.hosts.find((h) => h.name === vm.host);
    const declaring = (h: Placed<ManifestHost>) => h.item.gpus.some((g) => g.functions.includes(fn));
    const found = own ?? (hosts.find((h) => h.stack === stack && declaring(h)) ?? hosts.find(declaring))?.item;
    return found ? { key: hostKey(found), name: found.name } : { key: `${stack}:?`, name: "(unknown host)" };
  };
}

function planSummary(plan: PlanReport, plans: readonly StackPlan[]): PlanSummary {
  const own = plan.stacks.flatMap((s) => s.vms.flatMap((v) => (v.change ? [v.change] : [])));
  const all = plan.stacks.flatMap((s) => s.vms.flatMap((v) => [...(v.change ? [v.change] : []), ...v.resources]));
  const n = (kind: ResourceChangeReport["kind"]) => own.filter((c) => c.kind === kind).length;
  return {
    stacks: plans.map((p) => p.stack).sort(byText),
    create: n("create"),
    delete: n("delete"),
    updateInPlace: n("update-in-place"),
    reboot: n("reboot"),
    replace: n("replace"),
    gpuMoves: plan.gpuMoves.length,
    errors: all.filter((c) => c.kind === "unsupported-update").length,
  };
}
