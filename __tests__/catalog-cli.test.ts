/**
 * `gpu-passthrough catalog`: every model with its PCI ids, functions, BARs, MMIO need and the rule that sets it, the
 * other board mode, quirks and sources; and the command loads neither cdktf, zod nor yaml.
 */
import { existsSync, readFileSync } from "fs";
import { dirname, join, resolve } from "path";
import * as ts from "typescript";
import { GPU_CATALOG, NVIDIA_MMIO_TABLE } from "../lib/gpu/catalog";
import { cli } from "./fixtures/run-cli";

describe("catalog", () => {
  test("the table has a row per model with ids, functions, BARs, MMIO, the other mode and quirks", async () => {
    const { code, out, err } = await cli("catalog");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const rows = out.split("\n").filter((l) => /^(nvidia|amd|intel)-/.test(l));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(GPU_CATALOG.map((m) => m.id));
    expect(out).toMatch(
      /^nvidia-rtx-a6000 +10de:2230 +\.1 audio 1aef +16M\+64G\+32M +64\.05 GiB +128 GB +display-enabled: 16M\+256M\+32M none +-$/m,
    );
    expect(out).toMatch(/^nvidia-v100-16gb +10de:1db4 +- +16M\+16G\+32M +16\.05 GiB +64 GB \(vendor\) +- +-$/m);
    expect(out).toMatch(
      /^nvidia-rtx-2080-ti +10de:1e07 10de:1e04 +\.1 audio 10f7, \.2 usb 1ad6, \.3 serial-bus 1ad7 /m,
    );
    expect(out).toMatch(/^nvidia-rtx-4090 .* none +resizable-bar: 16M\+32G\+32M 64 GB +hide-hypervisor$/m);
    expect(out).toMatch(/^amd-rx-580 .* +reset-bug$/m);
    expect(out).toMatch(/^nvidia-t4 .* 304 MiB +none /m);
  });

  test("every model's sources are listed, and what no source confirms is marked unverified", async () => {
    const { out } = await cli("catalog");
    for (const m of GPU_CATALOG) expect(out).toContain(`  ${m.id}: ${m.sources.join("; ")}\n`);
    expect(out).toContain(`  nvidia-v100-16gb: nvidia-smi capture of a Tesla V100-PCIE-16GB`);
    expect(out).toMatch(/^ {4}unverified: BAR1 32 GiB \(24 GB HBM2 behind the next power of two\)/m);
    expect(out.match(/^ {4}unverified: /gm)?.length).toBe(GPU_CATALOG.filter((m) => m.unverified).length);
  });

  test("named models only, as JSON with the MMIO rule, the other mode and the PCI ID Repository pages", async () => {
    const { code, out } = await cli("catalog", "nvidia-rtx-a6000", "nvidia-v100-16gb", "--json");
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json.map((m: { id: string }) => m.id)).toEqual(["nvidia-rtx-a6000", "nvidia-v100-16gb"]);
    expect(json[0]).toMatchObject({
      id: "nvidia-rtx-a6000",
      name: "NVIDIA RTX A6000",
      segment: "workstation",
      pciIds: [
        {
          vendorId: "10de",
          deviceId: "2230",
          pciName: "GA102GL [RTX A6000]",
          url: "https://pci-ids.ucw.cz/read/PC/10de/2230",
        },
      ],
      functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
      barsMib: [16, 65536, 32],
      mappedMib: 65584,
      mmio: { sizeGb: 128, rule: "bar-sum" },
      vendorMmio: { sizeGb: 128, source: NVIDIA_MMIO_TABLE },
      defaultDisplayMode: "displayless",
      otherModes: [
        { mode: "display-enabled", barsMib: [16, 256, 32], mappedMib: 304, mmio: { sizeGb: 0, rule: "none" } },
      ],
      quirks: {},
    });
    expect(json[1].mmio).toMatchObject({ sizeGb: 64, rule: "vendor-table" });
    expect(json[1].mmio.why).toMatch(/^the vendor's figure governs/);
  });

  test("unknown models exit 2 with one line that lists the known ones", async () => {
    const { code, out, err } = await cli("catalog", "nvidia-a31", "nvidia-b9000");
    expect({ code, out }).toEqual({ code: 2, out: "" });
    expect(err).toMatch(/^gpu-passthrough: unknown GPU models "nvidia-a31", "nvidia-b9000"; known models: amd-mi100, /);
    expect(err.trim().split("\n")).toHaveLength(1);
  });

  test("the program's help lists the command", async () => {
    expect((await cli("--help")).out).toMatch(/catalog \[options\] \[ids\.\.\.\] +list the GPU models known/);
  });
});

/**
 * The packages a module loads at run time, following its relative requires through the sources. Each file is
 * compiled as tsc emits it, so imports used only as types (which tsc drops) load nothing, as at run time.
 */
function packagesLoaded(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const js = ts.transpileModule(readFileSync(file, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    for (const [, spec] of js.matchAll(/require\("([^"]+)"\)/g)) {
      if (!spec.startsWith(".")) {
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
        continue;
      }
      const base = resolve(dirname(file), spec);
      const next = [`${base}.ts`, join(base, "index.ts")].find(existsSync);
      if (next) visit(next);
    }
  };
  visit(entry);
  return packages;
}

describe("catalog start-up", () => {
  const lib = join(__dirname, "..", "lib");

  test("the catalog command loads neither cdktf, zod nor yaml", () => {
    const loaded = packagesLoaded(join(lib, "cli", "catalog.ts"));
    for (const heavy of ["cdktf", "zod", "yaml", "constructs"])
      expect(`${heavy} ${loaded.has(heavy)}`).toBe(`${heavy} false`);
  });

  test("negative control: the fleet schema loads zod", () => {
    expect(packagesLoaded(join(lib, "fleet", "schema.ts")).has("zod")).toBe(true);
  });
});
