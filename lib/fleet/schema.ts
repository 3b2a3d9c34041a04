/**
 * The fleet file: sites (one stack each), hosts with their GPUs, and VMs. The schema mirrors the constructs'
 * props so that what a GitOps user writes in YAML and what a platform engineer writes in TypeScript read alike.
 */
import { z } from "zod";
import { resolveGpuModel } from "../gpu/resolve";
import { PciAddress } from "../pci/address";

const name = z.string().trim().min(1, "must not be empty");

const pciAddress = z.string().superRefine((text, ctx) => {
  const parsed = PciAddress.tryParse(text);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

/** A catalog id, checked here so that an unknown model is reported with the file's other problems. */
const catalogId = name.superRefine((id, ctx) => {
  const resolved = resolveGpuModel(id);
  if (Array.isArray(resolved)) resolved.forEach((message) => ctx.addIssue({ code: "custom", message }));
});

/** A PCI or USB id: 4 hex digits, as `tool` shows it. */
const hexId4 = (tool: string) => z.string().regex(/^[0-9a-fA-F]{4}$/, `must be 4 hex digits, as ${tool} shows it`);
const hexId = hexId4("lspci -nn");

const customModel = z.strictObject({
  name,
  barsMib: z.array(z.number().int().positive("each BAR is a whole, positive number of MiB")).min(1),
  vendor: z.enum(["nvidia", "amd", "intel", "other"]).optional(),
  segment: z.enum(["datacenter", "workstation", "consumer"]).optional(),
  vendorId: hexId.optional(),
  deviceId: hexId.optional(),
  functions: z
    .array(
      z.strictObject({
        fn: z.number().int().min(1).max(7),
        kind: z.enum(["audio", "usb", "serial-bus", "other"]),
        deviceId: hexId.optional(),
      }),
    )
    .optional(),
  quirks: z.strictObject({ hideHypervisor: z.boolean().optional(), resetBug: z.boolean().optional() }).optional(),
});

/**
 * Where a stack keeps its Terraform state. Credentials never come from this file: S3 reads the AWS environment
 * (AWS_PROFILE, AWS_ACCESS_KEY_ID, OIDC), HTTP reads TF_HTTP_USERNAME / TF_HTTP_PASSWORD.
 */
const state = z.discriminatedUnion("backend", [
  z.strictObject({
    backend: z.literal("local"),
    /** Relative to the project root. @default terraform.<stack>.tfstate */
    path: name
      .refine(
        (p) => !/^(?:[/\\]|[A-Za-z]:)/.test(p),
        "must be relative to the project root (the stack reads it from cdktf.out/stacks/<stack>), e.g. state/terraform.{stack}.tfstate",
      )
      .optional(),
  }),
  z.strictObject({
    backend: z.literal("s3"),
    bucket: name,
    /** Object key; `{stack}` is replaced by the stack name. @default gpu-passthrough/{stack}.tfstate */
    key: name.optional(),
    region: name,
    /** S3-native state locking (Terraform 1.10+). @default true */
    useLockfile: z.boolean().optional(),
    encrypt: z.boolean().optional(),
    /** S3-compatible endpoints (MinIO, Ceph). */
    endpoint: z.url().optional(),
  }),
  z.strictObject({
    backend: z.literal("http"),
    /** State URL; `{stack}` is replaced by the stack name, e.g. GitLab's .../terraform/state/{stack}. */
    address: z.url(),
    /** @default address + "/lock" */
    lockAddress: z.url().optional(),
    /** @default lockAddress */
    unlockAddress: z.url().optional(),
    /** @default "POST" (GitLab's) */
    lockMethod: name.optional(),
    /** @default "DELETE" (GitLab's) */
    unlockMethod: name.optional(),
  }),
]);

const site = z.strictObject({
  /** Becomes the stack name: cdktf.out/stacks/<name> (or <name>-<host> with stackPer: host). */
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "must be lower-case letters, digits and dashes (it names the stack)"),
  vsphere: z
    .strictObject({
      /** vCenter address. Credentials come from VSPHERE_USER / VSPHERE_PASSWORD, never from this file. */
      server: name,
      datacenter: name,
      allowUnverifiedSsl: z.boolean().optional(),
    })
    .optional(),
  /** KVM hosts managed through libvirt; each host has its own connection (hosts[].libvirt.uri). */
  libvirt: z.strictObject({}).optional(),
  /** @default { backend: local } */
  state: state.optional(),
  /** One stack for the whole site, or one per host (smaller plans, applied in parallel). @default "site" */
  stackPer: z.enum(["site", "host"]).optional(),
});

const absolutePath = z.string().regex(/^\//, "must be an absolute path on the host (it starts with /)");

const libvirtHost = z.strictObject({
  /** Connection URI: qemu:///system on the machine that applies, or qemu+ssh://user@host/system. @default qemu:///system */
  uri: z
    .string()
    .regex(/^[a-z][a-z0-9+]*:\/\//, "must be a libvirt URI such as qemu:///system or qemu+ssh://root@kvm-01/system")
    .optional(),
  cpuVendor: z.enum(["intel", "amd"]),
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
  iommuGroups: z.array(
    z.strictObject({
      id: z.number().int().min(0),
      devices: z.array(pciAddress).min(1),
      bridges: z.array(pciAddress).optional(),
    }),
  ),
});

const host = z.strictObject({
  name,
  site: name,
  datastore: name.optional(),
  network: name.optional(),
  enableDirectPath: z.enum(["manual", "govc"]).optional(),
  libvirt: libvirtHost.optional(),
  gpus: z
    .array(
      z.strictObject({
        address: pciAddress,
        model: z.union([catalogId, customModel]),
        role: z.enum(["guest", "host"]).optional(),
      }),
    )
    .min(1, "a passthrough host needs at least one GPU"),
});

const vsphereVm = z.strictObject({
  template: name,
  datastore: name.optional(),
  network: name.optional(),
  folder: name.optional(),
  diskGib: z.number().int().positive().optional(),
  linkedClone: z.boolean().optional(),
  customize: z
    .strictObject({
      linux: z.strictObject({ hostName: name, domain: name }).optional(),
      windows: z
        .strictObject({
          computerName: name,
          /** Name of a sensitive Terraform variable (set TF_VAR_<name>) holding the Administrator password. */
          adminPasswordVariable: z
            .string()
            .regex(/^[a-z_][a-z0-9_]*$/, "must be a Terraform variable name (lower-case, digits, _)")
            .optional(),
          timeZone: z.number().int().optional(),
          runOnceCommands: z.array(name).optional(),
        })
        .optional(),
      ipv4: z
        .strictObject({
          address: z.ipv4(),
          netmask: z.number().int().min(1).max(32),
          gateway: z.ipv4(),
          dnsServers: z.array(z.ipv4()).optional(),
        })
        .optional(),
    })
    .optional(),
  horizon: z
    .strictObject({
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
  annotation: z.string().optional(),
});

const libvirtVm = z.strictObject({
  baseImage: absolutePath,
  diskGib: z.number().int().positive().optional(),
  network: name.optional(),
  cloudInit: z
    .strictObject({
      hostName: name.optional(),
      sshAuthorizedKeys: z.array(name).optional(),
      userData: z.string().startsWith("#cloud-config", "must be a #cloud-config document").optional(),
    })
    .optional(),
  vcpuPins: z.array(z.string()).optional(),
  hugepages: z.enum(["2M", "1G"]).optional(),
  gpuRom: z.strictObject({ file: absolutePath.optional(), bar: z.boolean().optional() }).optional(),
  usbDevices: z
    .array(
      z.strictObject({ vendorId: hexId4("lsusb"), productId: hexId4("lsusb"), description: z.string().optional() }),
    )
    .optional(),
  hypervisorVendorId: z.string().optional(),
  autostart: z.boolean().optional(),
});

const vm = z.strictObject({
  name,
  host: name,
  /** A number of GPUs to take from the host, or their addresses. */
  gpus: z.union([z.number().int().min(1, "must be at least 1"), z.array(pciAddress).min(1)]),
  cpus: z.number().int().positive(),
  coresPerSocket: z.number().int().positive().optional(),
  memoryGib: z.number().positive(),
  firmware: z.enum(["efi", "bios"]).optional(),
  secureBoot: z.boolean().optional(),
  mmioSizeGb: z.number().int().positive().optional(),
  hideHypervisor: z.boolean().optional(),
  vsphere: vsphereVm.optional(),
  libvirt: libvirtVm.optional(),
});

export const fleetSchema = z.strictObject({
  sites: z.array(site).min(1, "give at least one site"),
  hosts: z.array(host),
  vms: z.array(vm),
});

export type Fleet = z.infer<typeof fleetSchema>;
export type FleetSite = Fleet["sites"][number];
export type FleetHost = Fleet["hosts"][number];
export type FleetVm = Fleet["vms"][number];
export type FleetState = NonNullable<FleetSite["state"]>;
