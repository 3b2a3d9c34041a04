/**
 * Terraform's built-in `terraform_data` resource, written as cdktf's `DataResource` writes it. cdktf's class adds a
 * validation that runs `terraform version` in a child process for every instance: with one per VM that was about
 * 80 ms a VM (a 1000-VM synth took 100 s instead of 2), and synth failed wherever no terraform binary is installed,
 * although synth needs none. Terraform checks its own version (>= 1.4) at init.
 */
import { TerraformMetaArguments, TerraformResource, anyToTerraform, hashMapper } from "cdktf";
import { Construct } from "constructs";

export interface TerraformDataConfig extends TerraformMetaArguments {
  /** Stored in state and shown as `output` after apply. @default - none */
  readonly input?: Record<string, unknown>;
  /** Replaces the resource when it changes. @default - none */
  readonly triggersReplace?: Record<string, unknown>;
}

export class TerraformData extends TerraformResource {
  private readonly input?: Record<string, unknown>;
  private readonly triggersReplace?: Record<string, unknown>;

  constructor(scope: Construct, id: string, config: TerraformDataConfig = {}) {
    super(scope, id, {
      terraformResourceType: "terraform_data",
      terraformGeneratorMetadata: { providerName: "terraform" },
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach,
    });
    this.input = config.input;
    this.triggersReplace = config.triggersReplace;
  }

  /** The resource's id, for references. */
  public get id(): string {
    return this.getStringAttribute("id");
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return {
      input: hashMapper(anyToTerraform)(this.input),
      triggers_replace: hashMapper(anyToTerraform)(this.triggersReplace),
    };
  }
}
