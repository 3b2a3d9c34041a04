/**
 * A hypervisor as a plug-in: everything the core needs from one, so that the fleet loader, the fleet stacks and the
 * report iterate the registry (./registry.ts) instead of naming hypervisors. A hypervisor's folder exports one
 * {@link HypervisorPlugin}; adding a hypervisor is a folder and a line in the registry.
 */
import type { TerraformStack } from "cdktf";
import type { z } from "zod";
import type { BackendLimits, HypervisorBackend, HypervisorVmOptions } from "./backend";
import type { PlanReading } from "./plan-reading";

/** What a plug-in's site binding can ask of the stack it builds into. */
export interface SiteScope {
  readonly stack: TerraformStack;
  /** The site's name, for messages. */
  readonly siteName: string;
  /**
   * A sensitive Terraform variable, set by TF_VAR_<name> or its default; a name already made returns the same
   * variable. Secrets never come from the fleet file.
   */
  credential(name: string, description: string, defaultValue?: string | null): string;
  /** Reports a problem with the site's configuration with the stack's other problems. */
  problem(message: string): void;
}

/** A fleet host as a plug-in sees it: its name, and the host keys the plug-in declared (`hostFields`), checked. */
export interface PluginFleetHost<H> {
  readonly name: string;
  readonly settings: H;
}

/** A fleet VM as a plug-in sees it: its name and host, and its own block (`vms[].<kind>`), already checked. */
export interface PluginFleetVm<V> {
  readonly name: string;
  readonly host: string;
  readonly settings: V | undefined;
}

/** How one site's fleet entries become constructs, once the plug-in's providers exist in the stack. */
export interface SiteBinding<H, V> {
  /** The backend of one host of the site. */
  backendFor(host: PluginFleetHost<H>): HypervisorBackend;
  /** The VM's hypervisor options; undefined when the VM gave none (the backend then says what is missing). */
  vmOptions(vm: PluginFleetVm<V>): HypervisorVmOptions | undefined;
}

/**
 * The plug-in's part of the fleet file: the block `sites[].<kind>` that makes a site this hypervisor's, the keys it
 * adds to host entries (libvirt: `libvirt`; vSphere: `datastore`, `network`, `enableDirectPath`), and the block
 * `vms[].<kind>`. Light (zod only): reading a fleet file loads every plug-in's.
 */
export interface FleetFileFragments<S, V> {
  readonly site: z.ZodType<S>;
  /** What a site of this hypervisor writes, for messages: `vsphere: { server, datacenter }`. */
  readonly siteNeeds: string;
  readonly hostFields: { readonly [key: string]: z.ZodType };
  readonly vm: z.ZodType<V>;
  /**
   * Which of {@link hostFields} a host of this hypervisor must give, and what to write, e.g.
   * `["libvirt", "libvirt: { cpuVendor, iommuGroups } (gpu-passthrough discover prints them)"]`.
   */
  readonly hostNeeds?: readonly [key: string, what: string];
  /** When a VM of this hypervisor must have its block: what to write, e.g. `vsphere: { template }`. */
  readonly vmNeeds?: string;
  /**
   * The inventory in which a VM name must be unique beyond its site (vSphere: the vCenter datacenter and folder),
   * or undefined for the site alone.
   */
  vmNameScope?(site: S, vm: V | undefined): string | undefined;
  /**
   * A small valid fleet entry of each kind as a fleet file writes it, for documentation and for the suite every hypervisor passes
   * (__tests__/hypervisors.test.ts): the same VM moved between hypervisors must synthesize an equivalent VM.
   */
  readonly example: {
    readonly site: Readonly<Record<string, unknown>>;
    readonly host: Readonly<Record<string, unknown>>;
    readonly vm: Readonly<Record<string, unknown>>;
  };
}

/** The fleet file's part, and how its sites become constructs. */
export interface FleetFragments<S, H, V> extends FleetFileFragments<S, V> {
  /**
   * Creates the site's providers in its stack and says how hosts and VMs become constructs. Plug-ins load their
   * backend (cdktf, the provider bindings) here, so a fleet without a site of theirs never loads it.
   */
  bindSite(scope: SiteScope, site: S, hosts: readonly PluginFleetHost<H>[]): SiteBinding<H, V>;
}

// Plug-ins are held without their fragment types: the core checks each block with the plug-in's own schema and
// hands it back to the same plug-in.
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface HypervisorPlugin<S = any, H = any, V = any> {
  /** The fleet key and the manifest's backend name: `vsphere`. */
  readonly kind: string;
  /** How people name it: `vSphere`. */
  readonly title: string;
  /** The largest VM it runs; the fleet schema's bounds are the largest of all hypervisors'. */
  readonly limits: BackendLimits;
  /** Its part of the fleet file; define it with {@link loadedOnUse} so that commands reading only plans never load zod. */
  readonly fleet: FleetFragments<S, H, V>;
  /** How the report reads this hypervisor's resources in a plan. */
  readonly plan: PlanReading;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * A value made on first use, then kept: a plug-in's fleet fragments (zod) and site binding (cdktf, the provider
 * bindings) load only in the commands that use them, so `report` and `mmio` start as fast as Node allows.
 */
export function loadedOnUse<T>(load: () => T): () => T {
  let value: { readonly v: T } | undefined;
  return () => (value ??= { v: load() }).v;
}
