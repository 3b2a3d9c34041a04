/**
 * How a fleet becomes stacks, and where each stack keeps its state. One stack per site by default; `stackPer: host`
 * gives each host its own stack (smaller plans, applied in parallel). Both the loader (which refuses two stacks
 * sharing one state) and the app (which builds the stacks) read this, so they cannot disagree.
 */
import { Fleet, FleetHost, FleetSite, FleetState } from "./schema";

export { constructId, terraformName } from "./names";

export interface StackPlan {
  /** The stack name: cdktf.out/stacks/<name>. */
  readonly name: string;
  readonly site: FleetSite;
  readonly hosts: readonly FleetHost[];
}

export function stackLayout(fleet: Fleet): StackPlan[] {
  return fleet.sites.flatMap((site) => {
    const hosts = fleet.hosts.filter((h) => h.site === site.name);
    if (site.stackPer !== "host") return [{ name: site.name, site, hosts }];
    return hosts.map((h) => ({ name: `${site.name}-${stackSafe(h.name)}`, site, hosts: [h] }));
  });
}

/** Host names may hold dots (FQDNs); stack names are directory names and Terraform-friendly. */
function stackSafe(hostName: string): string {
  return hostName.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
}

/** A stack name names a directory and a state file (terraform.<stack>.tfstate): it must fit in a file name. */
export const MAX_STACK_NAME = 200;

/** A state backend with its stack's values filled in. */
export type ResolvedState =
  | { readonly backend: "local"; readonly path: string }
  | {
      readonly backend: "s3";
      readonly bucket: string;
      readonly key: string;
      readonly region: string;
      readonly useLockfile: boolean;
      readonly encrypt?: boolean;
      readonly endpoint?: string;
    }
  | {
      readonly backend: "http";
      readonly address: string;
      readonly lockAddress: string;
      readonly unlockAddress: string;
      readonly lockMethod: string;
      readonly unlockMethod: string;
    };

export function resolveState(state: FleetState | undefined, stack: string): ResolvedState {
  const fill = (text: string) => text.replace(/\{stack\}/g, stack);
  if (!state || state.backend === "local")
    return { backend: "local", path: fill(state?.path ?? "terraform.{stack}.tfstate") };
  if (state.backend === "s3") {
    return {
      backend: "s3",
      bucket: state.bucket,
      key: fill(state.key ?? "gpu-passthrough/{stack}.tfstate"),
      region: state.region,
      useLockfile: state.useLockfile ?? true,
      encrypt: state.encrypt,
      endpoint: state.endpoint,
    };
  }
  const address = fill(state.address);
  const lockAddress = state.lockAddress ? fill(state.lockAddress) : withPathSuffix(address, "/lock");
  return {
    backend: "http",
    address,
    lockAddress,
    unlockAddress: state.unlockAddress ? fill(state.unlockAddress) : lockAddress,
    lockMethod: state.lockMethod ?? "POST",
    unlockMethod: state.unlockMethod ?? "DELETE",
  };
}

/** `https://x/state?ref=main` + `/lock` → `https://x/state/lock?ref=main`: the suffix goes on the path, not the query. */
function withPathSuffix(url: string, suffix: string): string {
  const split = url.search(/[?#]/);
  return split < 0 ? `${url}${suffix}` : `${url.slice(0, split)}${suffix}${url.slice(split)}`;
}

/** Where the state lives, as one comparable string: two stacks with the same location would overwrite each other. */
export function stateLocation(state: ResolvedState): string {
  if (state.backend === "local") return `local:${state.path}`;
  if (state.backend === "s3") return `s3://${state.bucket}/${state.key}`;
  return `http:${state.address}`;
}
