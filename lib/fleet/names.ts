/** How fleet names become Terraform and construct identifiers; here so that every layer can use them. */
import { isPrototypeName } from "../construct-ids";

/**
 * `esx-01.example.com` → `esx_01_example_com`: host names as Terraform identifiers (provider alias, variable and
 * output names). Here so that the loader can refuse two hosts of one stack that would get the same name.
 */
export function terraformName(name: string): string {
  const id = name.replace(/[^A-Za-z0-9]/g, "_");
  // Terraform names start with a letter or underscore: a host named by its IP address gets a prefix.
  return /^[A-Za-z_]/.test(id) ? id : `host_${id}`;
}

/**
 * A construct id for a host or VM name. cdktf makes Terraform resource names from construct ids, and Terraform
 * refuses names that start with a digit, so `01-desk` becomes `vm-01-desk`; other names are kept as they are
 * (changing an id renames the resources, which would replace them).
 */
export function constructId(kind: "host" | "vm", name: string): string {
  // Likewise names every JavaScript object has (toString, constructor): constructs cannot add children of those ids.
  return /^[0-9]/.test(name) || isPrototypeName(name) ? `${kind}-${name}` : name;
}
