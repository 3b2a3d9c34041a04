/**
 * vSphere's part of the fleet file, and how a vSphere site becomes constructs: the provider for its vCenter, an
 * ESXi host per host entry, and each VM's vSphere options.
 */
import { VsphereProvider } from "@cdktf/provider-vsphere/lib/provider";
import { Annotations } from "cdktf";
import { z } from "zod";
import { checked, name, text } from "../../fleet/fields";
import { escapeTemplate } from "../../terraform-literal";
import { NAME_LIMITS, documentProblem, hostNameProblem, textProblem } from "../../validation/names";
import type { FleetFragments } from "../plugin";
import { parseDatastorePath } from "./horizon";
import { VsphereBackend } from "./vsphere-backend";
import { VsphereVmOptions } from "./vm-options";

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

type Site = z.infer<typeof site>;
type Host = { datastore?: string; network?: string; enableDirectPath?: "manual" | "govc" };
type Vm = z.infer<typeof vsphereVm>;

export const VSPHERE_FLEET: FleetFragments<Site, Host, Vm> = {
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
  bindSite(scope, s) {
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
  },
};
