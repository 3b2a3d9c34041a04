/**
 * Hosts and VMs of any hypervisor, built through its plug-in (lib/backends/<kind>/plugin.ts) the way a fleet site
 * is: its `bindSite` with the plug-in's own example site and host settings, then `backendFor` and `vmOptions`. One
 * builder for every hypervisor, so a suite parameterized over the registry needs no per-backend copy (helpers.ts
 * builds vSphere by hand, libvirt-helpers.ts libvirt).
 */
import { App, TerraformStack, Testing } from "cdktf";
import type { HypervisorPlugin, SiteBinding } from "../lib/backends/plugin";
import { HostGpuProps, PassthroughHost } from "../lib/host";
import { sensitiveVariable } from "../lib/sensitive-variable";
import { GpuPassthroughVm, GpuPassthroughVmProps } from "../lib/vm";
import { appProblems } from "../lib/validation/app";

export interface PluginSite {
  readonly plugin: HypervisorPlugin;
  readonly app: App;
  readonly stack: TerraformStack;
  readonly binding: SiteBinding<unknown, unknown>;
  /** Problems the plug-in reported about the site while binding it. */
  readonly siteProblems: readonly string[];
}

/**
 * A stack with the plug-in's providers for hosts of these names, each with the plug-in's example host settings.
 * Credentials the plug-in asks for are sensitive variables without a default, as in a fleet stack.
 */
export function pluginSite(plugin: HypervisorPlugin, hostNames: readonly string[] = ["gpu-01"]): PluginSite {
  const app = Testing.app();
  const stack = new TerraformStack(app, "site");
  const siteProblems: string[] = [];
  const variables = new Map<string, string>();
  const binding = plugin.fleet.bindSite(
    {
      stack,
      siteName: "site",
      credential: (name, description, defaultValue = null) => {
        const known = variables.get(name);
        if (known !== undefined) return known;
        const variable = sensitiveVariable(stack, name, description, defaultValue);
        variables.set(name, variable.stringValue);
        return variable.stringValue;
      },
      problem: (message) => siteProblems.push(message),
    },
    plugin.fleet.example.site,
    hostNames.map((name) => ({ name, settings: plugin.fleet.example.host })),
  ) as SiteBinding<unknown, unknown>;
  return { plugin, app, stack, binding, siteProblems };
}

/** A host of the site, with the plug-in's example host settings and these GPUs. */
export function newPluginHost(site: PluginSite, gpus: readonly HostGpuProps[], hostName = "gpu-01"): PassthroughHost {
  return new PassthroughHost(site.stack, hostName, {
    hostName,
    backend: site.binding.backendFor({ name: hostName, settings: site.plugin.fleet.example.host }),
    gpus: [...gpus],
  });
}

/** A VM on `host` with the plug-in's example VM settings; cpus and memory default to 8 and 16 GiB. */
export function newPluginVm(
  site: PluginSite,
  host: PassthroughHost,
  id: string,
  props: Omit<GpuPassthroughVmProps, "host" | "hypervisor" | "cpus" | "memoryGib"> &
    Partial<Pick<GpuPassthroughVmProps, "cpus" | "memoryGib">>,
): GpuPassthroughVm {
  return new GpuPassthroughVm(site.stack, id, {
    cpus: 8,
    memoryGib: 16,
    ...props,
    host,
    hypervisor: site.binding.vmOptions({
      name: props.name ?? id,
      host: host.hostName,
      settings: site.plugin.fleet.example.vm,
    }),
  });
}

/** The synthesized attributes of the VM's provider resource, as cdk.tf.json holds them. */
export function synthesizedVmResource(vm: GpuPassthroughVm): Record<string, unknown> {
  const json = JSON.parse(Testing.synth(TerraformStack.of(vm))) as {
    resource: Record<string, Record<string, Record<string, unknown>>>;
  };
  return json.resource[vm.resource.terraformResourceType][vm.resource.friendlyUniqueId];
}

/** Every problem of the app that holds the site, the site's own first. */
export function problemsOf(site: PluginSite): string[] {
  return [...site.siteProblems, ...appProblems(site.app)];
}
