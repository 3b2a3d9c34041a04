import { Command } from "commander";
import { loadFleetFile } from "../fleet/load";
import { FleetHost } from "../fleet/schema";
import { formatPreflight } from "../preflight/format";
import { HostInventory, readInventory } from "../preflight/inventory";
import { preflightReport } from "../preflight/report";
import { HostReadError } from "../preflight/sysfs";
import { CliError, CliIo, EXIT, SetExit } from "./io";

interface PreflightOptions {
  readonly root: string;
  readonly fleet?: string;
  readonly host?: string;
  readonly json?: boolean;
}

export function registerPreflight(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("preflight")
    .summary("check a Linux KVM host for GPU passthrough before deploying")
    .description(
      "Reads /proc and /sys of a Linux KVM host (read only) and reports CPU virtualization, the IOMMU, every IOMMU group " +
        "with its devices, and each GPU: functions, isolation, driver, MMIO need. With --fleet, checks the host against " +
        "its fleet-file entry and prints the exact fix for each gap. Exits 1 when something blocks deployment.",
    )
    .option("--root <dir>", "read a copy of the host's / instead of this machine (must hold proc/ and sys/)", "/")
    .option("--fleet <file>", "fleet file whose host entry the host must satisfy")
    .option("--host <name>", "host entry to check (default: the only host, or the one named like this machine)")
    .option("--json", "print the report as JSON for scripts")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  gpu-passthrough preflight",
        "  gpu-passthrough preflight --fleet fleet.yaml --host kvm-01",
        "  gpu-passthrough preflight --root ./host-copy --json",
        "",
        "Exit codes: 0 no blocker, 1 blockers found, 2 usage error or unreadable input.",
      ].join("\n"),
    )
    .action((opts: PreflightOptions) => {
      if (opts.host && !opts.fleet)
        throw new CliError("--host names an entry of the fleet file: give --fleet FILE too");
      const inv = readHost(opts.root);
      const host = opts.fleet ? fleetHost(opts.fleet, opts.host, inv) : undefined;
      const report = preflightReport(inv, host);
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatPreflight(report));
      setExit(report.ready ? EXIT.ok : EXIT.blocked);
    });
}

/** The host under root. @throws CliError when root is not a Linux root with sysfs. */
export function readHost(root: string): HostInventory {
  try {
    return readInventory(root);
  } catch (e) {
    if (e instanceof HostReadError) throw new CliError(e.message);
    throw e;
  }
}

/** The fleet entry to check: named, the only one, or the one named like this host. */
function fleetHost(file: string, name: string | undefined, inv: HostInventory): FleetHost {
  const hosts = loadFleetFile(file).hosts;
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
