/**
 * The fleet file: sites (one stack each), hosts with their GPUs, and VMs. The schema mirrors the constructs'
 * props so that what a GitOps user writes in YAML and what a platform engineer writes in TypeScript read alike.
 * The common fields are here; each hypervisor adds its own (lib/backends/<kind>/fleet.ts) through the registry.
 */
import { z } from "zod";
import { HYPERVISORS } from "../backends/registry";
import { catalogModel } from "../gpu/catalog";
import { DISPLAY_MODES } from "../gpu/model";
import { resolveGpuModel } from "../gpu/resolve";
import { isPrototypeName } from "../construct-ids";
import { PciAddress } from "../pci/address";
import { NAME_LIMITS } from "../validation/names";
import { catalogId, hexId, hostName, name, pciAddress, text, urlWithoutCredentials, vmName } from "./fields";

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
    /** Relative to the project root. @default - terraform.<stack>.tfstate */
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
    /** Object key; `{stack}` is replaced by the stack name. @default - gpu-passthrough/{stack}.tfstate */
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
    /** @default - address + "/lock" */
    lockAddress: httpStateUrl.optional(),
    /** @default - lockAddress */
    unlockAddress: httpStateUrl.optional(),
    /** @default "POST" (GitLab's) */
    lockMethod: httpMethod.optional(),
    /** @default "DELETE" (GitLab's) */
    unlockMethod: httpMethod.optional(),
  }),
]);

/** Bounds of a VM in the schema: the largest any hypervisor takes; each backend checks its own limits after it. */
const largest = (pick: (l: (typeof HYPERVISORS)[number]["limits"]) => number) => {
  const [top] = [...HYPERVISORS].sort((a, b) => pick(b.limits) - pick(a.limits));
  return { max: pick(top.limits), title: top.title };
};
const MAX_VM_GPUS = largest((l) => l.maxPciDevices).max;
const MAX_CPUS = largest((l) => l.maxCpus);
const MAX_MEMORY = largest((l) => l.maxMemoryMib);
const MAX_VM_MEMORY_GIB = MAX_MEMORY.max / 1024;

/** Each hypervisor's block, optional: which one a site has makes it that hypervisor's (checked by the loader). */
const blocks = <T>(pick: (h: (typeof HYPERVISORS)[number]) => T) =>
  Object.fromEntries(HYPERVISORS.map((h) => [h.kind, pick(h)])) as Record<string, T>;

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
  ...blocks((h) => h.fleet.site.optional()),
  /** @default { backend: local } */
  state: state.optional(),
  /** One stack for the whole site, or one per host (smaller plans, applied in parallel). @default "site" */
  stackPer: z.enum(["site", "host"]).optional(),
});

const hostGpu = z
  .strictObject({
    address: pciAddress,
    model: z.union([catalogId, customModel]),
    role: z.enum(["guest", "host"]).optional(),
    /** Boards with display modes only. @default "displayless" */
    displayMode: z
      .enum(DISPLAY_MODES, {
        error: () => "must be displayless or display-enabled (the board's Display Mode Selector mode)",
      })
      .optional(),
    /** Consumer boards with Resizable BAR on in the host's firmware. @default false */
    resizableBar: z.boolean({ error: () => "must be true or false" }).optional(),
    /** The NUMA node of the GPU's PCIe root (sysfs numa_node; left out where it reads -1). @default - unknown */
    numaNode: z
      .number({ error: () => "must be a NUMA node number (sysfs numa_node)" })
      .int("must be a whole number (sysfs numa_node)")
      .min(0, "must be 0 or more: leave numaNode out where sysfs numa_node reads -1")
      .max(1023)
      .optional(),
    /** The host firmware's boot display (sysfs boot_vga reads 1). @default false */
    bootVga: z.boolean({ error: () => "must be true or false" }).optional(),
  })
  .superRefine((gpu, ctx) => {
    // The model's own problems are reported by its field; here only a setting the board does not have.
    if (gpu.displayMode === undefined && gpu.resizableBar === undefined) return;
    if (typeof gpu.model === "string" && !catalogModel(gpu.model)) return;
    const resolved = resolveGpuModel(gpu.model, { displayMode: gpu.displayMode, resizableBar: gpu.resizableBar });
    if (!Array.isArray(resolved)) return;
    for (const message of resolved) {
      const field = ["displayMode", "resizableBar"].find((f) => message.startsWith(f));
      if (field) ctx.addIssue({ code: "custom", path: [field], message });
    }
  });

const host = z.strictObject({
  name: hostName,
  site: name,
  ...Object.assign({}, ...HYPERVISORS.map((h) => h.fleet.hostFields)),
  gpus: z.array(hostGpu).min(1, "a passthrough host needs at least one GPU").max(64, "a host has at most 64 GPUs here"),
});

const vm = z.strictObject({
  name: vmName,
  host: name,
  /** A number of GPUs to take from the host, or their addresses. */
  gpus: z.union([
    z.number().int().min(1, "must be at least 1").max(MAX_VM_GPUS, `at most ${MAX_VM_GPUS}`),
    z.array(pciAddress).min(1).max(MAX_VM_GPUS),
  ]),
  cpus: z
    .number()
    .int()
    .positive()
    .max(MAX_CPUS.max, `at most ${MAX_CPUS.max} (${MAX_CPUS.title}'s limit; other hypervisors' may be lower)`),
  coresPerSocket: z.number().int().positive().max(MAX_CPUS.max).optional(),
  memoryGib: z
    .number()
    .positive()
    .max(MAX_VM_MEMORY_GIB, `at most ${MAX_VM_MEMORY_GIB} GiB (${MAX_MEMORY.title}'s limit)`),
  firmware: z.enum(["efi", "bios"]).optional(),
  secureBoot: z.boolean().optional(),
  mmioSizeGb: z.number().int().positive().max(65536, "at most 65536 GB (a 46-bit guest address space)").optional(),
  hideHypervisor: z.boolean().optional(),
  ...blocks((h) => h.fleet.vm.optional()),
});

/** Bounds on the fleet's size, so that no file makes synth run for minutes: split bigger fleets into several files. */
export const FLEET_LIMITS = { sites: 100, hosts: 1000, vms: 2000 } as const;

export const fleetSchema = z.strictObject({
  sites: z.array(site).min(1, "give at least one site").max(FLEET_LIMITS.sites),
  hosts: z.array(host).max(FLEET_LIMITS.hosts),
  vms: z.array(vm).max(FLEET_LIMITS.vms),
});

/** A site: its name, state and layout, and one hypervisor's block under that hypervisor's kind. */
export type FleetSite = {
  readonly name: string;
  readonly state?: z.infer<typeof state>;
  readonly stackPer?: "site" | "host";
  readonly [kind: string]: unknown;
};
export type FleetHost = {
  readonly name: string;
  readonly site: string;
  readonly gpus: z.infer<typeof hostGpu>[];
  readonly [key: string]: unknown;
};
export type FleetVm = {
  readonly name: string;
  readonly host: string;
  readonly gpus: number | PciAddress[];
  readonly cpus: number;
  readonly coresPerSocket?: number;
  readonly memoryGib: number;
  readonly firmware?: "efi" | "bios";
  readonly secureBoot?: boolean;
  readonly mmioSizeGb?: number;
  readonly hideHypervisor?: boolean;
  readonly [kind: string]: unknown;
};
export interface Fleet {
  readonly sites: readonly FleetSite[];
  readonly hosts: readonly FleetHost[];
  readonly vms: readonly FleetVm[];
}
export type FleetState = NonNullable<FleetSite["state"]>;
