/**
 * VMware Tools for a Horizon desktop (seed 001): a silent install that leaves out the drivers Horizon does not
 * use. Hgfs (shared folders), VSS (shadow copies) and AppDefense are never used with Horizon; SVGA only when the
 * Horizon Agent brings its own; NetworkIntrospection unless NSX is in use.
 *
 * Where it runs: a clone has no Tools CD (provider 2.15.0 deletes every CD-ROM the configuration does not declare,
 * virtual_machine_cdrom_subresource.go:378-390), and run-once commands wait for the first logon. So the command runs
 * at the clone's first logon only with `toolsIso` (a declared CD-ROM with the Tools ISO) and an Administrator
 * password for auto logon; otherwise it is a step in the template, which needs Tools for guest customization anyway.
 */
import type { VmBackendSetting, VmStep } from "../backend";
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

/** `[datastore1] iso/windows.iso` → its datastore and path, as the vSphere Client writes a datastore path. */
export function parseDatastorePath(text: string): { datastore: string; path: string } | undefined {
  const m = /^\[([^\]]+)\]\s*(\S.*)$/.exec(text.trim());
  return m ? { datastore: m[1].trim(), path: m[2].trim() } : undefined;
}

/** The Tools install as the template's step, when the clone cannot run it. */
export function toolsTemplateStep(template: string, options: HorizonDesktopOptions): VmStep {
  return {
    when: "before-apply",
    description:
      `In template "${template}", install VMware Tools with Horizon's feature set (mount the Tools ISO, run this, ` +
      `then convert back to a template). The clone cannot run it: the provider removes CD-ROM drives the ` +
      `configuration does not declare, and run-once commands wait for a logon. Or set horizon.toolsIso to run it at ` +
      `each clone's first logon.`,
    command: toolsInstallCommand(options),
  };
}

export function toolsSetting(template: string, options: HorizonDesktopOptions): VmBackendSetting {
  return options.toolsIso
    ? {
        setting: "vmware-tools",
        value: `first run-once command, from ${options.toolsIso}`,
        why: "a declared CD-ROM holds the Tools ISO (the provider removes undeclared ones) and the Administrator logs on automatically once, so the command runs",
      }
    : {
        setting: "vmware-tools",
        value: `in template "${template}" (a step before apply)`,
        why: "the clone has no Tools CD and no logon to run a first-logon command; guest customization needs Tools in the template anyway",
      };
}
