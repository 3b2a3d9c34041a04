/**
 * The rules read resources back as cdk.tf.json will hold them (`resolvedAttributes`); a shortcut skips cdktf's
 * resolver for attributes without tokens. Whatever the attributes hold, the rules must see what cdktf would write.
 */
import fc from "fast-check";
import { App, TerraformResource, TerraformStack, TerraformVariable, Token } from "cdktf";
import { resolveIn, resolvedAttributes } from "../lib/tokens";
import { terraformLiteral } from "../lib/terraform-literal";

/** A resource whose attributes are exactly `attributes`, as a generated binding would synthesize them. */
function resourceWith(attributes: Record<string, unknown>): TerraformResource {
  const stack = new TerraformStack(new App(), "s");
  const resource = new (class extends TerraformResource {
    protected synthesizeAttributes(): Record<string, unknown> {
      return attributes;
    }
  })(stack, "r", { terraformResourceType: "test_thing" });
  return resource;
}

/** What cdktf writes for the attributes: its own resolver, no shortcut. */
function asCdktfWrites(resource: TerraformResource, names: string[]): unknown {
  const block = (resource.toTerraform() as { resource: { test_thing: { r: Record<string, unknown> } } }).resource
    .test_thing.r;
  return resolveIn(resource, Object.fromEntries(names.map((n) => [n, block[n]])));
}

const plainValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.constantFrom("10de:2230", "1e07", "1.5e+3", "${x}", "%{ y }"),
    fc.double({ noNaN: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("resolvedAttributes reads attributes as cdktf writes them", () => {
  test("plain data, undefined members and exponent-looking text alike (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom("a", "b", "c"), plainValue, { minKeys: 1 }), (attributes) => {
        const names = Object.keys(attributes);
        const resource = resourceWith(attributes);
        expect(resolvedAttributes(resource, names)).toEqual(asCdktfWrites(resource, names));
      }),
      { numRuns: 300 },
    );
  });

  test("string, number and list tokens, nested or written into text, resolve to references", () => {
    const stack = new TerraformStack(new App(), "s");
    const cpus = new TerraformVariable(stack, "cpus", { type: "number" });
    const name = new TerraformVariable(stack, "name", { type: "string" });
    const tags = new TerraformVariable(stack, "tags", { type: "list(string)" });
    const attributes = {
      name: name.stringValue,
      cpu: {
        cores: cpus.numberValue,
        note: `${cpus.numberValue} cores`,
        named: `${Token.asString(cpus.numberValue)} cores`,
      },
      tags: tags.listValue,
      // A number token written into text is a number in exponent form, with no marker to find.
      coresNote: `${cpus.numberValue} cores`,
      nested: [{ deep: [name.stringValue] }],
      [name.stringValue]: "key",
    };
    const resource = new (class extends TerraformResource {
      protected synthesizeAttributes(): Record<string, unknown> {
        return attributes;
      }
    })(stack, "r", { terraformResourceType: "test_thing" });
    // One at a time: each alone must take cdktf's path.
    for (const attribute of Object.keys(attributes)) {
      const read = resolvedAttributes(resource, [attribute]);
      expect(read).toEqual(asCdktfWrites(resource, [attribute]));
      expect(JSON.stringify(read)).not.toContain("TfToken");
      expect(JSON.stringify(read)).not.toMatch(/e\+28\d/);
    }
    expect(resolvedAttributes(resource, ["name", "cpu", "tags"])).toEqual({
      name: "${var.name}",
      cpu: { cores: "${var.cpus}", note: "${var.cpus} cores", named: "${var.cpus} cores" },
      tags: "${var.tags}",
    });
  });

  test("escaped literals read back as written (terraformLiteral's output)", () => {
    const attributes = terraformLiteral({ note: '${file("/etc/passwd")} %{ if x }', list: ["a${b}"] });
    const resource = resourceWith(attributes);
    expect(resolvedAttributes(resource, ["note", "list"])).toEqual({
      note: '$${file("/etc/passwd")} %%{ if x }',
      list: ["a$${b}"],
    });
  });
});
