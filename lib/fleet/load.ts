/**
 * Reads a fleet file: YAML syntax, then the schema, then the references between entries. Every problem is
 * collected and reported together, each with its key path and line (`vms[2].gpus[0] (line 31): ...`).
 */
import { readFileSync, statSync } from "fs";
import { Document, LineCounter, YAMLError, isNode, parseDocument } from "yaml";
import { z } from "zod";
import { MAX_STACK_NAME, resolveState, stackLayout, stateLocation, terraformName } from "./layout";
import { HYPERVISORS } from "../backends/registry";
import type { HypervisorPlugin } from "../backends/plugin";
import { FleetFileError } from "./fleet-file-error";
import { Fleet, FleetSite, FleetVm, fleetSchema } from "./schema";
import { formatPath } from "../plan-values";

export { FleetFileError };

type Path = readonly PropertyKey[];

/** A fleet file bigger than this is refused before it is parsed: split the fleet into several files. */
export const MAX_FLEET_FILE_BYTES = 8 * 1024 * 1024;

/**
 * A fleet file as far as it is usable: the entries that passed the schema (so the rules that span entries can
 * still run on them), and every problem found. A problem in one entry does not hide the problems of others.
 */
export interface FleetReading {
  readonly fleet: Fleet;
  /** Every problem, each with its key path and line; empty when the file is valid. */
  readonly problems: readonly string[];
  /** Whether the file could be read at all; when false, `fleet` is empty. */
  readonly readable: boolean;
}

/** Reads and checks the fleet file at `file`. @throws FleetFileError listing every problem. */
export function loadFleetFile(file: string): Fleet {
  const reading = readFleetFile(file);
  if (reading.problems.length) throw new FleetFileError(file, reading.problems);
  return reading.fleet;
}

/** Checks fleet YAML text; `file` names it in messages. @throws FleetFileError listing every problem. */
export function parseFleet(text: string, file = "fleet.yaml"): Fleet {
  const reading = readFleet(text, file);
  if (reading.problems.length) throw new FleetFileError(file, reading.problems);
  return reading.fleet;
}

