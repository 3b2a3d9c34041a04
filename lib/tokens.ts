/** Reading resources as they will be written: tokens resolved, escape-hatch overrides applied. */
import { DefaultTokenResolver, StringConcat, TerraformResource, Tokenization } from "cdktf";
import { IConstruct } from "constructs";

export function resolveIn(scope: IConstruct, value: unknown): unknown {
  return Tokenization.resolve(value, { scope, resolver: new DefaultTokenResolver(new StringConcat()) });
}

/**
 * A resource's attributes as cdk.tf.json will hold them.
 * @param only resolve just these attributes (resolving whole resources is the slow part of validating a big fleet)
 */
export function resolvedAttributes(resource: TerraformResource, only?: readonly string[]): Record<string, unknown> {
  const block = (resource.toTerraform() as { resource: Record<string, Record<string, Record<string, unknown>>> })
    .resource[resource.terraformResourceType][resource.friendlyUniqueId];
  const picked = only ? Object.fromEntries(only.map((a) => [a, block[a]])) : block;
  return resolveIn(resource, picked) as Record<string, unknown>;
}
