/**
 * VMware Tools for a Horizon desktop (seed 001): a silent install that leaves out the drivers Horizon does not
 * use. Hgfs (shared folders), VSS (shadow copies) and AppDefense are never used with Horizon; SVGA only when the
 * Horizon Agent brings its own; NetworkIntrospection unless NSX is in use.
 */
import { HorizonDesktopOptions } from "./vm-options";

export const DEFAULT_TOOLS_INSTALLER = "d:\\setup64.exe";

/** The Tools modules to remove for these Horizon options, in the seed's order. */
export function toolsRemoveList(options: HorizonDesktopOptions): string[] {
  const remove = ["Hgfs"];
  if (options.removeSvga) remove.push("SVGA");
  remove.push("VSS", "AppDefense");
  if (!options.nsx) remove.push("NetworkIntrospection");
  return remove;
}

/** The silent install command, e.g. `d:\setup64.exe /s /v" /qb REBOOT=R ADDLOCAL=ALL REMOVE=Hgfs,VSS,..."`. */
export function toolsInstallCommand(options: HorizonDesktopOptions): string {
  const installer = options.toolsInstaller ?? DEFAULT_TOOLS_INSTALLER;
  return `${installer} /s /v" /qb REBOOT=R ADDLOCAL=ALL REMOVE=${toolsRemoveList(options).join(",")}"`;
}