/** Reads the fleet file at `file`, collecting problems rather than throwing. */
export function readFleetFile(file: string): FleetReading {
  let bytes: Buffer;
  try {
    if (statSync(file).size > MAX_FLEET_FILE_BYTES) {
      return unreadable(
        `${file} is larger than ${MAX_FLEET_FILE_BYTES / 1024 / 1024} MiB: split the fleet into several files and synthesize each (FLEET_FILE)`,
      );
    }
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "does not exist"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot be read (${code ?? "error"})`;
    return unreadable(`${file} ${reason}: set FLEET_FILE to the path of your fleet file (default fleet.yaml)`);
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.includes(0)) {
    return unreadable("the file is UTF-16 (or holds NUL bytes): save it as UTF-8");
  }
  return readFleet(bytes.toString("utf8"), file);
}

/** Reads fleet YAML text, collecting problems rather than throwing. */
export function readFleet(text: string, file = "fleet.yaml"): FleetReading {
  if (text.length > MAX_FLEET_FILE_BYTES) {
    return unreadable(
      `${file} is larger than ${MAX_FLEET_FILE_BYTES / 1024 / 1024} MiB: split the fleet into several files`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ""), { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? "" : ` (line ${lines.linePos(offset).line})`);

  if (doc.errors.length) {
    return unreadable(...doc.errors.map((e) => `YAML syntax${lineOf(e.pos[0])}: ${describeYamlError(e)}`));
  }
  let data: unknown;
  try {
    // An alias expanded over and over (a "billion laughs" file) would take all memory; yaml counts the expansions.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return unreadable(
      `the file expands YAML aliases (*name) too often (${(e as Error).message.split("\n")[0]}): write the values out instead of nesting aliases`,
    );
  }
  if (data === null || data === undefined) {
    return unreadable("the file is empty: it needs sites, hosts and vms (see fleet.yaml in this project)");
  }

  const parsed = fleetSchema.safeParse(data);
  const { fleet, origin } = parsed.success
    ? whole(parsed.data as unknown as Fleet)
    : validEntries(data, parsed.error.issues);
  const references = referenceProblems(fleet, origin, rawNames(data));
  const found: [Path, string][] = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap(issueProblems)),
    ...references,
  ];
  // In the order of the file, so that a user fixes them top to bottom.
  const problems = found
    .map(([path, message]) => ({ offset: offsetOf(doc, path), path, message }))
    .sort((a, b) => (a.offset ?? Infinity) - (b.offset ?? Infinity))
    .map(({ offset, path, message }) => `${formatPath(path) || "(top level)"}${lineOf(offset)}: ${message}`);
  return { fleet: withoutEntriesAt(fleet, origin, references), problems, readable: true };
}

/** The fleet less the entries a problem points into: building them would only repeat their problem. */
function withoutEntriesAt(fleet: Fleet, origin: Origin, problems: readonly [Path, string][]): Fleet {
  const bad = new Set(problems.filter(([p]) => p.length >= 2).map(([p]) => `${String(p[0])}/${String(p[1])}`));
  const keep = <T extends object>(list: string, items: readonly T[]) =>
    items.filter((item) => !bad.has(`${list}/${origin.get(item) ?? -1}`));
  return { sites: keep("sites", fleet.sites), hosts: keep("hosts", fleet.hosts), vms: keep("vms", fleet.vms) };
}

function unreadable(...problems: string[]): FleetReading {
  return { fleet: { sites: [], hosts: [], vms: [] }, problems, readable: false };
}

function describeYamlError(e: YAMLError): string {
  const first = e.message.split("\n")[0];
  switch (e.code) {
    case "DUPLICATE_KEY":
      return `${first}: a key appears twice in one mapping; keep one of them (the second would silently win)`;
    case "MULTIPLE_DOCS":
      return "the file holds more than one YAML document (a --- line): a fleet file is one document; merge them or use one file per fleet";
    default:
      return first;
  }
}

/** A schema issue as problems at the key they concern (an unknown key at its own line). */
function issueProblems(issue: z.core.$ZodIssue): [Path, string][] {
  if (issue.code !== "unrecognized_keys") return [[issue.path, describeIssue(issue)]];
  return issue.keys.map((key): [Path, string] => [
    [...issue.path, key],
    key === "<<"
      ? "YAML merge keys (<<) are not supported (YAML 1.2 dropped them): write the settings out in each entry"
      : /pass|secret|token|credential|^user|accesskey/i.test(key)
        ? "unknown key, and a credential has no place in the fleet file (it is committed): remove it and set it in the environment where Terraform runs (README, Credentials)"
        : "unknown key: check the spelling (keys are camelCase) or remove it",
  ]);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_union" && issue.path.at(-1) === "gpus") {
    const what = 'a number of GPUs (gpus: 2) or a list of their PCI addresses (gpus: ["0000:3b:00.0"])';
    return issue.input === undefined ? `missing: ${what}` : `must be ${what}`;
  }
  if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
    return `missing: ${issue.message.replace(/^Invalid input: /, "")}`;
  }
  if (issue.code === "too_big" && issue.origin === "array") {
    return `lists ${issue.maximum === undefined ? "too many" : `more than ${String(issue.maximum)}`} entries${issue.message.startsWith("Too big") ? "" : `: ${issue.message}`}`;
  }
  return issue.message;
}

/** Where each entry of the checked fleet came from in the file: its index in its list. */
type Origin = Map<object, number>;

function whole(fleet: Fleet): { fleet: Fleet; origin: Origin } {
  const origin: Origin = new Map();
  for (const list of [fleet.sites, fleet.hosts, fleet.vms]) list.forEach((entry, i) => origin.set(entry, i));
  return { fleet, origin };
}

/**
 * The entries of each list that the rules can still check: those without schema problems, and those whose
 * problems are in optional settings outside any list, with those settings left out (a bad `uri` does not hide
 * the host's other problems). An entry with a problem inside a list (a GPU, a group) is left out whole: checking
 * its host with a GPU missing would report problems that are not there.
 */
function validEntries(data: unknown, issues: readonly z.core.$ZodIssue[]): { fleet: Fleet; origin: Origin } {
  const origin: Origin = new Map();
  const raw = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const issuesOf = new Map<string, z.core.$ZodIssue[]>();
  for (const issue of issues.filter((i) => i.path.length >= 2)) {
    const key = `${String(issue.path[0])}/${String(issue.path[1])}`;
    issuesOf.set(key, [...(issuesOf.get(key) ?? []), issue]);
  }
  const entries = <T extends object>(list: "sites" | "hosts" | "vms", schema: z.ZodType): T[] => {
    const items = Object.hasOwn(raw, list) ? raw[list] : undefined;
    if (!Array.isArray(items)) return [];
    return items.flatMap((item, i) => {
      const entryIssues = issuesOf.get(`${list}/${i}`);
      const result = schema.safeParse(entryIssues ? withoutIssues(item, entryIssues) : item);
      if (!result.success) return [];
      origin.set(result.data as T, i);
      return [result.data as T];
    });
  };
  const { sites, hosts, vms } = fleetSchema.shape;
  return {
    fleet: {
      sites: entries("sites", sites.element),
      hosts: entries("hosts", hosts.element),
      vms: entries("vms", vms.element),
    },
    origin,
  };
}

/** A copy of `entry` without the settings `issues` point at, or undefined when an issue lies inside a list. */
function withoutIssues(entry: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
  const copy = structuredClone(entry) as Record<string, unknown>;
  for (const issue of issues) {
    const path = issue.path.slice(2);
    const keys = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...path, k]) : [path];
    for (const keyPath of keys) {
      if (keyPath.length === 0 || keyPath.some((k) => typeof k !== "string")) return undefined;
      let node: unknown = copy;
      for (const key of keyPath.slice(0, -1)) {
        node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key as string] : undefined;
        if (Array.isArray(node)) return undefined;
      }
      if (typeof node === "object" && node !== null) delete (node as Record<string, unknown>)[keyPath.at(-1) as string];
    }
  }
  return copy;
}

/** The names every entry gives, valid or not, so that a reference to an entry with problems is not reported too. */
interface RawNames {
  readonly sites: ReadonlySet<string>;
  readonly hosts: ReadonlySet<string>;
}

function rawNames(data: unknown): RawNames {
  const names = (list: string) => {
    const items =
      typeof data === "object" && data !== null && Object.hasOwn(data, list)
        ? (data as Record<string, unknown>)[list]
        : [];
    if (!Array.isArray(items)) return new Set<string>();
    return new Set(
      items.flatMap((item: unknown) => {
        const name = typeof item === "object" && item !== null ? (item as { name?: unknown }).name : undefined;
        return typeof name === "string" ? [name.trim()] : [];
      }),
    );
  };
  return { sites: names("sites"), hosts: names("hosts") };
}

/** Names that must be unique, and references (host → site, vm → host) that must resolve. */
function referenceProblems(fleet: Fleet, origin: Origin, raw: RawNames): [Path, string][] {
  const problems: [Path, string][] = [];
  const index = (entry: object) => origin.get(entry) ?? -1;
  /** Reports the second of two entries with the same key in the same scope. */
  const unique = <T extends object>(
    items: readonly T[],
    key: (t: T) => string | undefined,
    listName: string,
    message: (item: T, first: T) => string,
  ) => {
    const seen = new Map<string, T>();
    for (const item of items) {
      const k = key(item);
      if (k === undefined) continue;
      const first = seen.get(k);
      if (first === undefined) seen.set(k, item);
      else problems.push([[listName, index(item), "name"], message(item, first)]);
    }
  };
  unique(
    fleet.sites,
    (s) => s.name,
    "sites",
    (s, first) => `site "${s.name}" is already defined at sites[${index(first)}]: names must be unique`,
  );
  // Host names are DNS names, which ignore case: ESX-01 and esx-01 are one host.
  unique(
    fleet.hosts,
    (h) => h.name.toLowerCase(),
    "hosts",
    (h, first) =>
      h.name === first.name
        ? `host "${h.name}" is already defined at hosts[${index(first)}]: names must be unique`
        : `host "${h.name}" is host "${first.name}" (hosts[${index(first)}]) written in other case: host names ignore case; define it once`,
  );

  const sites = new Set(fleet.sites.map((s) => s.name));
  fleet.hosts.forEach((h) => {
    if (!sites.has(h.site) && !raw.sites.has(h.site))
      problems.push([["hosts", index(h), "site"], `no site named "${h.site}"; sites: ${[...sites].join(", ")}`]);
  });
  // The first of two entries of one name is the one the app builds.
  const hostOf = new Map([...fleet.hosts].reverse().map((h) => [h.name, h]));
  const siteOf = new Map([...fleet.sites].reverse().map((s) => [s.name, s]));
  fleet.vms.forEach((v) => {
    if (!hostOf.has(v.host) && !raw.hosts.has(v.host)) {
      problems.push([
        ["vms", index(v), "host"],
        `no host named "${v.host}"; hosts: ${[...hostOf.keys()].join(", ") || "(none)"}`,
      ]);
    }
  });
  // VM names are unique per site (they are construct ids in the site's stack), and beyond it where the hypervisor's
  // inventory is shared (vSphere: one vCenter datacenter and folder), where two VMs of one name would be one VM.
  const vmScope = (v: FleetVm) => {
    const site = siteOf.get(hostOf.get(v.host)?.site ?? "");
    if (!site) return `host:${v.host}\u0000${v.name}`;
    const plugin = pluginOf(site);
    const shared = plugin?.fleet.vmNameScope?.(site[plugin.kind], v[plugin.kind]);
    return `${shared ?? `site:${site.name}`}\u0000${v.name}`;
  };
  unique(fleet.vms, vmScope, "vms", (v, first) => {
    const [here, there] = [hostOf.get(v.host)?.site, hostOf.get(first.host)?.site];
    return here === there
      ? `VM "${v.name}" is already defined at vms[${index(first)}]: names must be unique`
      : `VM "${v.name}" of site "${here}" has the name of VM vms[${index(first)}] of site "${there}", and both sites share one ${pluginOf(siteOf.get(here ?? ""))?.title ?? ""} inventory (${vmScope(v).split("\u0000")[0]}): one of them would take the other's place; rename one`;
  });
  // A VM and a host of one stack cannot share a name: both name constructs of the stack.
  fleet.vms.forEach((v) => {
    const clash = fleet.hosts.find((h) => h.name === v.name && h.site === hostOf.get(v.host)?.site);
    if (clash)
      problems.push([
        ["vms", index(v), "name"],
        `VM "${v.name}" has the name of host hosts[${index(clash)}] of the same site: rename the VM`,
      ]);
  });
  return [...problems, ...hypervisorProblems(fleet, index), ...stateProblems(fleet, index)];
}

