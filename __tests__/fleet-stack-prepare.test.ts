/**
 * FleetStack skips cdktf's preparing resolve (it only finds cross-stack references, which fleet stacks never have):
 * the example fleet's whole output must be the same bytes as with cdktf's own prepareStack.
 */
import { TerraformStack } from "cdktf";
import { synthesizeFleet } from "../stacks/fleet-app";
import { FleetStack } from "../stacks/fleet-stack";
import { filesUnder, tempDir } from "./temp";

test("the example fleet's output is byte-identical without cdktf's preparing resolve", () => {
  const skipped = tempDir("fleet-skip-");
  expect(synthesizeFleet("fleet.yaml", { outdir: skipped })).toEqual([]);
  const own = FleetStack.prototype.prepareStack;
  const full = tempDir("fleet-full-");
  let prepared = 0;
  FleetStack.prototype.prepareStack = function (this: TerraformStack) {
    prepared++;
    TerraformStack.prototype.prepareStack.call(this);
  };
  try {
    expect(synthesizeFleet("fleet.yaml", { outdir: full })).toEqual([]);
  } finally {
    FleetStack.prototype.prepareStack = own;
  }
  expect(prepared).toBe(5); // the control ran cdktf's pass on every stack
  const a = filesUnder(skipped);
  const b = filesUnder(full);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, bytes] of a)
    expect({ name, same: bytes.equals(b.get(name) ?? Buffer.alloc(0)) }).toEqual({ name, same: true });
});
