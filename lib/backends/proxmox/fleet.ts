/**
 * Proxmox VE's part of the fleet file: a site is a cluster (its API endpoint; credentials never go here), a host is
 * one of its nodes, and VMs have a Proxmox block. How a site becomes constructs is ./site.ts, loaded only when a
 * fleet has a Proxmox site.
 */
import { z } from "zod";
import { cpuVendor, iommuGroups, name, pciAddress, text, urlWithoutCredentials } from "../../fleet/fields";
import type { FleetFileFragments } from "../plugin";

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

export type ProxmoxFleetSite = z.infer<typeof site>;
export type ProxmoxFleetHost = { proxmox?: z.infer<typeof proxmoxHost> };
export type ProxmoxFleetVm = z.infer<typeof proxmoxVm>;

export const PROXMOX_FLEET: FleetFileFragments<ProxmoxFleetSite, ProxmoxFleetVm> = {
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
};
