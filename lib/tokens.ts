/** Reading resources as they will be written: tokens resolved, escape-hatch overrides applied. */
import { DefaultTokenResolver, StringConcat, TerraformResource, Tokenization } from "cdktf";
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
  return resolveIn(resource, Object.fromEntries(only.map((a) => [a, block[a]]))) as Record<string, unknown>;
}

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
