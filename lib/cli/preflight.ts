import type { FleetHost } from "../fleet/schema";
import { formatPreflight } from "../preflight/format";
import { HostInventory } from "../preflight/inventory";
import { preflightReport } from "../preflight/report";
import { CliError, CliIo, EXIT } from "./io";
import { readHost } from "./read-host";

export interface PreflightOptions {
  readonly root: string;
  readonly fleet?: string;
  readonly host?: string;
  readonly json?: boolean;
}

/** `gpu-passthrough preflight` (defined in ./main.ts): prints the report and returns the exit code. */
export async function runPreflight(opts: PreflightOptions, io: CliIo): Promise<number> {
  if (opts.host && !opts.fleet) throw new CliError("--host names an entry of the fleet file: give --fleet FILE too");
  const inv = readHost(opts.root);
  // The fleet loader (zod, yaml, every hypervisor's schema) is loaded only when there is a fleet file to read.
  const fleet = opts.fleet ? (await import("../fleet/load")).loadFleetFile(opts.fleet) : undefined;
  const host = opts.fleet && fleet ? fleetHost(opts.fleet, fleet.hosts, opts.host, inv) : undefined;
  const report = preflightReport(inv, host, fleet?.vms ?? []);
  io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatPreflight(report));
  return report.ready ? EXIT.ok : EXIT.blocked;
}

/** The fleet entry to check: named, the only one, or the one named like this host. */
function fleetHost(file: string, hosts: readonly FleetHost[], name: string | undefined, inv: HostInventory): FleetHost {
  const names = hosts.map((h) => h.name).join(", ") || "(none)";
  if (name) {
    const host = hosts.find((h) => h.name === name);
    if (!host) throw new CliError(`${file} has no host named "${name}"; its hosts: ${names}`);
    return host;
  }
  if (hosts.length === 1) return hosts[0];
  const short = (n: string) => n.split(".")[0];
  const mine =
    inv.hostname && hosts.find((h) => h.name === inv.hostname || short(h.name) === short(inv.hostname ?? ""));
  if (mine) return mine;
  throw new CliError(
    `${file} has several hosts and none is named like this machine: choose one with --host (${names})`,
  );
}
