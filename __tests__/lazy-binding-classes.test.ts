/**
 * The provider bindings' nested-block classes are defined on first use (scripts/lazy-binding-classes.js, run by
 * scripts/provider-bindings.js after tsc): what a user of the bindings sees must not change.
 */
import { ComplexList, ComplexObject, Testing } from "cdktf";
import { runInNewContext } from "vm";
import { Domain } from "../.gen/providers/libvirt/domain";
import { newKvmStack } from "./libvirt-helpers";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { lazyClasses } = require("../scripts/lazy-binding-classes") as {
  lazyClasses: (text: string, file: string) => string;
};

/** A module as tsc writes the generated bindings: two nested-block classes, one referring to the other. */
const MODULE = `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ThingList = exports.ThingOutputReference = void 0;
exports.thingToTerraform = thingToTerraform;
const cdktf = require("cdktf");
function thingToTerraform(struct) {
    return { name: struct.name };
}
class ThingOutputReference extends cdktf.ComplexObject {
    /** A ThingList inside a Thing: "ThingList" in this comment is not code. */
    get inner() {
        return new ThingList(this, "inner", false);
    }
}
exports.ThingOutputReference = ThingOutputReference;
class ThingList extends cdktf.ComplexList {
    get(index) {
        return new ThingOutputReference(this.terraformResource, this.terraformAttribute, index, this.wrapsSet);
    }
}
exports.ThingList = ThingList;
class Thing extends cdktf.TerraformResource {
}
exports.Thing = Thing;
`;

function load(text: string) {
  const defined: string[] = [];
  class ComplexObjectBase {
    constructor(
      public readonly terraformResource: unknown,
      public readonly terraformAttribute: string,
    ) {}
  }
  const cdktf = {
    ComplexObject: ComplexObjectBase,
    ComplexList: class extends ComplexObjectBase {},
    TerraformResource: class {},
  };
  const exports: Record<string, unknown> = {};
  const sandbox = { exports, require: () => cdktf, defined };
  runInNewContext(text, sandbox);
  return { exports: exports as Record<string, new (...args: unknown[]) => object>, cdktf };
}

describe("lazy nested-block classes", () => {
  const lazy = lazyClasses(MODULE, "structs.js");

  test("the same classes, names, exports and instances as tsc's module", () => {
    const { exports, cdktf } = load(lazy);
    expect(Object.keys(exports).sort()).toEqual(Object.keys(load(MODULE).exports).sort());
    expect(exports.ThingOutputReference).toBe(exports.ThingOutputReference);
    expect(exports.ThingOutputReference.name).toBe("ThingOutputReference");
    const ref = new exports.ThingOutputReference("res", "thing") as { inner: { get(i: number): object } };
    expect(ref).toBeInstanceOf(cdktf.ComplexObject);
    expect(ref.inner).toBeInstanceOf(exports.ThingList);
    expect(ref.inner.get(0)).toBeInstanceOf(exports.ThingOutputReference);
    // Resources, providers and data sources stay as they are (a handful, with static members).
    expect(Object.getOwnPropertyDescriptor(exports, "Thing")).toHaveProperty("value");
  });

  test("a class is defined when first used, not when the module loads", () => {
    const { exports } = load(lazy);
    expect(typeof Object.getOwnPropertyDescriptor(exports, "ThingList")?.get).toBe("function");
    // The negative control: tsc's module holds the classes themselves.
    expect(Object.getOwnPropertyDescriptor(load(MODULE).exports, "ThingList")).toHaveProperty("value");
  });

  test("a module of another shape stops the build, naming the file and the class", () => {
    const odd = MODULE.replace("exports.ThingList = ThingList;", "module.exports.ThingList = ThingList;");
    expect(() => lazyClasses(odd, "dist/.gen/providers/x/structs.js")).toThrow(
      'dist/.gen/providers/x/structs.js: class ThingList does not end with "}" and "exports.ThingList = ThingList;" as tsc writes it',
    );
  });

  test("the built libvirt bindings have them: the domain's blocks are the exported classes, through the getters", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const structs = require("../dist/.gen/providers/libvirt/domain/index-structs/structs2000") as object;
    expect(Object.getOwnPropertyDescriptor(structs, "DomainDevicesOutputReference")?.get).toBeInstanceOf(Function);
    const domain = new Domain(newKvmStack(Testing.app(), "lazy"), "d", { name: "d", type: "kvm" });
    const devices = (structs as Record<string, new (...a: never[]) => object>).DomainDevicesOutputReference;
    expect(domain.devices).toBeInstanceOf(devices);
    expect(domain.devices).toBeInstanceOf(ComplexObject);
    expect(domain.devices.disks).toBeInstanceOf(ComplexList);
  });
});
