#!/usr/bin/env node
/**
 * The `gpu-passthrough` command line: preflight (check a KVM host), discover (host → fleet entry), mmio (MMIO
 * window sizing), catalog (the GPU models known) and report (what the synthesized stacks and their plans will do, for
 * reviewers). Errors end in one line on stderr, never a stack trace. Exit codes: see {@link EXIT}.
 *
 * This module defines the commands and their options only; each action loads its implementation (./<command>.ts)
 * when it runs, so that a command loads what it uses and `--help` loads none of them.
 */
import { Command, CommanderError } from "commander";
import { VSPHERE_LIMITS } from "../backends/vsphere/limits";
import { FleetFileError } from "../fleet/fleet-file-error";
import type { CatalogOptions } from "./catalog";
import type { DiscoverOptions } from "./discover";
import { CliError, CliIo, EXIT, SetExit, processIo } from "./io";
import type { MmioOptions } from "./mmio";
import type { PreflightOptions } from "./preflight";
import type { ReportOptions } from "./report";

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("gpu-passthrough");
  // Set before adding commands: subcommands inherit these (commander copies them at .command()).
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(`gpu-passthrough: ${s}`),
    })
    .showHelpAfterError("(add --help for usage)")
    .description(
      "GPU passthrough VMs as code: check hosts, describe them for the fleet file, size MMIO windows, report on " +
        "synthesized stacks and plans for reviewers.",
    )
    .addHelpText("after", "\nRun gpu-passthrough <command> --help for a command's options.");
  definePreflight(program, io, setExit);
  defineDiscover(program, io, setExit);
  defineMmio(program, io, setExit);
  defineCatalog(program, io, setExit);
  defineReport(program, io, setExit);
  return program;
}

function definePreflight(program: Command, io: CliIo, setExit: SetExit): void {
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
    .action(async (opts: PreflightOptions) => setExit(await (await import("./preflight")).runPreflight(opts, io)));
}

function defineDiscover(program: Command, io: CliIo, setExit: SetExit): void {
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
    .action(async (opts: DiscoverOptions) => setExit((await import("./discover")).runDiscover(opts, io)));
}

function defineMmio(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("mmio")
    .summary("compute a VM's 64-bit MMIO window from GPU models or a vmware.log")
    .description(
      "Sums every BAR of every GPU passed to one VM and rounds up to a power of two (VMware's rule), never below the " +
        "GPU vendor's published figure, says which rule governed, then prints the extra_config lines to set. The GPUs " +
        'come from catalog models with counts, or from a VM\'s vmware.log (the "PCIPassthru: Device ... size ..." ' +
        'lines ESXi writes at power-on, and its "total number of pages needed (N) exceeds limit (M)" failure line).',
    )
    .argument(
      "[gpus...]",
      `catalog model ids, each with an optional :COUNT (nvidia-v100-16gb:2); ${VSPHERE_LIMITS.maxPciDevices} GPUs at most in all`,
    )
    .option("--vmware-log <file>", "read the BAR sizes of the VM's passthrough devices from its vmware.log")
    .option("--display-mode <mode>", "boards with display modes: displayless (default) or display-enabled")
    .option("--resizable-bar", "consumer boards: Resizable BAR is on in the host's firmware")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  gpu-passthrough mmio nvidia-a30                 # 64 GB",
        "  gpu-passthrough mmio nvidia-v100-16gb:2         # 64 GB",
        "  gpu-passthrough mmio --vmware-log vmware.log",
      ].join("\n"),
    )
    .action(async (gpus: string[], opts: MmioOptions) => setExit((await import("./mmio")).runMmio(gpus, opts, io)));
}

function defineCatalog(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("catalog")
    .summary("list the GPU models known: PCI ids, BARs, MMIO need, sources")
    .description(
      "Prints every catalog model (or the ones named): PCI ids, extra functions, BAR sizes, the 64-bit MMIO window one " +
        "GPU needs and which rule sets it (BAR sum or the vendor's figure), the other board mode (display mode, " +
        "Resizable BAR), quirks, and the sources of every figure, with those no source confirms marked unverified.",
    )
    .argument("[ids...]", "catalog model ids to show (default: all)")
    .option("--json", "print the models as JSON")
    .addHelpText("after", "\nExamples:\n  gpu-passthrough catalog\n  gpu-passthrough catalog nvidia-rtx-a6000 --json")
    .action(async (ids: string[], opts: CatalogOptions) =>
      setExit((await import("./catalog")).runCatalog(ids, opts, io)),
    );
}

function defineReport(program: Command, io: CliIo, setExit: SetExit): void {
  program
    .command("report")
    .summary("describe the synthesized GPU hosts and VMs (and what plans change) for a pull request")
    .description(
      "Reads the stacks cdktf.out/manifest.json lists (their cdk.tf.json, passthrough.json, host-prep.json) and writes a " +
        "report for reviewers: the GPU allocation of each host, each VM's passthrough settings and why, the host steps " +
        "outside Terraform, and the constraints that follow. Given Terraform plans in JSON (terraform show -json " +
        "tfplan), it also tells which changes to GPU VMs are in place, need a reboot or a replacement, and which GPUs " +
        "move between VMs. Prints Markdown unless --markdown or --json names a file.",
    )
    .option("--outdir <dir>", "the synth output directory (default: $CDKTF_OUTDIR or cdktf.out)")
    .option(
      "--plan <stack=plan.json>",
      "a stack's plan in JSON (terraform show -json tfplan > plan.json); repeat for more stacks",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--markdown <file>", "write the Markdown report to this file")
    .option("--json <file>", "write the report as JSON to this file")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  gpu-passthrough report",
        "  gpu-passthrough report --plan ml-lab=ml-lab.plan.json --markdown report.md --json report.json",
        "",
        "Exit codes: 0 report written, 2 no synthesized stack, or a plan or synth file that cannot be read.",
      ].join("\n"),
    )
    .action(async (opts: ReportOptions) => setExit((await import("./report")).runReport(opts, io)));
}

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.ok;
  try {
    await buildProgram(io, (c) => (code = c)).parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    // --help and --version end through CommanderError with exit code 0; anything else commander rejects is usage.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof CliError) {
      io.err(`gpu-passthrough: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof FleetFileError) {
      io.err(`gpu-passthrough: ${e.message}\n`);
      return EXIT.usage;
    }
    io.err(`gpu-passthrough: unexpected error: ${(e as Error).message ?? String(e)}\n`);
    return EXIT.usage;
  }
}

/** The process as the `gpu-passthrough` command: runs the CLI on `argv` and sets the exit code. */
export function runAsCommand(argv: readonly string[]): void {
  // A reader that stops early (`| head`) closes the pipe: the output is not wanted any more, which is no error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(process.exitCode ?? EXIT.ok);
  });
  void runCli(argv).then((code) => {
    process.exitCode = code;
  });
}

// Run as a script: `node dist/lib/cli/main.js`. The startup snapshot (scripts/startup-snapshot.js) calls runAsCommand.
if (require.main === module) runAsCommand(process.argv.slice(2));
