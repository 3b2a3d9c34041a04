/** The promise: from the example's synth output, `report` names every VM, GPU and host step. */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { PassthroughManifest } from "../lib/report/manifest";
import { cli } from "./fixtures/run-cli";

const root = join(__dirname, "..");
const out = mkdtempSync(join(tmpdir(), "gpt-report-example-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("the example fleet's report names every VM, GPU and host step", async () => {
  const synth = spawnSync(process.execPath, [join(root, "dist", "main.js")], {
    cwd: root,
    env: { ...process.env, CDKTF_OUTDIR: out, FLEET_FILE: join(root, "fleet.yaml") },
    encoding: "utf8",
  });
  expect(synth.status).toBe(0);
  const { code, out: markdown } = await cli("report", "--outdir", out);
  expect(code).toBe(0);
  const manifests = readdirSync(join(out, "stacks")).map(
    (stack) => JSON.parse(readFileSync(join(out, "stacks", stack, "passthrough.json"), "utf8")) as PassthroughManifest,
  );
  expect(manifests.flatMap((m) => m.vms)).toHaveLength(11);
  for (const m of manifests) {
    for (const vm of m.vms) {
      expect(markdown).toContain(`\`${vm.name}\``);
      for (const step of vm.steps ?? []) expect(markdown).toContain(step.command ?? step.description.slice(0, 40));
    }
    for (const host of m.hosts) {
      expect(markdown).toContain(`\`${host.name}\``);
      for (const gpu of host.gpus) expect(markdown).toContain(`\`${gpu.gpu}\``);
      for (const step of host.steps) expect(markdown).toContain(step.command ?? step.description.slice(0, 40));
    }
  }
  expect(markdown).not.toContain(out);
});
