/**
 * The catalog against a copy of the PCI ID Repository (pci.ids, as Debian's `pci.ids` package installs it at
 * /usr/share/misc/pci.ids): every device id a model ships under must carry the name the catalog says, and every extra
 * function's id must exist. An older file lacks the newest boards, and names some devices differently (the names are
 * refined over the years: 10de:2321 was "GH100" before "GH100 [H100L 94GB]"), so against a file older than the
 * snapshot the catalog was checked against an id may be missing and its name need only be the same device: the same
 * chip, and a model number in common.
 */
import { GpuModel } from "./model";

/** vendor id → device id → device name, from a pci.ids file's device lines (subsystems and classes skipped). */
export function parsePciIds(text: string): Map<string, Map<string, string>> {
  const vendors = new Map<string, Map<string, string>>();
  let devices: Map<string, string> | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("C ")) break; // the device classes follow the vendors
    const vendor = /^([0-9a-f]{4}) {2}/.exec(line);
    if (vendor) {
      devices = new Map();
      vendors.set(vendor[1], devices);
      continue;
    }
    const device = /^\t([0-9a-f]{4}) {2}(.*)$/.exec(line);
    if (device && devices) devices.set(device[1], device[2].trim());
  }
  return vendors;
}

/** The file's `Date:` header (YYYY-MM-DD), or undefined. */
export function pciIdsDate(text: string): string | undefined {
  return /^#\s*Date:\s*(\d{4}-\d{2}-\d{2})/m.exec(text)?.[1];
}

/**
 * Where the catalog and this pci.ids disagree, one line each.
 * @param snapshot the date (YYYY-MM-DD) of the pci.ids the catalog was checked against: a file at least as new must
 *   list every id; an older one may lack the boards added since.
 */
export function pciIdsProblems(models: readonly GpuModel[], text: string, snapshot: string): string[] {
  const ids = parsePciIds(text);
  const date = pciIdsDate(text);
  const mustList = date !== undefined && date >= snapshot;
  const problems: string[] = [];
  for (const m of models) {
    if (!m.vendorId) continue;
    const devices = ids.get(m.vendorId);
    const named = [...(m.deviceId ? [{ deviceId: m.deviceId, pciName: m.pciName }] : []), ...(m.otherDeviceIds ?? [])];
    for (const { deviceId, pciName } of named) {
      const found = devices?.get(deviceId);
      if (found === undefined) {
        if (mustList) problems.push(`${m.id}: ${m.vendorId}:${deviceId} is not in pci.ids of ${date}`);
      } else if (mustList ? found !== pciName : !sameDevice(found, pciName ?? "")) {
        problems.push(`${m.id}: ${m.vendorId}:${deviceId} is "${found}" in pci.ids, the catalog says "${pciName}"`);
      }
    }
    for (const f of m.functions) {
      if (f.deviceId && mustList && !devices?.has(f.deviceId)) {
        problems.push(`${m.id}: function .${f.fn} ${m.vendorId}:${f.deviceId} is not in pci.ids of ${date}`);
      }
    }
  }
  return problems;
}

/** `GA102 [GeForce RTX 3090]` → chip `GA102`, model numbers `3090`: what an older name and a newer one share. */
function sameDevice(older: string, newer: string): boolean {
  const chip = (name: string) => name.split(" [")[0].trim();
  const numbers = (name: string) => new Set(/\[(.*)\]/.exec(name)?.[1].match(/[A-Za-z]*\d+[A-Za-z]*/g) ?? []);
  if (chip(older) !== chip(newer)) return false;
  const [a, b] = [numbers(older), numbers(newer)];
  return a.size === 0 || b.size === 0 || [...a].some((n) => b.has(n));
}