/** The hypervisor of a site: the one whose block it has (the loader reports a site with none or several). */
export function pluginOf(site: FleetSite | undefined): HypervisorPlugin | undefined {
  const kinds = HYPERVISORS.filter((h) => site?.[h.kind] !== undefined);
  return kinds.length === 1 ? kinds[0] : undefined;
}

/** Each site is one hypervisor's, and its hosts and VMs carry that hypervisor's settings only. */
function hypervisorProblems(fleet: Fleet, index: (entry: object) => number): [Path, string][] {
  const problems: [Path, string][] = [];
  const kindOf = new Map<string, HypervisorPlugin>();
  fleet.sites.forEach((s) => {
    const plugin = pluginOf(s);
    if (!plugin) {
      problems.push([
        ["sites", index(s)],
        `site "${s.name}" needs one of ${HYPERVISORS.map((h) => h.fleet.siteNeeds).join(" or ")}`,
      ]);
    } else kindOf.set(s.name, plugin);
  });
  const hostKind = new Map<string, HypervisorPlugin>();
  fleet.hosts.forEach((h) => {
    const i = index(h);
    const plugin = kindOf.get(h.site);
    if (!plugin) return;
    hostKind.set(h.name, plugin);
    const needs = plugin.fleet.hostNeeds;
    if (needs && h[needs[0]] === undefined) {
      problems.push([["hosts", i], `host "${h.name}" is on ${plugin.title} site "${h.site}" and needs ${needs[1]}`]);
    }
    for (const other of HYPERVISORS.filter((o) => o !== plugin)) {
      for (const key of Object.keys(other.fleet.hostFields)) {
        if (h[key] === undefined || key in plugin.fleet.hostFields) continue;
        problems.push([
          ["hosts", i, key],
          key === other.kind
            ? `site "${h.site}" is ${plugin.title}; ${other.kind} settings belong to hosts of a ${other.title} site`
            : `${key} is a ${other.title} setting, but site "${h.site}" is ${plugin.kind}`,
        ]);
      }
    }
  });
  fleet.vms.forEach((v) => {
    const i = index(v);
    const plugin = hostKind.get(v.host);
    if (!plugin) return;
    if (plugin.fleet.vmNeeds && v[plugin.kind] === undefined) {
      problems.push([
        ["vms", i],
        `VM "${v.name}" runs on ${plugin.title} host "${v.host}" and needs ${plugin.fleet.vmNeeds}`,
      ]);
    }
    for (const other of HYPERVISORS.filter((o) => o !== plugin && v[o.kind] !== undefined)) {
      problems.push([
        ["vms", i, other.kind],
        `host "${v.host}" is ${plugin.kind}; ${other.kind} settings do not apply to it`,
      ]);
    }
  });
  return problems;
}

