import { catalogModel, catalogModelIds } from "./catalog";
import { BoardConfig, CustomGpuModel, GpuModel, configureModel, customModel, customModelProblems } from "./model";

/**
 * A model named by catalog id, or declared by its BAR sizes, as the board is configured on its host.
 * @returns the model, or the problems with the declaration (an unknown id lists the known ones).
 */
export function resolveGpuModel(model: string | CustomGpuModel, config: BoardConfig = {}): GpuModel | string[] {
  if (typeof model !== "string") {
    const problems = customModelProblems(model);
    return problems.length ? problems : configureModel(customModel(model), config);
  }
  const found = catalogModel(model);
  if (found) return configureModel(found, config);
  return [
    `unknown GPU model "${model}". Known models: ${catalogModelIds().join(", ")}. ` +
      `For another GPU declare it by its BAR sizes: model: { name: "...", barsMib: [16, 32768, 32] }`,
  ];
}
