/**
 * The synthesized output does not depend on the machine that made it. With allowUnverifiedSsl the vSphere stack warns
 * through a cdktf annotation, and cdktf by default records the stack trace of that call (absolute paths of the project
 * and its node_modules) in manifest.json.
 */
import { readFileSync, readdirSync, statSync } from "fs";
import { join, relative } from "path";
import { parseFleet } from "../lib/fleet/load";
import { PassthroughApp } from "../lib/validation/app";
import { buildFleetStacks } from "../stacks/fleet-app";
import { tempDir } from "./temp";

const projectDir = join(__dirname, "..");

const FLEET = `sites:
  - name: lab
    vsphere: { server: vcenter.lab.example.com, datacenter: DC, allowUnverifiedSsl: true }
hosts:
  - name: esx-01
    site: lab
    datastore: ds-01
    network: VM Network
    gpus: [{ address: "0000:3b:00.0", model: nvidia-a100-80gb }]
vms:
  - name: train-01
    host: esx-01
    gpus: ["0000:3b:00.0"]
    cpus: 8
    memoryGib: 64
    vsphere: { template: ubuntu-efi }
`;

/** Synthesizes the fleet into a new temp directory; returns every file under the outdir by relative path. */
function synthFleet(): { outdir: string; files: Map<string, string> } {
  const outdir = join(tempDir("gpt-paths-"), "cdktf.out");
  const app = new PassthroughApp({ outdir });
  buildFleetStacks(app, parseFleet(FLEET));
  app.synth();
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(outdir, path), readFileSync(path, "utf8"));
    }
  };
  walk(outdir);
  return { outdir, files };
}

describe("synthesized output with allowUnverifiedSsl", () => {
  const a = synthFleet();
  const b = synthFleet();

  test("the warning still reaches the manifest, which `cdktf synth` prints from", () => {
    const manifest = JSON.parse(a.files.get("manifest.json") ?? "{}");
    expect(manifest.stacks.lab.annotations).toEqual([
      expect.objectContaining({
        level: "@cdktf/warn",
        message: expect.stringContaining('site "lab": allowUnverifiedSsl is on'),
      }),
    ]);
  });

  test("no file holds a path of this machine, and two synths in different directories are byte-identical", () => {
    expect([...a.files.keys()]).toContain("manifest.json");
    expect([...b.files.keys()]).toEqual([...a.files.keys()]);
    for (const [name, text] of a.files) {
      for (const path of [projectDir, "/node_modules/", a.outdir]) {
        expect({ name, path, contains: text.includes(path) }).toEqual({ name, path, contains: false });
      }
      expect({ name, same: b.files.get(name) === text }).toEqual({ name, same: true });
    }
  });
});
