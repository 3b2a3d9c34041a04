import { catalogModel, catalogModelIds } from "../gpu/catalog";
import {
  BoardConfig,
  DISPLAY_MODES,
  DisplayMode,
  GpuModel,
  configureModel,
  formatMib,
  mibFromBytes,
} from "../gpu/model";
import { LARGE_BAR_THRESHOLD_MIB, MmioInput, MmioRequirement, requiredMmio } from "../mmio";
import { ovmfApertureArgs } from "../ovmf-aperture";
import { formatBytes, table } from "../preflight/format";
import { FileTooLargeError, readBounded } from "../preflight/read-bounded";
import {
  PagesNeeded,
  VmwareLogDevice,
  VmwareLogError,
  parsePagesNeeded,
  parseVmwareLog,
} from "../preflight/vmware-log";
import { mmioExtraConfig } from "../backends/vsphere/mmio-config";
import { VSPHERE_LIMITS } from "../backends/vsphere/limits";
import { CliError, CliIo, EXIT } from "./io";

/**
 * Passthrough devices a vSphere VM takes. Counts are checked against it before any row is made:
 * `nvidia-a30:99999999` must not build a hundred million rows.
 */
export const MAX_PASSTHROUGH_DEVICES = VSPHERE_LIMITS.maxPciDevices;

/** A vmware.log of one power-on is a few MiB; far more is not one VM's log (or not a log at all: /dev/zero). */
export const MAX_VMWARE_LOG_BYTES = 64 * 2 ** 20;

const COUNT_RULE =
  `is not a whole number from 1 to ${MAX_PASSTHROUGH_DEVICES} (a vSphere VM takes at most ` +
  `${MAX_PASSTHROUGH_DEVICES} passthrough devices): write MODEL or MODEL:COUNT, e.g. nvidia-a30:2`;

export interface MmioOptions {
  readonly vmwareLog?: string;
  readonly json?: boolean;
  /** Display mode of the boards given (boards with display modes only). */
  readonly displayMode?: string;
  /** The boards given have Resizable BAR on (consumer boards only). */
  readonly resizableBar?: boolean;
}

/** `gpu-passthrough mmio [gpus...]` (defined in ./main.ts): prints the window and returns the exit code. */
export function runMmio(gpus: readonly string[], opts: MmioOptions, io: CliIo): number {
  if (gpus.length && opts.vmwareLog) throw new CliError("give GPU models or --vmware-log, not both");
  if (!gpus.length && !opts.vmwareLog) {
    throw new CliError("give GPU models (e.g. nvidia-a30 or nvidia-v100-16gb:2) or --vmware-log FILE");
  }
  if (opts.vmwareLog && (opts.displayMode || opts.resizableBar)) {
    throw new CliError("--display-mode and --resizable-bar describe catalog models; a vmware.log gives the real BARs");
  }
  const { rows, pages } = opts.vmwareLog
    ? fromVmwareLog(opts.vmwareLog)
    : { rows: fromModels(gpus, boardConfig(opts)), pages: undefined };
  const fromBars = requiredMmio(rows.map((r) => r.input));
  // ESXi's own count wins when the BAR lines add up to less (a log cut to some lines, a device without BAR lines).
  const req =
    pages && pages.windowGb > fromBars.sizeGb
      ? {
          ...fromBars,
          needs64BitMmio: true,
          sizeGb: pages.windowGb,
          rule: "esxi-pages" as const,
          ruleWhy: `${pagesWhy(pages)}: more than the BAR lines give (${fromBars.ruleWhy})`,
        }
      : fromBars;
  if (opts.json) {
    const source = opts.vmwareLog ? "vmware.log" : "catalog";
    const extraConfig = mmioExtraConfig(rows.length ? req : fromPages(pages as PagesNeeded));
    io.out(
      `${JSON.stringify({ source, ...(rows.length ? req : fromPages(pages as PagesNeeded)), ...(pages ? { pagesNeeded: pages } : {}), extraConfig }, null, 2)}\n`,
    );
  } else {
    io.out(rows.length ? formatMmio(rows, req, pages) : formatPagesOnly(pages as PagesNeeded));
  }
  return EXIT.ok;
}

function boardConfig(opts: MmioOptions): BoardConfig {
  if (opts.displayMode !== undefined && !DISPLAY_MODES.includes(opts.displayMode as DisplayMode)) {
    throw new CliError(
      `--display-mode "${opts.displayMode}" is not a display mode: write ${DISPLAY_MODES.join(" or ")}`,
    );
  }
  return { displayMode: opts.displayMode as DisplayMode | undefined, resizableBar: opts.resizableBar };
}

