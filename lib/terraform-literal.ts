/**
 * Text the user wrote reaches Terraform as that text. In cdk.tf.json every resource, data source, provider and
 * output argument is a template: `${...}` interpolates (a host name `${file("/etc/passwd")}` would print the file at
 * plan) and `%{...}` is a directive (ordinary PowerShell such as `%{ $_.Name }` fails at plan). Doubling the
 * introducer (`$${`, `%%{`) makes Terraform read it literally.
 *
 * Not for variable defaults or backend settings: Terraform reads those literally and would keep the doubled form
 * (checked with Terraform 1.11: a default of `$${x}` stays `$${x}`).
 */
import { Token } from "cdktf";

/** cdktf's encoded tokens (string, list and map forms): references it resolves at synth, kept as they are. */
const TOKEN = /([$#&]\{TfToken\[[^\]]+\]\})/;

/** `${` → `$${` and `%{` → `%%{`, so Terraform reads the text literally. */
export function escapeTemplate(text: string): string {
  return text.replace(/([$%])\{/g, "$1$1{");
}

/** The inverse of {@link escapeTemplate}: what Terraform makes of an escaped literal (for renderings of cdk.tf.json). */
export function unescapeTemplate(text: string): string {
  return text.replace(/([$%])\1\{/g, "$1{");
}

/**
 * A resource's config with every literal string escaped for Terraform, recursively through arrays and plain
 * objects (keys too). Tokens, numbers, booleans and construct references are left as they are.
 */
export function terraformLiteral<T>(value: T): T {
  return mapStrings(value, (text) =>
    // Most strings hold no brace at all, and asking cdktf about tokens is the slow part at 1000 VMs.
    !text.includes("{")
      ? text
      : Token.isUnresolved(text)
        ? // A string with references in it: escape the text around them only.
          text
            .split(TOKEN)
            .map((part, i) => (i % 2 === 1 ? part : escapeTemplate(part)))
            .join("")
        : escapeTemplate(text),
  ) as T;
}

/**
 * What Terraform makes of synthesized JSON written with {@link terraformLiteral}: every string unescaped, for
 * renderings a reviewer reads (a domain's XML shows the text libvirt gets).
 */
export function terraformValue<T>(value: T): T {
  return mapStrings(value, unescapeTemplate) as T;
}

function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === "string") return map(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, map));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [map(k), mapStrings(v, map)]));
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
