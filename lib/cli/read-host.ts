import { HostInventory, readInventory } from "../preflight/inventory";
import { HostReadError } from "../preflight/sysfs";
import { CliError } from "./io";

/** The host under root, for preflight and discover. @throws CliError when root is not a Linux root with sysfs. */
export function readHost(root: string): HostInventory {
  try {
    return readInventory(root);
  } catch (e) {
    if (e instanceof HostReadError) throw new CliError(e.message);
    throw e;
  }
}