/** The requirement a log's "pages needed" line gives when the log has no BAR lines. */
function fromPages(pages: PagesNeeded): MmioRequirement {
  return {
    needs64BitMmio: true,
    totalMib: pages.neededMib,
    sizeGb: pages.windowGb,
    overridden: false,
    rule: "esxi-pages",
    ruleWhy: pagesWhy(pages),
    inputs: [],
  };
}

function pagesWhy(pages: PagesNeeded): string {
  return (
    `ESXi refused power-on (line ${pages.line}): the devices need ${pages.neededPages} pages of 4 KiB ` +
    `(${formatMib(pages.neededMib)}), over the limit of ${pages.limitPages} (${formatMib(Math.ceil(pages.limitPages / 256))}); ` +
    `the window that holds them is ${pages.windowGb} GB (GiB rounded up to a power of two)`
  );
}

/** One input row: what the VM gets, and how to show it. */
interface Row {
  readonly input: MmioInput;
  readonly bars: string;
}

/** `nvidia-v100-16gb:2` → two inputs of that model. */
function fromModels(args: readonly string[], config: BoardConfig): Row[] {
  const wanted = args.map((arg) => {
    const text = arg.trim();
    // Catalog ids have no colon: the last one separates the count, whatever follows it.
    const colon = text.lastIndexOf(":");
    const id = colon < 0 ? text : text.slice(0, colon);
    const countText = colon < 0 ? "1" : text.slice(colon + 1);
    if (!id) throw new CliError(`"${arg}": the MODEL is missing: write MODEL or MODEL:COUNT, e.g. nvidia-a30:2`);
    const count = /^\d{1,3}$/.test(countText) ? Number(countText) : NaN;
    if (!(count >= 1 && count <= MAX_PASSTHROUGH_DEVICES)) {
      throw new CliError(`"${arg}": COUNT "${countText}" ${COUNT_RULE}`);
    }
    const found = catalogModel(id);
    if (!found) {
      throw new CliError(
        `unknown GPU model "${id}"; known models: ${catalogModelIds().join(", ")}. ` +
          "For a GPU the catalog lacks, read its BARs from a vmware.log with --vmware-log",
      );
    }
    const model = configureModel(found, config);
    // The model's messages name the fleet-file fields; here they are options.
    const asOptions = (m: string) =>
      m.replace(/^displayMode/, "--display-mode").replace(/^resizableBar/, "--resizable-bar");
    if (Array.isArray(model)) throw new CliError(`"${arg}": ${model.map(asOptions).join("; ")}`);
    return { model, count };
  });
  const total = wanted.reduce((sum, w) => sum + w.count, 0);
  if (total > MAX_PASSTHROUGH_DEVICES) {
    throw new CliError(
      `${total} GPUs in all (${args.join(", ")}): a vSphere VM takes at most ${MAX_PASSTHROUGH_DEVICES} ` +
        `passthrough devices; give at most ${MAX_PASSTHROUGH_DEVICES}`,
    );
  }
  return wanted.flatMap(({ model, count }) =>
    Array.from({ length: count }, (_, i) => ({
      input: { gpu: count > 1 ? `${model.id} #${i + 1}` : model.id, model },
      bars: barsText(model),
    })),
  );
}

