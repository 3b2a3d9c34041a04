/**
 * Reads a fleet file: YAML syntax, then the schema, then the references between entries. Every problem is
 * collected and reported together, each with its key path and line (`vms[2].gpus[0] (line 31): ...`).
 */
import { readFileSync } from "fs";
import { Document, LineCounter, isNode, parseDocument } from "yaml";
import { z } from "zod";
import { PassthroughValidationError } from "../problems";
import { resolveState, stackLayout, stateLocation, terraformName } from "./layout";
import { Fleet, fleetSchema } from "./schema";

export class FleetFileError extends PassthroughValidationError {
  constructor(file: string, problems: readonly string[]) {
    super(problems, `${file} has problems`);
    this.name = "FleetFileError";
  }
}

type Path = readonly PropertyKey[];

/** `vms[2].gpus[0]` from `["vms", 2, "gpus", 0]`. */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/** Reads and checks the fleet file at `file`. @throws FleetFileError listing every problem. */
export function loadFleetFile(file: string): Fleet {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (e as Error).message;
    throw new FleetFileError(file, [
      `${file} ${reason}: set FLEET_FILE to the path of your fleet file (default fleet.yaml)`,
    ]);
  }
  return parseFleet(text, file);
}

/** Checks fleet YAML text; `file` names it in messages. @throws FleetFileError listing every problem. */
export function parseFleet(text: string, file = "fleet.yaml"): Fleet {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? "" : ` (line ${lines.linePos(offset).line})`);

  if (doc.errors.length) {
    throw new FleetFileError(
      file,
      doc.errors.map((e) => `YAML syntax${lineOf(e.pos[0])}: ${e.message.split("\n")[0]}`),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new FleetFileError(file, [
      "the file is empty: it needs sites, hosts and vms (see fleet.yaml in this project)",
    ]);
  }

  const at = (path: Path, message: string) =>
    `${formatPath(path) || "(top level)"}${lineOf(offsetOf(doc, path))}: ${message}`;
  const parsed = fleetSchema.safeParse(data);
  if (!parsed.success) {
    throw new FleetFileError(
      file,
      parsed.error.issues.map((i) => at(i.path, describeIssue(i))),
    );
  }
  const problems = referenceProblems(parsed.data).map(([path, message]) => at(path, message));
  if (problems.length) throw new FleetFileError(file, problems);
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}: check the spelling (keys are camelCase) or remove ${issue.keys.length > 1 ? "them" : "it"}`;
  }
  if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
    return `missing: ${issue.message.replace(/^Invalid input: /, "")}`;
  }
  return issue.message;
}

/** Names that must be unique, and references (host → site, vm → host) that must resolve. */
function referenceProblems(fleet: Fleet): [Path, string][] {
  const problems: [Path, string][] = [];
  const unique = <T>(
    items: readonly T[],
    key: (t: T) => string,
    scope: (t: T) => string,
    listName: string,
    what: string,
  ) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const k = `${scope(item)}\u0000${key(item)}`;
      const first = seen.get(k);
      if (first === undefined) seen.set(k, i);
      else
        problems.push([
          [listName, i, "name"],
          `${what} "${key(item)}" is already defined at ${listName}[${first}]: names must be unique`,
        ]);
    });
  };
  unique(
    fleet.sites,
    (s) => s.name,
    () => "",
    "sites",
    "site",
  );
  unique(
    fleet.hosts,
    (h) => h.name,
    () => "",
    "hosts",
    "host",
  );

  const sites = new Set(fleet.sites.map((s) => s.name));
  fleet.hosts.forEach((h, i) => {
    if (!sites.has(h.site))
      problems.push([["hosts", i, "site"], `no site named "${h.site}"; sites: ${[...sites].join(", ")}`]);
  });
  const hostSite = new Map(fleet.hosts.map((h) => [h.name, h.site]));
  fleet.vms.forEach((v, i) => {
    if (!hostSite.has(v.host)) {
      problems.push([
        ["vms", i, "host"],
        `no host named "${v.host}"; hosts: ${[...hostSite.keys()].join(", ") || "(none)"}`,
      ]);
    }
  });
  // VM names are unique per site: they are vCenter names and construct ids in the site's stack.
  unique(
    fleet.vms,
    (v) => v.name,
    (v) => hostSite.get(v.host) ?? "",
    "vms",
    "VM",
  );
  return [...problems, ...hypervisorProblems(fleet), ...stateProblems(fleet)];
}

/** Each site is vSphere or libvirt, and its hosts and VMs carry that hypervisor's settings only. */
function hypervisorProblems(fleet: Fleet): [Path, string][] {
  const problems: [Path, string][] = [];
  const kindOf = new Map<string, "vsphere" | "libvirt">();
  fleet.sites.forEach((s, i) => {
    if (!!s.vsphere === !!s.libvirt) {
      problems.push([["sites", i], `site "${s.name}" needs one of vsphere: { server, datacenter } or libvirt: {}`]);
    } else kindOf.set(s.name, s.vsphere ? "vsphere" : "libvirt");
  });
  const hostKind = new Map<string, "vsphere" | "libvirt">();
  fleet.hosts.forEach((h, i) => {
    const kind = kindOf.get(h.site);
    if (!kind) return;
    hostKind.set(h.name, kind);
    if (kind === "libvirt") {
      if (!h.libvirt)
        problems.push([
          ["hosts", i],
          `host "${h.name}" is on libvirt site "${h.site}" and needs libvirt: { cpuVendor, iommuGroups } (gpu-passthrough discover prints them)`,
        ]);
      for (const key of ["datastore", "network", "enableDirectPath"] as const) {
        if (h[key] !== undefined)
          problems.push([
            ["hosts", i, key],
            `${key} is a vSphere setting, but site "${h.site}" is libvirt${key === "network" ? ": use libvirt.network" : ""}`,
          ]);
      }
      const uri = h.libvirt?.uri;
      if (uri && /^[^:]+:\/\/[^/@]*:[^/@]*@/.test(uri)) {
        problems.push([
          ["hosts", i, "libvirt", "uri"],
          "the URI holds a password, which would be committed with this file: use SSH keys (qemu+ssh://user@host/system), or leave the password out and set TF_VAR_libvirt_uri_<host> where Terraform runs",
        ]);
      }
    } else if (h.libvirt) {
      problems.push([
        ["hosts", i, "libvirt"],
        `site "${h.site}" is vSphere; libvirt settings belong to hosts of a libvirt site`,
      ]);
    }
  });
  fleet.vms.forEach((v, i) => {
    const kind = hostKind.get(v.host);
    if (!kind) return;
    const other = kind === "vsphere" ? "libvirt" : "vsphere";
    if (!v[kind]) {
      problems.push([
        ["vms", i],
        kind === "vsphere"
          ? `VM "${v.name}" runs on vSphere host "${v.host}" and needs vsphere: { template }`
          : `VM "${v.name}" runs on libvirt host "${v.host}" and needs libvirt: { baseImage }`,
      ]);
    }
    if (v[other])
      problems.push([["vms", i, other], `host "${v.host}" is ${kind}; ${other} settings do not apply to it`]);
  });
  return problems;
}

/**
 * Two stacks must never share a name or a state: the second apply would overwrite the first stack's resources.
 * Within a stack, hosts must keep distinct Terraform names (provider alias, variables, outputs).
 */
function stateProblems(fleet: Fleet): [Path, string][] {
  const problems: [Path, string][] = [];
  const seen = new Map<string, string>();
  const stacks = new Map<string, string>();
  for (const stack of stackLayout(fleet)) {
    const perHost = stack.site.stackPer === "host";
    const source = perHost ? `host "${stack.hosts[0].name}" of site "${stack.site.name}"` : `site "${stack.site.name}"`;
    const first = stacks.get(stack.name);
    if (first !== undefined) {
      problems.push([
        perHost
          ? ["hosts", fleet.hosts.indexOf(stack.hosts[0]), "name"]
          : ["sites", fleet.sites.indexOf(stack.site), "name"],
        `${source} and ${first} both make the stack "${stack.name}": rename one`,
      ]);
      continue;
    }
    stacks.set(stack.name, source);
    const tfNames = new Map<string, string>();
    for (const h of stack.hosts) {
      const other = tfNames.get(terraformName(h.name));
      if (other !== undefined) {
        problems.push([
          ["hosts", fleet.hosts.indexOf(h), "name"],
          `hosts "${other}" and "${h.name}" of stack "${stack.name}" both have the Terraform name "${terraformName(h.name)}" (provider alias, variable and output names): rename one`,
        ]);
      } else tfNames.set(terraformName(h.name), h.name);
    }
    const location = stateLocation(resolveState(stack.site.state, stack.name));
    const other = seen.get(location);
    if (other !== undefined) {
      problems.push([
        ["sites", fleet.sites.indexOf(stack.site), "state"],
        `stacks "${other}" and "${stack.name}" would share the state ${location}: put {stack} in the key/address (or path) so that each stack has its own`,
      ]);
    } else seen.set(location, stack.name);
  }
  return problems;
}

/** Start offset of the YAML node at `path`, or of its nearest existing parent. */
function offsetOf(doc: Document, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}
