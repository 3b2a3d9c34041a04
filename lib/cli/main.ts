#!/usr/bin/env node
/**
 * The `gpu-passthrough` command line: preflight (check a KVM host), discover (host → fleet entry), mmio (MMIO
 * window sizing) and report (what the synthesized stacks and their plans will do, for reviewers). Errors end in one line on stderr, never a stack trace. Exit codes: see {@link EXIT}.
 */
import { Command, CommanderError } from "commander";
import { FleetFileError } from "../fleet/load";
import { registerDiscover } from "./discover";
import { CliError, CliIo, EXIT, processIo } from "./io";
import { registerMmio } from "./mmio";
import { registerPreflight } from "./preflight";
import { registerReport } from "./report";

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
  registerPreflight(program, io, setExit);
  registerDiscover(program, io, setExit);
  registerMmio(program, io, setExit);
  registerReport(program, io, setExit);
  return program;
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

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
