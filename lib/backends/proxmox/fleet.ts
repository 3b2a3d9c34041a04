/**
 * Proxmox VE's part of the fleet file, and how a Proxmox site becomes constructs: a site is a cluster (one provider
 * for its API endpoint, credentials from sensitive variables only), a host is one of its nodes, and each VM gets
 * its Proxmox options.
 */
import { Annotations } from "cdktf";
import { z } from "zod";
import { ProxmoxProvider } from "../../../.gen/providers/proxmox/provider";
import { cpuVendor, iommuGroups, name, pciAddress, text, urlWithoutCredentials } from "../../fleet/fields";
import { escapeTemplate } from "../../terraform-literal";
import type { FleetFragments } from "../plugin";
import { ProxmoxBackend } from "./proxmox-backend";
import { ProxmoxVmOptions } from "./vm-options";

/** Where the credentials go instead of the fleet file, for messages. */
const CREDENTIALS =
  "TF_VAR_proxmox_username and TF_VAR_proxmox_password, or TF_VAR_proxmox_api_token (PROXMOX_VE_USERNAME, PROXMOX_VE_PASSWORD, PROXMOX_VE_API_TOKEN)";

const site = z.strictObject({
  /** The cluster's API, e.g. https://pve-01.example.com:8006/. Credentials never go here. */
  endpoint: urlWithoutCredentials(CREDENTIALS, ["https"]),
  /** Skip the check of the API's TLS certificate (PVE's own is self-signed). @default false */
  insecure: z.boolean().optional(),
  /**
   * `password` (a user and password; root@pam for hostpci by id and kvm_arguments) or `token` (an API token, which
   * PVE never lets set those). @default - password
   */
  auth: z.enum(["password", "token"]).optional(),
});

const proxmoxHost = z.strictObject({
  /** The node's name in the cluster. @default - the host name */
  node: text(63).optional(),
  cpuVendor,
  iommuGroups: iommuGroups.optional(),
  /** `id` (root@pam) or `mapping` (a PCI mapping per guest GPU, for API tokens). @default - id */
  devices: z.enum(["id", "mapping"]).optional(),
  /** Subsystem ids of guest GPUs for their mappings: `[{ gpu: "0000:0b:00.0", id: "1458:4105" }]` (lspci -nnv). */
  subsystemIds: z
    .array(z.strictObject({ gpu: pciAddress, id: text(16) }))
    .max(64)
    .optional(),
  datastore: name.optional(),
  bridge: name.optional(),
});

const proxmoxVm = z.strictObject({
  template: z.number().int().optional(),
  linkedClone: z.boolean().optional(),
  vmId: z.number().int().optional(),
  datastore: name.optional(),
  diskGib: z.number().int().positive().max(1048576, "at most 1048576 GiB").optional(),
  diskInterface: text(16).optional(),
  bridge: name.optional(),
  osType: z
    .enum(["l26", "l24", "win11", "win10", "win8", "win7", "wvista", "w2k8", "w2k3", "w2k", "wxp", "solaris", "other"])
    .optional(),
  iso: text().optional(),
  primaryGpu: z.boolean().optional(),
  vga: z.enum(["std", "virtio", "qxl", "vmware", "serial0", "none"]).optional(),
  gpuRom: z.strictObject({ file: text().optional(), bar: z.boolean().optional() }).optional(),
  tpm: z.boolean().optional(),
  agent: z.boolean().optional(),
  hugepages: z.enum(["2M", "1G"]).optional(),
  onBoot: z.boolean().optional(),
  tags: z.array(text(64)).max(32).optional(),
});

type Site = z.infer<typeof site>;
type Host = { proxmox?: z.infer<typeof proxmoxHost> };
type Vm = z.infer<typeof proxmoxVm>;

/** The cluster's identity for host keys: the endpoint's host and port. */
function clusterOf(endpoint: string): string {
  try {
    return new URL(endpoint).host.toLowerCase();
  } catch {
    return endpoint;
  }
}

export const PROXMOX_FLEET: FleetFragments<Site, Host, Vm> = {
  site,
  siteNeeds: "proxmox: { endpoint }",
  hostFields: { proxmox: proxmoxHost.optional() },
  hostNeeds: ["proxmox", "proxmox: { cpuVendor } (gpu-passthrough discover prints it and the IOMMU groups)"],
  vm: proxmoxVm,
  example: {
    site: { endpoint: "https://pve-01.example.com:8006/" },
    host: {
      proxmox: {
        cpuVendor: "amd",
        iommuGroups: [
          { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] },
          { id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] },
        ],
      },
    },
    vm: { template: 9000 },
  },
  // One provider serves every node of the cluster: the hosts need none of their own.
  bindSite(scope, s) {
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
  },
};
