/**
 * Children the library adds once per scope (a stack's manifest, a datacenter's lookups) share the construct tree
 * with the user's hosts and VMs, whose ids are their names. These helpers make a name clash a clear error or a
 * distinct id, never a construct of one kind read as another.
 */
import { IConstruct } from "constructs";
import { PassthroughValidationError } from "./problems";

/**
 * The child `id` of `scope` when it is a `type`, else the one `create` makes.
 * @throws PassthroughValidationError when a construct of another kind holds the id
 */
export function singleton<T extends IConstruct>(
  scope: IConstruct,
  id: string,
  type: { readonly prototype: T; readonly name: string },
  create: () => T,
): T {
  const existing = scope.node.tryFindChild(id);
  if (existing === undefined) return create();
  if (Object.prototype.isPrototypeOf.call(type.prototype, existing)) return existing as T;
  throw new PassthroughValidationError([
    `"${id}" names ${existing.node.path}, but the library needs that id in ${scope.node.path || "the app"} for its own ${type.name}: rename the construct (host or VM) called "${id}"`,
  ]);
}

/**
 * The child of `scope` with this id. `node.tryFindChild` reads a plain object, so it answers "toString" or
 * "constructor" with Object.prototype's functions, and constructs refuses to add children of those ids.
 */
export function childWithId(scope: IConstruct, id: string): IConstruct | undefined {
  return isPrototypeName(id) ? scope.node.children.find((c) => c.node.id === id) : scope.node.tryFindChild(id);
}

/** Whether `id` is a property of every JavaScript object (`toString`, `constructor`, `__proto__`, ...). */
export function isPrototypeName(id: string): boolean {
  return id in Object.prototype;
}

/** `base`, or `base-2`, `base-3`, ... whichever `scope` has no child of yet. */
export function freeId(scope: IConstruct, base: string): string {
  let id = base;
  for (let n = 2; scope.node.tryFindChild(id); n++) id = `${base}-${n}`;
  return id;
}
