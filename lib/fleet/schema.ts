/**
 * The fleet file: sites (one stack each), hosts with their GPUs, and VMs. The schema mirrors the constructs'
 * props so that what a GitOps user writes in YAML and what a platform engineer writes in TypeScript read alike.
 */
import { z } from "zod";
import { parseDatastorePath } from "../backends/vsphere/horizon";
import { VSPHERE_LIMITS } from "../backends/vsphere/limits";
import { isPrototypeName } from "../construct-ids";
import { resolveGpuModel } from "../gpu/resolve";
import { PciAddress } from "../pci/address";
import {
  NAME_LIMITS,
  absolutePathProblem,
  documentProblem,
  hostNameProblem,
  textProblem,
  vmNameProblem,
} from "../validation/names";
import { urlCredentialProblem } from "../validation/url-credentials";

/** A string checked by one of the rules in lib/validation (each returns why a value is wrong, or undefined). */
const checked = (rule: (text: string) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    const problem = rule(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** One line of printable text: an inventory name, a computer name, a path segment. */
const text = (max: number = NAME_LIMITS.text) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .superRefine((value, ctx) => {
      const problem = textProblem(value, max);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
const name = text();
const hostName = checked(hostNameProblem);
const vmName = checked(vmNameProblem);

const pciAddress = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : 'must be a PCI address in quotes, e.g. "0000:3b:00.0" (as lspci -D shows it)',
  })
  .superRefine((value, ctx) => {
    // Text checks first: the parser's message repeats the value, which must not be a secret or a control character.
    const parsed =
      textProblem(value, 64) ??
      (/^[0-9A-Fa-f:.]+$/.test(value)
        ? PciAddress.tryParse(value)
        : 'is not a PCI address: write it as domain:bus:slot.function in hex, e.g. "0000:3b:00.0" (as lspci -D shows it)');
    if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
  });

/** A URL whose credentials, if any, belong in `instead` (an environment variable). */
const urlWithoutCredentials = (instead: string, schemes: readonly string[]) =>
  z
    .string()
    .max(2048, "is longer than 2048 characters")
    .superRefine((value, ctx) => {
      const problem =
        // The credential first: its message names the variable to use instead.
        (schemes.some((s) => value.toLowerCase().startsWith(`${s}://`))
          ? urlCredentialProblem(value, { instead })
          : `must be a ${schemes.join(" or ")} URL`) ?? textProblem(value, 2048);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

/** A catalog id, checked here so that an unknown model is reported with the file's other problems. */
const catalogId = name.superRefine((id, ctx) => {
  // The text's own problem is reported already; the catalog's message would repeat the value.
  if (textProblem(id)) return;
  const resolved = resolveGpuModel(id);
  if (Array.isArray(resolved)) resolved.forEach((message) => ctx.addIssue({ code: "custom", message }));
});

/** A PCI or USB id: 4 hex digits, as `tool` shows it. */
const hexId4 = (tool: string) => z.string().regex(/^[0-9a-fA-F]{4}$/, `must be 4 hex digits, as ${tool} shows it`);
const hexId = hexId4("lspci -nn");

const customModel = z.strictObject({
  name: text(64),
  barsMib: z
    .array(
      z
        .number()
        .int()
        .positive("each BAR is a whole, positive number of MiB")
        .max(1024 * 1024, "a BAR above 1 TiB (1048576 MiB) is not a GPU's"),
    )
    .min(1)
    .max(6, "a PCI function has at most 6 BARs"),
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

const httpMethod = z.string().regex(/^[A-Z]{1,16}$/, "must be an HTTP method in capitals, e.g. POST");
const httpStateUrl = urlWithoutCredentials("TF_HTTP_USERNAME and TF_HTTP_PASSWORD", ["http", "https"]);

/**
 * Where a stack keeps its Terraform state. Credentials never come from this file: S3 reads the AWS environment
 * (AWS_PROFILE, AWS_ACCESS_KEY_ID, OIDC), HTTP reads TF_HTTP_USERNAME / TF_HTTP_PASSWORD.
 */
const state = z.discriminatedUnion("backend", [
  z.strictObject({
    backend: z.literal("local"),
    /** Relative to the project root. @default terraform.<stack>.tfstate */
    path: text(NAME_LIMITS.path)
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
    endpoint: urlWithoutCredentials("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)", [
      "http",
      "https",
    ]).optional(),
  }),
  z.strictObject({
    backend: z.literal("http"),
    /** State URL; `{stack}` is replaced by the stack name, e.g. GitLab's .../terraform/state/{stack}. */
    address: httpStateUrl,
    /** @default address + "/lock" */
    lockAddress: httpStateUrl.optional(),
    /** @default lockAddress */
    unlockAddress: httpStateUrl.optional(),
    /** @default "POST" (GitLab's) */
    lockMethod: httpMethod.optional(),
    /** @default "DELETE" (GitLab's) */
    unlockMethod: httpMethod.optional(),
  }),
]);

/** vSphere's limit on passthrough devices per VM bounds the GPUs a VM can ask for; KVM's is checked by its backend. */
const MAX_VM_GPUS = VSPHERE_LIMITS.maxPciDevices;
/** The largest VM a supported hypervisor takes (vSphere 8); each backend checks its own limits after the schema. */
const MAX_VM_CPUS = VSPHERE_LIMITS.maxCpus;
const MAX_VM_MEMORY_GIB = VSPHERE_LIMITS.maxMemoryMib / 1024;

const site = z.strictObject({
  /** Becomes the stack name: cdktf.out/stacks/<name> (or <name>-<host> with stackPer: host). */
  name: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]*$/,
      "must be lower-case letters, digits and dashes, starting with a letter (it names the stack)",
    )
    .max(NAME_LIMITS.siteName, `has at most ${NAME_LIMITS.siteName} characters (it names the stack)`)
    // Stacks are constructs of the app, and constructs cannot hold a child named like a property of every object.
    .refine((site) => !isPrototypeName(site), "is a name every JavaScript object has (constructor): choose another"),
  vsphere: z
    .strictObject({
      /** vCenter address. Credentials come from VSPHERE_USER / VSPHERE_PASSWORD, never from this file. */
      server: checked(
        (server) =>
          (server.includes("@") || server.includes("/") || /[?#]/.test(server)
            ? "must be the vCenter host name or address alone (vcenter.example.com): no scheme, path, user or password; credentials come from VSPHERE_USER and VSPHERE_PASSWORD"
            : undefined) ?? hostNameProblem(server.replace(/:\d+$/, "")),
      ),
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

const absolutePath = checked(absolutePathProblem);

const libvirtHost = z.strictObject({
  /** Connection URI: qemu:///system on the machine that applies, or qemu+ssh://user@host/system. @default qemu:///system */
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
  iommuGroups: z
    .array(
      z.strictObject({
        id: z.number().int().min(0).max(65535),
        devices: z.array(pciAddress).min(1).max(256),
        bridges: z.array(pciAddress).max(256).optional(),
      }),
    )
    .max(4096),
});

const host = z.strictObject({
  name: hostName,
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
    .min(1, "a passthrough host needs at least one GPU")
    .max(64, "a host has at most 64 GPUs here"),
});

const vsphereVm = z.strictObject({
  template: name,
  datastore: name.optional(),
  network: name.optional(),
  folder: name.optional(),
  diskGib: z.number().int().positive().max(63488, "a virtual disk has at most 62 TB (63488 GiB)").optional(),
  linkedClone: z.boolean().optional(),
  /** The controller the template's disks are on. @default scsi */
  diskController: z.enum(["scsi", "nvme", "sata"]).optional(),
  /** A virtual TPM 2.0. @default the template's (the provider drops a cloned vTPM the configuration lacks) */
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
          /** Log the Administrator on once so run-once commands run. @default with run-once commands and a password */
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
      /** The Tools ISO as "[datastore] path": the install runs at the first logon. @default a step in the template */
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
  vcpuPins: z.array(text(64)).max(MAX_VM_CPUS).optional(),
  hugepages: z.enum(["2M", "1G"]).optional(),
  gpuRom: z.strictObject({ file: absolutePath.optional(), bar: z.boolean().optional() }).optional(),
  usbDevices: z
    .array(z.strictObject({ vendorId: hexId4("lsusb"), productId: hexId4("lsusb"), description: text().optional() }))
    .max(127, "a USB bus has at most 127 devices")
    .optional(),
  hypervisorVendorId: text(12).optional(),
  autostart: z.boolean().optional(),
});

const vm = z.strictObject({
  name: vmName,
  host: name,
  /** A number of GPUs to take from the host, or their addresses. */
  gpus: z.union([
    z.number().int().min(1, "must be at least 1").max(MAX_VM_GPUS, `at most ${MAX_VM_GPUS}`),
    z.array(pciAddress).min(1).max(MAX_VM_GPUS),
  ]),
  cpus: z.number().int().positive().max(MAX_VM_CPUS, `at most ${MAX_VM_CPUS} (vSphere 8's limit; KVM's is lower)`),
  coresPerSocket: z.number().int().positive().max(MAX_VM_CPUS).optional(),
  memoryGib: z
    .number()
    .positive()
    .max(MAX_VM_MEMORY_GIB, `at most ${MAX_VM_MEMORY_GIB} GiB (24 TiB, vSphere 8's limit)`),
  firmware: z.enum(["efi", "bios"]).optional(),
  secureBoot: z.boolean().optional(),
  mmioSizeGb: z.number().int().positive().max(65536, "at most 65536 GB (a 46-bit guest address space)").optional(),
  hideHypervisor: z.boolean().optional(),
  vsphere: vsphereVm.optional(),
  libvirt: libvirtVm.optional(),
});

/** Bounds on the fleet's size, so that no file makes synth run for minutes: split bigger fleets into several files. */
export const FLEET_LIMITS = { sites: 100, hosts: 1000, vms: 2000 } as const;

export const fleetSchema = z.strictObject({
  sites: z.array(site).min(1, "give at least one site").max(FLEET_LIMITS.sites),
  hosts: z.array(host).max(FLEET_LIMITS.hosts),
  vms: z.array(vm).max(FLEET_LIMITS.vms),
});

export type Fleet = z.infer<typeof fleetSchema>;
export type FleetSite = Fleet["sites"][number];
export type FleetHost = Fleet["hosts"][number];
export type FleetVm = Fleet["vms"][number];
export type FleetState = NonNullable<FleetSite["state"]>;
