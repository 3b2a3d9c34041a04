/**
 * How a Proxmox VE site becomes constructs: one provider for the cluster's API endpoint (credentials from sensitive
 * variables only; it serves every node, so hosts need none of their own), a backend per node, and each VM's Proxmox
 * options. Loaded by the plug-in when a fleet has a Proxmox site (it loads cdktf and the provider bindings).
 */
import { Annotations } from "cdktf";
import { ProxmoxProvider } from "../../../.gen/providers/proxmox/provider";
import { escapeTemplate } from "../../terraform-literal";
import type { SiteBinding, SiteScope } from "../plugin";
import type { ProxmoxFleetHost, ProxmoxFleetSite, ProxmoxFleetVm } from "./fleet";
import { ProxmoxBackend } from "./proxmox-backend";
import { ProxmoxVmOptions } from "./vm-options";

/** The cluster's identity for host keys: the endpoint's host and port. */
function clusterOf(endpoint: string): string {
  try {
    return new URL(endpoint).host.toLowerCase();
  } catch {
    return endpoint;
  }
}

export function bindProxmoxSite(scope: SiteScope, s: ProxmoxFleetSite): SiteBinding<ProxmoxFleetHost, ProxmoxFleetVm> {
  const auth = s.auth ?? "password";
  // Credentials are sensitive variables without a default: unset, the provider reads its PROXMOX_VE_* variables.
  const credentials =
    auth === "token"
      ? {
          apiToken: scope.credential(
            "proxmox_api_token",
            "Proxmox VE API token (user@realm!name=secret); unset, the provider reads PROXMOX_VE_API_TOKEN",
          ),
        }
      : {
          username: scope.credential(
            "proxmox_username",
            "Proxmox VE user, root@pam for hostpci by id and kvm_arguments; unset, the provider reads PROXMOX_VE_USERNAME",
          ),
          password: scope.credential(
            "proxmox_password",
            "Proxmox VE password; unset, the provider reads PROXMOX_VE_PASSWORD",
          ),
        };
  const provider = new ProxmoxProvider(scope.stack, "proxmox", {
    endpoint: escapeTemplate(s.endpoint),
    insecure: s.insecure,
    ...credentials,
  });
  if (s.insecure) {
    Annotations.of(provider).addWarning(
      `site "${scope.siteName}": insecure is on, so the TLS certificate of ${s.endpoint} is not checked; turn it off once the cluster has a trusted certificate (or its CA is trusted where Terraform runs)`,
    );
  }
  const cluster = clusterOf(s.endpoint);
  return {
    backendFor: (h) => {
      const p = h.settings.proxmox ?? { cpuVendor: "intel" as const }; // the loader requires it
      return new ProxmoxBackend({
        provider,
        cluster,
        node: p.node,
        cpuVendor: p.cpuVendor,
        iommuGroups: p.iommuGroups,
        devices: p.devices,
        subsystemIds: p.subsystemIds && Object.fromEntries(p.subsystemIds.map((s) => [String(s.gpu), s.id])),
        datastore: p.datastore,
        bridge: p.bridge,
        auth,
      });
    },
    vmOptions: (v): ProxmoxVmOptions | undefined => (v.settings ? { kind: "proxmox", ...v.settings } : undefined),
  };
}
