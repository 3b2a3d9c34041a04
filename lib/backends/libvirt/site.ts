/**
 * How a libvirt site becomes constructs: one provider per KVM host (its own connection URI, through a variable so a
 * URI with credentials is never written), and each VM's libvirt options. Loaded by the plug-in when a fleet has a
 * libvirt site (it loads cdktf and the provider bindings).
 */
import { LibvirtProvider } from "../../../.gen/providers/libvirt/provider";
import { terraformName } from "../../fleet/names";
import type { PluginFleetHost, SiteBinding, SiteScope } from "../plugin";
import type { LibvirtFleetHost, LibvirtFleetVm } from "./fleet";
import { LibvirtBackend } from "./libvirt-backend";
import { LibvirtVmOptions } from "./vm-options";

export const DEFAULT_LIBVIRT_URI = "qemu:///system";

export function bindLibvirtSite(
  scope: SiteScope,
  hosts: readonly PluginFleetHost<LibvirtFleetHost>[],
): SiteBinding<LibvirtFleetHost, LibvirtFleetVm> {
  const providers = new Map(
    hosts.map((h) => {
      const id = terraformName(h.name);
      const provider = new LibvirtProvider(scope.stack, `libvirt-${id}`, {
        alias: id,
        // A variable, so a URI with credentials can be given as TF_VAR_libvirt_uri_<host> and never be written.
        uri: scope.credential(
          `libvirt_uri_${id}`,
          `libvirt connection URI of ${h.name} (TF_VAR_libvirt_uri_${id})`,
          h.settings.libvirt?.uri ?? DEFAULT_LIBVIRT_URI,
        ),
      });
      return [h.name, provider] as const;
    }),
  );
  return {
    backendFor: (h) => {
      const l = h.settings.libvirt ?? { cpuVendor: "intel" as const, iommuGroups: [] }; // the loader requires it
      return new LibvirtBackend({
        provider: providers.get(h.name),
        cpuVendor: l.cpuVendor,
        distro: l.distro,
        ovmf: l.ovmf,
        pool: l.pool,
        network: l.network,
        iommuGroups: l.iommuGroups,
        numaNodes: l.numaNodes,
      });
    },
    vmOptions: (v): LibvirtVmOptions | undefined => (v.settings ? { kind: "libvirt", ...v.settings } : undefined),
  };
}
