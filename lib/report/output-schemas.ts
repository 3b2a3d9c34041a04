/**
 * The shapes of the synth output files the report reads: cdktf's `manifest.json` (which stacks there are),
 * `passthrough.json` (manifest.ts writes it) and the libvirt hosts' `host-prep.json`. The report reads them after
 * the fact, maybe from a CI artifact or an older package version, so each is checked before use. Objects are loose:
 * fields a newer writer adds pass through to the report's JSON, as before.
 */
import { z } from "zod";
import type { HostPreparation } from "../host-prep/plan";
import type { PassthroughManifest } from "./manifest";
import { MANIFEST_VERSION } from "./manifest-file";
import { insidePath } from "./schema-issue";

/** cdktf's `<outdir>/manifest.json`: its stacks by name, with their directory and Terraform JSON. */
export const cdktfManifestSchema = z.looseObject({
  stacks: z.record(
    z.string(),
    z.looseObject({
      workingDirectory: insidePath("output directory"),
      synthesizedStackPath: insidePath("output directory"),
    }),
  ),
});

export type CdktfManifest = z.infer<typeof cdktfManifestSchema>;

const strings = z.array(z.string());
const stackFiles = z.array(insidePath("stack directory"));

const mmioSchema = z.looseObject({
  needs64BitMmio: z.boolean(),
  totalMib: z.number(),
  sizeGb: z.number(),
  overridden: z.boolean(),
  rule: z.enum(["none", "bar-sum", "vendor-table", "override", "esxi-pages"]).optional(),
  ruleWhy: z.string().optional(),
  inputs: z.array(z.looseObject({ gpu: z.string(), model: z.string(), mappedMib: z.number() })),
});

/** passthrough.json; `version` first, so that a manifest of another version is told as such. */
export const passthroughManifestSchema = z.looseObject({
  version: z.number().superRefine((version, ctx) => {
    if (version !== MANIFEST_VERSION) {
      ctx.addIssue({ code: "custom", message: `is ${version} (this report reads version ${MANIFEST_VERSION})` });
    }
  }),
  stack: z.string(),
  hosts: z.array(
    z.looseObject({
      name: z.string(),
      backend: z.string(),
      key: z.string().optional(),
      gpus: z.array(
        z.looseObject({
          gpu: z.string(),
          model: z.string(),
          modelId: z.string().optional(),
          role: z.enum(["guest", "host"]),
          functions: strings,
          mappedMib: z.number(),
          vm: z.string().optional(),
        }),
      ),
      steps: z.array(
        z.looseObject({
          kind: z.enum(["bios", "command", "reboot"]),
          description: z.string(),
          command: z.string().optional(),
        }),
      ),
      files: stackFiles,
    }),
  ),
  vms: z.array(
    z.looseObject({
      name: z.string(),
      host: z.string(),
      backend: z.string(),
      address: z.string(),
      otherAddresses: strings,
      cpus: z.number(),
      coresPerSocket: z.number(),
      memoryMib: z.number(),
      memoryReservationMib: z.number(),
      firmware: z.string(),
      secureBoot: z.boolean(),
      mmio: mmioSchema,
      hideHypervisor: z.boolean(),
      hideHypervisorReason: z.string(),
      gpus: z.array(z.looseObject({ gpu: z.string(), model: z.string(), functions: strings })),
      pciFunctions: strings,
      constraints: strings,
      backendSettings: z.array(z.looseObject({ setting: z.string(), value: z.string(), why: z.string() })).optional(),
      steps: z
        .array(
          z.looseObject({
            when: z.enum(["before-apply", "after-apply"]),
            description: z.string(),
            command: z.string().optional(),
          }),
        )
        .optional(),
      files: stackFiles,
    }),
  ),
});

/** What the report shows of a KVM host's host-prep.json (libvirt, Proxmox VE). */
export type ReportedHostPrep = Pick<HostPreparation, "kernelArgs" | "vfioPciIds" | "bindBy" | "bindReason">;

export const hostPrepSchema = z.looseObject({
  kernelArgs: strings,
  vfioPciIds: strings,
  bindBy: z.enum(["ids", "address"]),
  bindReason: z.string(),
});

// The schemas must give what the report's code is typed against: a field manifest.ts adds or retypes fails here.
const _manifestFits: (m: z.infer<typeof passthroughManifestSchema>) => PassthroughManifest = (m) => m;
const _hostPrepFits: (p: z.infer<typeof hostPrepSchema>) => ReportedHostPrep = (p) => p;
void _manifestFits;
void _hostPrepFits;
