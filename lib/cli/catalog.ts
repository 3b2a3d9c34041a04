/**
 * `gpu-passthrough catalog [models...]`: the GPU models the product knows, with their PCI ids, functions, BARs, the MMIO
 * window one GPU needs and which rule sets it, the board modes, quirks and the sources of every figure. Loads the
 * catalog and the MMIO rule only (no cdktf, no zod), so it starts as fast as `mmio`.
 */
import { GPU_CATALOG, PCI_IDS_SNAPSHOT, catalogModel, catalogModelIds, pciIdsUrl } from "../gpu/catalog";
import { GpuModel, configureModel, formatMib, mappedMib, modelDeviceIds } from "../gpu/model";
import { MmioRequirement, requiredMmio } from "../mmio";
import { formatBytes, table } from "../preflight/format";
import { CliError, CliIo, EXIT } from "./io";

export interface CatalogOptions {
  readonly json?: boolean;
}

/** `gpu-passthrough catalog` (defined in ./main.ts): prints the catalog, or the models named, and returns the exit code. */
export function runCatalog(ids: readonly string[], opts: CatalogOptions, io: CliIo): number {
  const unknown = ids.filter((id) => !catalogModel(id));
  if (unknown.length) {
    throw new CliError(
      `unknown GPU model${unknown.length > 1 ? "s" : ""} ${unknown.map((id) => `"${id}"`).join(", ")}; known models: ` +
        catalogModelIds().join(", "),
    );
  }
  const models = ids.length ? ids.map((id) => catalogModel(id) as GpuModel) : GPU_CATALOG;
  io.out(opts.json ? `${JSON.stringify(models.map(entryJson), null, 2)}\n` : formatCatalog(models));
  return EXIT.ok;
}

/** The window one GPU of this model needs, as the VM would get it. */
function mmioOfOne(model: GpuModel): MmioRequirement {
  return requiredMmio([{ gpu: model.id, model }]);
}

/** The model in each of its board configurations: the default first, then the other one, if any. */
function modes(model: GpuModel): { mode: string; model: GpuModel }[] {
  const other = model.displayEnabledBarsMib
    ? { mode: "display-enabled", config: { displayMode: "display-enabled" as const } }
    : model.resizableBarBarsMib
      ? { mode: "resizable-bar", config: { resizableBar: true } }
      : undefined;
  if (!other) return [];
  const configured = configureModel(model, other.config);
  return Array.isArray(configured) ? [] : [{ mode: other.mode, model: configured }];
}

function entryJson(model: GpuModel): object {
  const pciIds = [
    ...(model.vendorId && model.deviceId ? [{ deviceId: model.deviceId, pciName: model.pciName }] : []),
    ...(model.otherDeviceIds ?? []),
  ].map((d) => ({
    vendorId: model.vendorId,
    deviceId: d.deviceId,
    pciName: d.pciName,
    url: pciIdsUrl(model.vendorId ?? "", d.deviceId),
  }));
  const mmio = (m: GpuModel) => {
    const r = mmioOfOne(m);
    return { sizeGb: r.sizeGb, rule: r.rule, why: r.ruleWhy };
  };
  return {
    id: model.id,
    name: model.name,
    vendor: model.vendor,
    segment: model.segment,
    pciIds,
    functions: model.functions,
    barsMib: model.barsMib,
    mappedMib: mappedMib(model),
    mmio: mmio(model),
    ...(model.vendorMmio ? { vendorMmio: model.vendorMmio } : {}),
    ...(model.displayEnabledBarsMib ? { defaultDisplayMode: "displayless" } : {}),
    ...(model.resizableBarBarsMib ? { defaultResizableBar: false } : {}),
    otherModes: modes(model).map(({ mode, model: m }) => ({
      mode,
      barsMib: m.barsMib,
      mappedMib: mappedMib(m),
      mmio: mmio(m),
    })),
    quirks: model.quirks,
    sources: model.sources,
    ...(model.unverified ? { unverified: model.unverified } : {}),
  };
}

function bars(barsMib: readonly number[]): string {
  return barsMib.map((mib) => formatBytes(mib * 2 ** 20)).join("+");
}

function mmioText(model: GpuModel): string {
  const r = mmioOfOne(model);
  if (!r.needs64BitMmio) return "none";
  return `${r.sizeGb} GB${r.rule === "vendor-table" ? " (vendor)" : ""}`;
}

function formatCatalog(models: readonly GpuModel[]): string {
  const rows = models.map((m) => {
    const ids = modelDeviceIds(m).map((d) => `${m.vendorId}:${d}`);
    const functions = m.functions.map((f) => `.${f.fn} ${f.kind}${f.deviceId ? ` ${f.deviceId}` : ""}`);
    const other = modes(m)
      .map(({ mode, model }) => `${mode}: ${bars(model.barsMib)} ${mmioText(model)}`)
      .join("");
    const quirks = [m.quirks.hideHypervisor && "hide-hypervisor", m.quirks.resetBug && "reset-bug"].filter(Boolean);
    return [
      m.id,
      ids.join(" "),
      functions.join(", ") || "-",
      bars(m.barsMib),
      formatMib(mappedMib(m)),
      mmioText(m),
      other || "-",
      quirks.join(", ") || "-",
    ];
  });
  const lines = [
    table(["MODEL", "PCI IDS", "FUNCTIONS", "BARS", "MAPS", "MMIO", "OTHER MODE", "QUIRKS"], rows),
    "",
    "MMIO is the 64-bit window one GPU of the model needs: every BAR rounded up to a power of two, or the vendor's " +
      '("vendor") published figure where that is larger. Boards with display modes are taken displayless and consumer ' +
      "boards with Resizable BAR off unless the host's GPU entry says otherwise (displayMode, resizableBar).",
    `PCI ids and names: the PCI ID Repository (pci.ids snapshot ${PCI_IDS_SNAPSHOT}).`,
    "",
    "Sources:",
    ...models.flatMap((m) => [
      `  ${m.id}: ${m.sources.join("; ")}`,
      ...(m.unverified ? [`    unverified: ${m.unverified}`] : []),
    ]),
  ];
  return `${lines.join("\n")}\n`;
}
