/**
 * libvirt's part of the fleet file: a host entry's libvirt block (connection URI, CPU vendor, IOMMU groups) and the
 * VMs' libvirt block. How a site becomes constructs is ./site.ts, loaded only when a fleet has a libvirt site.
 */
import { z } from "zod";
import { parseCpuList, parseNumaNodes } from "../../cpu-topology";
import { absolutePath, checked, cpuVendor, hexId4, iommuGroups, name, text } from "../../fleet/fields";
import { NAME_LIMITS, documentProblem, hostNameProblem, textProblem } from "../../validation/names";
import { urlCredentialProblem } from "../../validation/url-credentials";
import type { FleetFileFragments } from "../plugin";
import { KVM_LIMITS } from "./limits";

/** A core's cpu list; the text rules first, as for every string of the fleet file. */
const cpuListProblem = (core: string): string | undefined => {
  const parsed = parseCpuList(core);
  return textProblem(core, 4096) ?? (Array.isArray(parsed) ? undefined : parsed.problem);
};

const libvirtHost = z.strictObject({
  /** Connection URI: qemu:///system on the machine that applies, or qemu+ssh://user@host/system. @default - qemu:///system */
  uri: z
    .string()
    .regex(/^[a-z][a-z0-9+]*:\/\//, "must be a libvirt URI such as qemu:///system or qemu+ssh://root@kvm-01/system")
    .superRefine((uri, ctx) => {
      const problem =
        urlCredentialProblem(uri, {
          instead: "TF_VAR_libvirt_uri_<host> (or use SSH keys: qemu+ssh://user@host/system)",
          allowUser: true,
        }) ?? textProblem(uri, 2048);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  cpuVendor,
  distro: z.enum(["debian", "ubuntu", "fedora", "rhel", "arch"]).optional(),
  ovmf: z
    .strictObject({
      code: absolutePath.optional(),
      vars: absolutePath.optional(),
      secureCode: absolutePath.optional(),
      secureVars: absolutePath.optional(),
    })
    .optional(),
  pool: name.optional(),
  network: name.optional(),
  iommuGroups,
  /**
   * The host's NUMA nodes, each core the cpu list of its hardware threads ("0,32"), from `gpu-passthrough discover
   * --libvirt`. @default - unknown: no NUMA placement
   */
  numaNodes: z
    .array(
      z.strictObject({
        id: z.number().int().min(0).max(1023),
        cores: z
          .array(checked((core) => cpuListProblem(core)))
          .min(1, "a node needs at least one core")
          .max(4096),
      }),
    )
    .min(1)
    .max(1024)
    .superRefine((nodes, ctx) => {
      // What is wrong across nodes (a duplicate id, a cpu twice), once each core reads as a cpu list.
      const eachValid = nodes.every((n) => n.cores.length > 0 && n.cores.every((c) => !cpuListProblem(c)));
      if (!eachValid) return;
      for (const message of parseNumaNodes(nodes, "numaNodes").problems) ctx.addIssue({ code: "custom", message });
    })
    .optional(),
});

const libvirtVm = z.strictObject({
  guestOs: z.enum(["linux", "windows"]).optional(),
  virtioDrivers: z.boolean().optional(),
  tpm: z.boolean().optional(),
  memoryHardLimitMib: z.number().int().positive().optional(),
  baseImage: absolutePath,
  diskGib: z.number().int().positive().max(65536, "at most 65536 GiB").optional(),
  network: name.optional(),
  cloudInit: z
    .strictObject({
      hostName: checked(hostNameProblem).optional(),
      sshAuthorizedKeys: z.array(text(NAME_LIMITS.command)).max(100).optional(),
      userData: checked(documentProblem)
        .refine((doc) => doc.startsWith("#cloud-config"), "must be a #cloud-config document")
        .optional(),
    })
    .optional(),
  vcpuPins: z.array(text(64)).max(KVM_LIMITS.maxCpus).optional(),
  hugepages: z.enum(["2M", "1G"]).optional(),
  gpuRom: z.strictObject({ file: absolutePath.optional(), bar: z.boolean().optional() }).optional(),
  usbDevices: z
    .array(z.strictObject({ vendorId: hexId4("lsusb"), productId: hexId4("lsusb"), description: text().optional() }))
    .max(127, "a USB bus has at most 127 devices")
    .optional(),
  hypervisorVendorId: text(12).optional(),
  autostart: z.boolean().optional(),
});

export type LibvirtFleetSite = Record<string, never>;
export type LibvirtFleetHost = { libvirt?: z.infer<typeof libvirtHost> };
export type LibvirtFleetVm = z.infer<typeof libvirtVm>;

export const LIBVIRT_FLEET: FleetFileFragments<LibvirtFleetSite, LibvirtFleetVm> = {
  site: z.strictObject({}),
  siteNeeds: "libvirt: {}",
  hostFields: { libvirt: libvirtHost.optional() },
  hostNeeds: ["libvirt", "libvirt: { cpuVendor, iommuGroups } (gpu-passthrough discover prints them)"],
  vm: libvirtVm,
  vmNeeds: "libvirt: { baseImage }",
  example: {
    site: {},
    host: {
      libvirt: {
        cpuVendor: "amd",
        iommuGroups: [
          { id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] },
          { id: 15, devices: ["0000:0c:00.0", "0000:0c:00.1"] },
        ],
      },
    },
    vm: {
      baseImage: "/var/lib/libvirt/images/ubuntu-24.04.qcow2",
      cloudInit: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly ops"] },
    },
  },
};
