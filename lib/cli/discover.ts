import { Command } from "commander";
import { discoverYaml } from "../preflight/discover";
import { CliError, CliIo, EXIT, SetExit } from "./io";
import { readHost } from "./preflight";

interface DiscoverOptions {
  readonly root: string;
  readonly name?: string;
  readonly site?: string;
  readonly libvirt?: boolean;
}

export function registerDiscover(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("discover")
    .summary("print this host's GPUs as a fleet-file host entry")
    .description(
      "Reads the host's GPUs from /sys (read only) and prints them as a YAML host entry for the fleet file: PCI " +
        "addresses, catalog models matched by vendor:device (or a custom model with the BAR sizes sysfs shows), the boot " +
        "display as role: host, and the IOMMU groups as comments. Paste it under hosts: and review it.",
    )
    .option("--root <dir>", "read a copy of the host's / instead of this machine (must hold proc/ and sys/)", "/")
    .option("--name <name>", "host name for the entry (default: the host's hostname)")
    .option("--site <site>", "site of the fleet file the host belongs to")
    .option("--libvirt", "add the libvirt: block of a KVM host (CPU vendor, IOMMU groups of its GPUs)")
    .addHelpText(
      "after",
      "\nExamples:\n  gpu-passthrough discover --site ml-lab >> host-entry.yaml\n  gpu-passthrough discover --site workstation --libvirt",
    )
    .action((opts: DiscoverOptions) => {
      const inv = readHost(opts.root);
      if (!inv.gpus.length) {
        throw new CliError(`no GPU found under ${opts.root}: no PCI display controller (class 03xx)`, EXIT.blocked);
      }
      io.out(discoverYaml(inv, { name: opts.name, site: opts.site, libvirt: opts.libvirt }));
      setExit(EXIT.ok);
    });
}
