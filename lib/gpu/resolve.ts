import { catalogModel, catalogModelIds } from "./catalog";
import { CustomGpuModel, GpuModel, customModel, customModelProblems } from "./model";

/**
 * A model named by catalog id, or declared by its BAR sizes.
 * @returns the model, or the problems with the declaration (an unknown id lists the known ones).
 */
export function resolveGpuModel(model: string | CustomGpuModel): GpuModel | string[] {
  if (typeof model !== "string") {
    const problems = customModelProblems(model);
    return problems.length ? problems : customModel(model);
  }
  const found = catalogModel(model);
  if (found) return found;
  return [
    `unknown GPU model "${model}". Known models: ${catalogModelIds().join(", ")}. ` +
      `For another GPU declare it by its BAR sizes: model: { name: "...", barsMib: [16, 32768, 32] }`,
  ];
}
