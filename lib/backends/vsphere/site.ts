/**
 * How a vSphere site becomes constructs: the provider for its vCenter, an ESXi host per host entry, and each VM's
 * vSphere options. Loaded by the plug-in when a fleet has a vSphere site (it loads cdktf and the provider bindings).
 */
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { Annotations } from "cdktf";
import { escapeTemplate } from "../../terraform-literal";
import type { SiteBinding, SiteScope } from "../plugin";
import type { VsphereFleetHost, VsphereFleetSite, VsphereFleetVm } from "./fleet";
import { VsphereBackend } from "./vsphere-backend";
import { VsphereVmOptions } from "./vm-options";

export function bindVsphereSite(scope: SiteScope, s: VsphereFleetSite): SiteBinding<VsphereFleetHost, VsphereFleetVm> {
  const provider = new VsphereProvider(scope.stack, "vsphere", {
    vsphereServer: escapeTemplate(s.server),
    user: scope.credential("vsphere_user", "vCenter user name; unset, the provider reads VSPHERE_USER"),
    password: scope.credential("vsphere_password", "vCenter password; unset, the provider reads VSPHERE_PASSWORD"),
    allowUnverifiedSsl: s.allowUnverifiedSsl,
  });
  if (s.allowUnverifiedSsl) {
    Annotations.of(provider).addWarning(
      `site "${scope.siteName}": allowUnverifiedSsl is on, so the vCenter certificate of ${s.server} is not checked; turn it off once vCenter has a trusted certificate`,
    );
  }
  return {
    backendFor: (h) =>
      new VsphereBackend({
        datacenter: s.datacenter,
        datastore: h.settings.datastore,
        network: h.settings.network,
        enableDirectPath: h.settings.enableDirectPath,
      }),
    vmOptions: (v): VsphereVmOptions | undefined => {
      if (!v.settings) return undefined;
      const { customize, ...rest } = v.settings;
      if (!customize?.windows) return { kind: "vsphere", ...rest, customize };
      const { adminPasswordVariable, ...windows } = customize.windows;
      const adminPassword = adminPasswordVariable
        ? scope.credential(
            adminPasswordVariable,
            `Administrator password of Windows VMs (TF_VAR_${adminPasswordVariable})`,
          )
        : undefined;
      return { kind: "vsphere", ...rest, customize: { ...customize, windows: { ...windows, adminPassword } } };
    },
  };
}