function fromVmwareLog(file: string): { rows: Row[]; pages?: PagesNeeded } {
  let text: string;
  try {
    text = readBounded(file, MAX_VMWARE_LOG_BYTES).toString("utf8");
  } catch (e) {
    if (e instanceof FileTooLargeError) {
      throw new CliError(
        `${file} is larger than ${MAX_VMWARE_LOG_BYTES / 2 ** 20} MiB: give the vmware.log of the VM's last power-on ` +
          "(ESXi starts a new vmware.log at each power-on), or only its PCIPassthru lines (grep PCIPassthru vmware.log)",
      );
    }
    throw new CliError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  let devices: VmwareLogDevice[];
  let pages: PagesNeeded | undefined;
  try {
    devices = parseVmwareLog(text);
    pages = parsePagesNeeded(text);
  } catch (e) {
    if (e instanceof VmwareLogError) throw new CliError(`${file} ${e.message}`);
    throw e;
  }
  if (!devices.length && !pages) {
    throw new CliError(
      `${file} has no "PCIPassthru: Device ... barIndex ... size ..." lines and no "total number of pages needed" ` +
        "line: give the vmware.log of a VM with a passthrough device, from a power-on attempt",
    );
  }
  if (devices.length > MAX_PASSTHROUGH_DEVICES) {
    throw new CliError(
      `${file} has ${devices.length} passthrough devices: a vSphere VM takes at most ${MAX_PASSTHROUGH_DEVICES}; ` +
        "give the vmware.log of one VM's power-on",
    );
  }
  const rows = devices.map((d) => ({
    // Whole MiB per BAR, rounded up like the catalog's figures, so a total is never under what the device maps.
    input: {
      gpu: d.address,
      model: { name: `vmware.log device ${d.address}`, barsMib: d.bars.map((b) => mibFromBytes(b.sizeBytes)) },
    },
    bars: d.bars.map((b) => `BAR${b.index} ${formatBytes(b.sizeBytes)}`).join(", "),
  }));
  return { rows, pages };
}

function barsText(model: GpuModel): string {
  return model.barsMib.map((mib) => formatBytes(mib * 2 ** 20)).join(" + ");
}

function formatMmio(rows: readonly Row[], req: MmioRequirement, pages?: PagesNeeded): string {
  const lines = [
    table(
      ["DEVICE", "MAPS", "BARS"],
      rows.map((r, i) => [r.input.gpu, formatMib(req.inputs[i].mappedMib), r.bars]),
    ),
    "",
    ...configurations(rows),
  ];
  if (pages) lines.push(`${pagesWhy(pages)}.`, "");
  const largest = Math.max(...req.inputs.map((i) => i.mappedMib));
  if (!req.needs64BitMmio) {
    lines.push(
      `Total ${formatMib(req.totalMib)}; no device maps more than ${formatMib(LARGE_BAR_THRESHOLD_MIB)} ` +
        `(largest ${formatMib(largest)}): no 64-bit MMIO settings needed.`,
    );
    return `${lines.join("\n")}\n`;
  }
  const config = mmioExtraConfig(req);
  const width = Math.max(...Object.keys(config).map((k) => k.length));
  lines.push(
    `Total ${formatMib(req.totalMib)}; largest device ${formatMib(largest)} (more than ${formatMib(LARGE_BAR_THRESHOLD_MIB)}: ` +
      "EFI firmware and a 64-bit MMIO window needed).",
    req.rule === "vendor-table"
      ? `64-bit MMIO window: ${req.sizeGb} GB (the vendor's figure, larger than the BAR sum).`
      : req.rule === "esxi-pages"
        ? `64-bit MMIO window: ${req.sizeGb} GB (from the pages ESXi needed, more than the BAR lines give).`
        : `64-bit MMIO window: ${req.sizeGb} GB (the sum rounded up to a power of two).`,
    `Rule: ${req.ruleWhy}.`,
    "",
    "vSphere extra_config (VM Options > Advanced > Configuration Parameters):",
    ...Object.entries(config).map(([k, v]) => `  ${k.padEnd(width)} = "${v}"`),
    "",
    'The host BIOS needs "Above 4G decoding" on. On KVM with OVMF the equivalent is:',
    `  ${ovmfApertureArgs(req).join(" ")}`,
  );
  return `${lines.join("\n")}\n`;
}

/** How each configurable board was taken (display mode, Resizable BAR), once per model. */
function configurations(rows: readonly Row[]): string[] {
  const seen = new Map<string, string>();
  for (const r of rows) {
    const model = r.input.model as GpuModel;
    if (model.configuration && !seen.has(model.name)) seen.set(model.name, model.configuration);
  }
  return seen.size ? [...[...seen].map(([name, how]) => `${name}: ${how}.`), ""] : [];
}

function formatPagesOnly(pages: PagesNeeded): string {
  const req = fromPages(pages);
  const config = mmioExtraConfig(req);
  const width = Math.max(...Object.keys(config).map((k) => k.length));
  return `${[
    `${pagesWhy(pages)}.`,
    `64-bit MMIO window: ${req.sizeGb} GB (from the pages ESXi needed; the log has no BAR lines).`,
    "",
    "vSphere extra_config (VM Options > Advanced > Configuration Parameters):",
    ...Object.entries(config).map(([k, v]) => `  ${k.padEnd(width)} = "${v}"`),
  ].join("\n")}\n`;
}
