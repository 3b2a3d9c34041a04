import { discoverYaml } from "../preflight/discover";
import { CliError, CliIo, EXIT } from "./io";
import { readHost } from "./read-host";

export interface DiscoverOptions {
  readonly root: string;
  readonly name?: string;
  readonly site?: string;
  readonly libvirt?: boolean;
}

/** `gpu-passthrough discover` (defined in ./main.ts): prints the host entry and returns the exit code. */
export function runDiscover(opts: DiscoverOptions, io: CliIo): number {
  const inv = readHost(opts.root);
  if (!inv.gpus.length) {
    throw new CliError(`no GPU found under ${opts.root}: no PCI display controller (class 03xx)`, EXIT.blocked);
  }
  io.out(discoverYaml(inv, { name: opts.name, site: opts.site, libvirt: opts.libvirt }));
  return EXIT.ok;
}
