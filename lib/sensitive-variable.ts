/** Where credentials enter a stack: sensitive Terraform variables, never values in the output. */
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";

/**
 * A sensitive string variable: set by TF_VAR_<name>, or its default. With no default it is null, so a provider
 * falls back to its own environment variable (VSPHERE_PASSWORD); either way no secret is in the output. Terraform
 * reads a variable's default literally, so it is written as given (not escaped).
 */
export function sensitiveVariable(
  scope: Construct,
  name: string,
  description: string,
  defaultValue: string | null = null,
): TerraformVariable {
  const variable = new TerraformVariable(scope, name, { type: "string", sensitive: true, nullable: true, description });
  variable.addOverride("default", defaultValue);
  return variable;
}
