/**
 * vSphere's part of the fleet file: a site is a vCenter datacenter, host entries may name a datastore and network,
 * and VMs have a vSphere block. How a site becomes constructs is ./site.ts, loaded only when a fleet has one.
 */
import { z } from "zod";
import { checked, name, text } from "../../fleet/fields";
import { NAME_LIMITS, documentProblem, hostNameProblem, textProblem } from "../../validation/names";
import type { FleetFileFragments } from "../plugin";
import { parseDatastorePath } from "./horizon";

const site = z.strictObject({
  /** vCenter address. Credentials come from VSPHERE_USER / VSPHERE_PASSWORD, never from this file. */
  server: checked(
    (server) =>
      (server.includes("@") || server.includes("/") || /[?#]/.test(server)
        ? "must be the vCenter host name or address alone (vcenter.example.com): no scheme, path, user or password; credentials come from VSPHERE_USER and VSPHERE_PASSWORD"
        : undefined) ?? hostNameProblem(server.replace(/:\d+$/, "")),
  ),
  datacenter: name,
  allowUnverifiedSsl: z.boolean().optional(),
});

/** vSphere's keys of a host entry (at the top level of the entry, as they always were). */
const hostFields = {
  datastore: name.optional(),
  network: name.optional(),
  enableDirectPath: z.enum(["manual", "govc"]).optional(),
};

const vsphereVm = z.strictObject({
  template: name,
  datastore: name.optional(),
  network: name.optional(),
  folder: name.optional(),
  diskGib: z.number().int().positive().max(63488, "a virtual disk has at most 62 TB (63488 GiB)").optional(),
  linkedClone: z.boolean().optional(),
  /** The controller the template's disks are on. @default - scsi */
  diskController: z.enum(["scsi", "nvme", "sata"]).optional(),
  /** A virtual TPM 2.0. @default - the template's (the provider drops a cloned vTPM the configuration lacks) */
  vtpm: z.boolean().optional(),
  customize: z
    .strictObject({
      linux: z.strictObject({ hostName: checked(hostNameProblem), domain: checked(hostNameProblem) }).optional(),
      windows: z
        .strictObject({
          /** Windows NetBIOS names have at most 15 characters. */
          computerName: z
            .string()
            .regex(/^[A-Za-z0-9-]{1,15}$/, "must be a Windows computer name: 1-15 letters, digits and dashes"),
          /** Name of a sensitive Terraform variable (set TF_VAR_<name>) holding the Administrator password. */
          adminPasswordVariable: z
            .string()
            .regex(/^[a-z_][a-z0-9_]*$/, "must be a Terraform variable name (lower-case, digits, _)")
            .optional(),
          /** Sysprep's Windows time zone index; customization always sets one. @default 85 (GMT Standard Time) */
          timeZone: z.number().int().min(0).max(300).optional(),
          runOnceCommands: z.array(text(NAME_LIMITS.command)).max(100).optional(),
          /** Log the Administrator on once so run-once commands run. @default - with run-once commands and a password */
          autoLogon: z.boolean().optional(),
        })
        .optional(),
      ipv4: z
        .strictObject({
          address: z.ipv4(),
          netmask: z.number().int().min(1).max(32),
          gateway: z.ipv4(),
          dnsServers: z.array(z.ipv4()).max(3, "Windows and Linux customization take at most 3 DNS servers").optional(),
        })
        .optional(),
    })
    .optional(),
  horizon: z
    .strictObject({
      /** The Tools ISO as "[datastore] path": the install runs at the first logon. @default - a step in the template */
      toolsIso: name
        .refine(
          // A value with a text problem has its one message already.
          (iso) => textProblem(iso) !== undefined || parseDatastorePath(iso) !== undefined,
          'must be a datastore path as the vSphere Client shows it, e.g. "[datastore1] iso/VMware-tools-windows.iso"',
        )
        .optional(),
      toolsInstaller: name.optional(),
      horizonAgent: z.boolean().optional(),
      removeSvga: z.boolean().optional(),
      nsx: z.boolean().optional(),
    })
    .optional(),
  dynamicDirectPath: z.boolean().optional(),
  nestedVirtualization: z.boolean().optional(),
  cpuHotAdd: z.boolean().optional(),
  memoryHotAdd: z.boolean().optional(),
  annotation: checked(documentProblem).optional(),
});

export type VsphereFleetSite = z.infer<typeof site>;
export type VsphereFleetHost = { datastore?: string; network?: string; enableDirectPath?: "manual" | "govc" };
export type VsphereFleetVm = z.infer<typeof vsphereVm>;

export const VSPHERE_FLEET: FleetFileFragments<VsphereFleetSite, VsphereFleetVm> = {
  site,
  siteNeeds: "vsphere: { server, datacenter }",
  hostFields,
  vm: vsphereVm,
  vmNeeds: "vsphere: { template }",
  example: {
    site: { server: "vcenter.example.com", datacenter: "DC1" },
    host: { datastore: "nvme-ds-01", network: "VM Network" },
    vm: { template: "ubuntu-2204-efi" },
  },
  // VMs of one name in one vCenter datacenter and folder would be one VM in the inventory, whatever their site.
  vmNameScope: (s, v) => `vsphere:${s.server.toLowerCase()}/${s.datacenter}/${v?.folder ?? ""}`,
};
