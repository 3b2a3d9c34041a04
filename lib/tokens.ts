/** Reading resources as they will be written: tokens resolved, escape-hatch overrides applied. */
import { DefaultTokenResolver, StringConcat, TerraformResource, Token, Tokenization } from "cdktf";
import { IConstruct } from "constructs";

export function resolveIn(scope: IConstruct, value: unknown): unknown {
  return Tokenization.resolve(value, { scope, resolver: new DefaultTokenResolver(new StringConcat()) });
}

/**
 * Some of a resource's attributes as cdk.tf.json will hold them. Only these are resolved: resolving whole resources
 * is the slow part of validating a big fleet.
 */
export function resolvedAttributes(resource: TerraformResource, only: readonly string[]): Record<string, unknown> {
  const block = (resource.toTerraform() as { resource: Record<string, Record<string, Record<string, unknown>>> })
    .resource[resource.terraformResourceType][resource.friendlyUniqueId];
  const attributes = Object.fromEntries(only.map((a) => [a, block[a]]));
  return (plainData(attributes) ?? resolveIn(resource, attributes)) as Record<string, unknown>;
}

/**
 * `value` as cdktf would resolve it when it holds no token (a copy without undefined members), else undefined. Most
 * attributes the rules read are literals, and cdktf's resolver costs a third of a millisecond per VM even then.
 */
function plainData(value: unknown): unknown {
  if (typeof value === "string") return value.includes(TOKEN_MARKER) || NUMBER_IN_TEXT.test(value) ? undefined : value;
  if (typeof value === "number") return Token.isUnresolved(value) ? undefined : value;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const v of value) {
      if (v === undefined) continue;
      const plain = plainData(v);
      if (plain === undefined) return undefined;
      items.push(plain);
    }
    return items;
  }
  // A resolvable, a construct, a Date: cdktf decides.
  if (Object.getPrototypeOf(value) !== Object.prototype || Tokenization.isResolvable(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.includes(TOKEN_MARKER)) return undefined;
    if (v === undefined) continue;
    const plain = plainData(v);
    if (plain === undefined) return undefined;
    out[k] = plain;
  }
  return out;
}

/** Every token cdktf encodes in a string (`${TfToken[...]}`, `#{TfToken[...]}`, `&{TfToken[...]}`) holds this. */
const TOKEN_MARKER = "TfToken[";
/** A number token written into a string is a number in exponent form: such strings are left to cdktf. */
const NUMBER_IN_TEXT = /\d[eE][-+]?\d/;

/**
 * Runs `build` with cdktf's creation stack traces left empty. cdktf records a formatted stack trace for every
 * attribute reference a generated resource creates (a libvirt_domain creates about 60), and formatting them grows
 * with the call depth a construct library adds: it was half the synth time of a 1000-domain fleet. cdktf reads
 * these traces only to point at the creation site in a token-resolution error; for these resources that site is
 * the backend's renderer, named in the error anyway. Both settings are restored before returning, also on a throw.
 */
export function withoutCreationStacks<T>(build: () => T): T {
  // GPU_PASSTHROUGH_DEBUG=1 keeps them, for a trace of an error thrown while rendering.
  if (process.env.GPU_PASSTHROUGH_DEBUG) return build();
  const [previous, capture] = [Error.prepareStackTrace, Error.captureStackTrace];
  Error.prepareStackTrace = () => "";
  // cdktf sets an unlimited depth before it captures: collecting the frames, not only formatting them, was a sixth
  // of a large fleet's synth. Captured this way, a trace is empty, which cdktf reads as "no trace".
  Error.captureStackTrace = () => undefined;
  try {
    return build();
  } finally {
    Error.prepareStackTrace = previous;
    Error.captureStackTrace = capture;
  }
}
