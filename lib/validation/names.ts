/**
 * What a name or a piece of text may hold. Host, VM and site names become directory and file names
 * (`hosts/<host>/prepare-host.sh`, `domains/<vm>.xml`, `stacks/<site>`), construct ids and Terraform identifiers;
 * every other string reaches a root shell script, a Terraform template or a hypervisor inventory. The fleet
 * schema and the constructs both check with these, so a fleet file and a TypeScript app get the same answer.
 */
import { isUnsafeCodePoint } from "../text";
import { urlHasSecret } from "./url-credentials";

/**
 * Whether `text` is a cdktf token (a value known at apply), which the rules leave alone. Every token string holds
 * cdktf's marker `TfToken[`; cdktf is asked only then (or for a non-string from JavaScript), so that reading a fleet file (the CLI) does not load it.
 */
function isToken(text: string): boolean {
  if (typeof text === "string" && !text.includes("TfToken[")) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("cdktf") as typeof import("cdktf")).Token.isUnresolved(text);
}

/** Bounds from the systems that take the values, so no input can make synth slow or fail half-way. */
export const NAME_LIMITS = {
  /** A DNS name (RFC 1035). */
  hostName: 253,
  /** vCenter's limit on inventory names; libvirt takes as long. */
  vmName: 80,
  /** A stack name, and a prefix of per-host stack names. */
  siteName: 63,
  /** Inventory names (datastores, networks, templates, folders), computer names, commands. */
  text: 255,
  /** A command line (Windows' limit), an SSH public key. */
  command: 8191,
  /** A Linux path (PATH_MAX). */
  path: 4096,
  /** Notes and cloud-init user data. */
  document: 65536,
} as const;

/**
 * The first character that makes `text` unsafe as one line: control characters (a newline would start a new
 * command in a generated script), and the bidirectional overrides that make a reviewer read text other than
 * what runs.
 */
export function unsafeCharacter(text: string, allowNewlines = false): string | undefined {
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (allowNewlines && (ch === "\n" || ch === "\t")) continue;
    if (isUnsafeCodePoint(code)) {
      return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    }
  }
  return undefined;
}

/** Why `text` is not one line of printable text of at most `max` characters, or undefined when it is. */
export function textProblem(text: string, max: number = NAME_LIMITS.text): string | undefined {
  if (isToken(text)) return undefined;
  const bad = unsafeCharacter(text);
  if (bad) return `must be one line of printable text; it holds the control character ${bad}`;
  if (text.length > max) return `is ${text.length} characters long; the limit is ${max}`;
  return passwordProblem(text);
}

/**
 * A URL with a password or token anywhere in a value would be committed with the fleet file and copied into cdk.tf.json and
 * logs; no setting needs one (each service reads its credentials from the environment).
 */
export function passwordProblem(text: string): string | undefined {
  // The scan below restarts at every letter of a long run (a key's base64): quadratic, so texts without a URL skip it.
  if (!text.includes("://")) return undefined;
  const urls = text.match(/[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+/g) ?? [];
  return urls.some(urlHasSecret)
    ? "holds a URL with a password or token (user:password@, ?private_token=...): the fleet file is committed, so keep the secret out of it and give it to the tool that needs it through its environment (README, Credentials)"
    : undefined;
}

/** Why `text` is not a multi-line document (tabs and newlines allowed) of at most `max` characters. */
export function documentProblem(text: string, max: number = NAME_LIMITS.document): string | undefined {
  if (isToken(text)) return undefined;
  const bad = unsafeCharacter(text, true);
  if (bad) return `holds the control character ${bad}; only tabs and newlines are allowed`;
  if (text.length > max) return `is ${text.length} characters long; the limit is ${max}`;
  return passwordProblem(text);
}

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?$/;

/**
 * Why `name` cannot name a host: a DNS name or an IPv4/IPv6 address, as vCenter or the KVM host's owner knows it.
 * It becomes a directory of the output and part of Terraform names.
 */
export function hostNameProblem(name: string): string | undefined {
  if (isToken(name)) return undefined;
  if (name.length > NAME_LIMITS.hostName)
    return `is ${name.length} characters long; a host name has at most ${NAME_LIMITS.hostName}`;
  if (!HOST_NAME.test(name))
    return "must be the host's DNS name or IP address: letters, digits, dots, dashes and colons, starting and ending with a letter or digit (it names files and Terraform identifiers)";
  return undefined;
}

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `name` cannot name a VM: it becomes the VM's inventory name, its disk and XML file names and construct ids. */
export function vmNameProblem(name: string): string | undefined {
  if (isToken(name)) return undefined;
  if (name.length > NAME_LIMITS.vmName)
    return `is ${name.length} characters long; a VM name has at most ${NAME_LIMITS.vmName} (vCenter's limit)`;
  if (!VM_NAME.test(name))
    return "must be letters, digits, dots, dashes and underscores, starting with a letter or digit (it names the VM's disks and files)";
  return undefined;
}

/** Why `path` is not an absolute path on a Linux host. */
export function absolutePathProblem(path: string): string | undefined {
  if (isToken(path)) return undefined;
  if (!path.startsWith("/")) return "must be an absolute path on the host (it starts with /)";
  return textProblem(path, NAME_LIMITS.path);
}
