/**
 * libvirt's part of the fleet file, and how a libvirt site becomes constructs: one provider per KVM host (its own
 * connection URI, through a variable so a URI with credentials is never written), and each VM's libvirt options.
 */
import { z } from "zod";
import { LibvirtProvider } from "../../../.gen/providers/libvirt/provider";
import { absolutePath, checked, cpuVendor, hexId4, iommuGroups, name, text } from "../../fleet/fields";
import { terraformName } from "../../fleet/names";
import { NAME_LIMITS, documentProblem, hostNameProblem, textProblem } from "../../validation/names";
import { urlCredentialProblem } from "../../validation/url-credentials";
import type { FleetFragments } from "../plugin";
import { KVM_LIMITS, LibvirtBackend } from "./libvirt-backend";
import { LibvirtVmOptions } from "./vm-options";

export const DEFAULT_LIBVIRT_URI = "qemu:///system";

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
});

const libvirtVm = z.strictObject({
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

type Host = { libvirt?: z.infer<typeof libvirtHost> };
type Vm = z.infer<typeof libvirtVm>;

export const LIBVIRT_FLEET: FleetFragments<Record<string, never>, Host, Vm> = {
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
    vm: { baseImage: "/var/lib/libvirt/images/ubuntu-24.04.qcow2" },
  },
  bindSite(scope, _site, hosts) {
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
        });
      },
      vmOptions: (v): LibvirtVmOptions | undefined => (v.settings ? { kind: "libvirt", ...v.settings } : undefined),
    };
  },
};