/**
 * Two stacks must never share a name or a state: the second apply would overwrite the first stack's resources.
 * Within a stack, hosts must keep distinct Terraform names (provider alias, variables, outputs).
 */
function stateProblems(fleet: Fleet, index: (entry: object) => number): [Path, string][] {
  const problems: [Path, string][] = [];
  const seen = new Map<string, string>();
  const stacks = new Map<string, string>();
  for (const stack of stackLayout(fleet)) {
    const perHost = stack.site.stackPer === "host";
    const source = perHost ? `host "${stack.hosts[0].name}" of site "${stack.site.name}"` : `site "${stack.site.name}"`;
    const where: Path = perHost ? ["hosts", index(stack.hosts[0]), "name"] : ["sites", index(stack.site), "name"];
    const first = stacks.get(stack.name);
    if (first !== undefined) {
      problems.push([where, `${source} and ${first} both make the stack "${stack.name}": rename one`]);
      continue;
    }
    if (stack.name.length > MAX_STACK_NAME) {
      problems.push([
        where,
        `the stack "${stack.name.slice(0, 40)}..." would have a ${stack.name.length}-character name, which names its directory and state file; keep it to ${MAX_STACK_NAME} (shorten the site or host name)`,
      ]);
    }
    stacks.set(stack.name, source);
    const tfNames = new Map<string, string>();
    for (const h of stack.hosts) {
      const other = tfNames.get(terraformName(h.name));
      if (other !== undefined) {
        problems.push([
          ["hosts", index(h), "name"],
          `hosts "${other}" and "${h.name}" of stack "${stack.name}" both have the Terraform name "${terraformName(h.name)}" (provider alias, variable and output names): rename one`,
        ]);
      } else tfNames.set(terraformName(h.name), h.name);
    }
    const location = stateLocation(resolveState(stack.site.state, stack.name));
    const other = seen.get(location);
    if (other !== undefined) {
      problems.push([
        ["sites", index(stack.site), "state"],
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
