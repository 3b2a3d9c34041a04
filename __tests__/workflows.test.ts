/**
 * The GitHub Actions workflows (.github/workflows): what a maintainer relies on. The pull request is tested,
 * synthesized, planned to a file and reported in one comment; main applies exactly the reviewed plan file, or refuses.
 * The shell and JavaScript steps that decide this are run here too, against fake artifacts and a fake `gh`.
 */
import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";
import { parse } from "yaml";

const root = join(__dirname, "..");
const workflowDir = join(root, ".github", "workflows");
const workflowFiles = readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f));
const text = (file: string): string => readFileSync(join(workflowDir, file), "utf8");
const docs = readFileSync(join(root, "docs", "gitops.md"), "utf8");

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  steps?: Step[];
  uses?: string;
  permissions?: string | Record<string, string>;
  environment?: string | { name: string };
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean };
  strategy?: { "fail-fast"?: boolean; matrix?: Record<string, unknown> };
  needs?: string | string[];
  if?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: string | Record<string, string>;
  jobs: Record<string, Job>;
}

const workflows: Record<string, Workflow> = Object.fromEntries(workflowFiles.map((f) => [f, parse(text(f))]));
const pr = workflows["pull-request.yml"];
const deploy = workflows["deploy.yml"];

const stepsOf = (wf: Workflow): Step[] => Object.values(wf.jobs).flatMap((j) => j.steps ?? []);
/** `terraform [global options] <subcommand>` in a command line. */
const terraform = (sub: string) => new RegExp(`\\bterraform\\s+(-\\S+\\s+)*${sub}\\b`);
/** Shell command lines of a workflow: continuation lines joined, comments dropped. */
const commandLines = (wf: Workflow): string[] =>
  stepsOf(wf)
    .flatMap((s) => (s.run ?? "").replace(/\\\n/g, " ").split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
const step = (wf: Workflow, job: string, name: string): Step => {
  const found = (wf.jobs[job].steps ?? []).filter((s) => s.name === name || s.id === name);
  expect(found).toHaveLength(1);
  return found[0];
};

// ---- running a step's shell script as GitHub does (bash --noprofile --norc -eo pipefail) ----

interface Ran {
  status: number | null;
  stdout: string;
  outputs: Record<string, string>;
}

function runStep(script: string, cwd: string, env: Record<string, string>, binDir?: string): Ran {
  const scriptFile = join(cwd, ".step.sh");
  const outputFile = join(cwd, ".github_output");
  writeFileSync(scriptFile, script);
  writeFileSync(outputFile, "");
  const run = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", scriptFile], {
    cwd,
    encoding: "utf8",
    env: {
      PATH: binDir ? `${binDir}:${process.env.PATH}` : process.env.PATH,
      HOME: cwd,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: join(cwd, ".github_summary"),
      RUNNER_TEMP: cwd,
      GITHUB_SHA: MERGED_SHA,
      ...env,
    },
  });
  const outputs: Record<string, string> = {};
  for (const line of readFileSync(outputFile, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) outputs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { status: run.status, stdout: `${run.stdout}${run.stderr}`, outputs };
}

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "workflows-test-"));
  temps.push(dir);
  return dir;
}
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

const HEAD_SHA = "a".repeat(40);
const MERGED_SHA = "b".repeat(40);

describe("all workflows", () => {
  test("pull-request.yml and deploy.yml exist and parse as YAML with jobs", () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(["pull-request.yml", "deploy.yml"]));
    for (const wf of Object.values(workflows)) expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
  });

  test("every action is pinned to a version tag", () => {
    for (const wf of Object.values(workflows)) {
      const uses = [...Object.values(wf.jobs).map((j) => j.uses), ...stepsOf(wf).map((s) => s.uses)].filter(
        (u): u is string => u !== undefined,
      );
      expect(uses.length).toBeGreaterThan(0);
      for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w./-]+@v\d+(\.\d+){0,2}$/);
    }
  });

  test("permissions are declared for every job, never write-all, and write only what each workflow needs", () => {
    const scopes = (p: Workflow["permissions"]): Record<string, string> => {
      expect(typeof p).toBe("object"); // never "write-all" / "read-all"
      return p as Record<string, string>;
    };
    const writes = (wf: Workflow): string[] =>
      [wf.permissions, ...Object.values(wf.jobs).map((j) => j.permissions)]
        .filter((p) => p !== undefined)
        .flatMap((p) => Object.entries(scopes(p)).filter(([, v]) => v === "write"))
        .map(([k]) => k);
    for (const [file, wf] of Object.entries(workflows)) {
      expect(text(file)).not.toMatch(/write-all|read-all/);
      for (const job of Object.values(wf.jobs)) expect(wf.permissions ?? job.permissions).toBeDefined();
    }
    expect(writes(pr)).toEqual(["pull-requests"]); // the report comment
    expect(writes(deploy)).toEqual([]); // id-token: write only when OIDC is chosen, by hand
    expect(scopes(deploy.permissions)).toEqual({ contents: "read", actions: "read", "pull-requests": "read" });
  });

  test("no literal secret: credentials come only from ${{ secrets.X }} (or the run's own token)", () => {
    const secretish = /PASSWORD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|USERNAME|_USER$|KNOWN_HOSTS|GOVC_URL/i;
    const reference = /^\$\{\{ (secrets\.[A-Za-z0-9_]+|github\.token) \}\}$/;
    for (const [file, wf] of Object.entries(workflows)) {
      const maps = [
        ...Object.values(wf.jobs).map((j) => (j as { env?: Record<string, string> }).env),
        (wf as { env?: Record<string, string> }).env,
        ...stepsOf(wf).flatMap((s) => [s.env, s.with]),
      ];
      for (const map of maps)
        for (const [key, value] of Object.entries(map ?? {}))
          if (secretish.test(key))
            expect({ file, key, value }).toEqual({ file, key, value: expect.stringMatching(reference) });
      const raw = text(file);
      expect(raw).not.toMatch(/AKIA[0-9A-Z]{16}/);
      expect(raw).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      expect(raw).not.toMatch(/\bgh[pousr]_[A-Za-z0-9]{20,}/);
      expect(raw).not.toMatch(/(password|passwd|secret)["']?\s*[:=]\s*["']?[^\s"'$]{6,}/i);
    }
  });

  test("no step prints a secret it is given", () => {
    for (const wf of Object.values(workflows))
      for (const s of stepsOf(wf)) {
        const secrets = Object.entries(s.env ?? {})
          .filter(([, v]) => /secrets\./.test(String(v)))
          .map(([k]) => k);
        for (const line of (s.run ?? "").split("\n"))
          for (const name of secrets)
            if (new RegExp(`\\$\\{?${name}\\b`).test(line) && /^\s*(echo|printf)\b/.test(line))
              expect(line).toMatch(/>\s*\S/); // written to a file, not the log
      }
  });

  test("every secret the workflows read is documented in docs/gitops.md", () => {
    const names = new Set(
      workflowFiles.flatMap((f) => [...text(f).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1])),
    );
    names.delete("GITHUB_TOKEN");
    expect(names.size).toBeGreaterThanOrEqual(10);
    for (const name of names) expect({ name, documented: docs.includes(name) }).toEqual({ name, documented: true });
  });

  test("Terraform is pinned, without the wrapper that would pollute terraform show -json", () => {
    const setups = Object.values(workflows)
      .flatMap(stepsOf)
      .filter((s) => s.uses?.startsWith("hashicorp/setup-terraform@"));
    expect(setups.length).toBeGreaterThanOrEqual(2);
    for (const s of setups) expect(s.with).toMatchObject({ terraform_version: "1.11.4", terraform_wrapper: false });
  });
});

describe("pull-request.yml", () => {
  test("runs on pull requests, never with pull_request_target's write token on untrusted code", () => {
    expect(Object.keys(pr.on)).toEqual(["pull_request"]);
  });

  test("installs, tests (with virt-xml-validate) and synthesizes", () => {
    const lines = commandLines(pr);
    expect(lines).toEqual(expect.arrayContaining(["npm ci", "npm test", "npm run synth"]));
    const test = (pr.jobs.test.steps ?? []).map((s) => s.run ?? "");
    const apt = test.findIndex((r) => /apt-get install .*libvirt-clients/.test(r));
    expect(apt).toBeGreaterThanOrEqual(0);
    expect(apt).toBeLessThan(test.indexOf("npm test"));
  });

  test("plans every stack to a saved plan file, shown as JSON and text", () => {
    const lines = commandLines(pr);
    const plans = lines.filter((l) => terraform("plan").test(l));
    expect(plans.length).toBeGreaterThan(0);
    for (const l of plans) expect(l).toMatch(/-out=tfplan\b/);
    expect(lines).toEqual(
      expect.arrayContaining(["terraform show -json tfplan > plan.json", "terraform show -no-color tfplan > plan.txt"]),
    );
    expect(pr.jobs.plan.strategy?.matrix?.stack).toBe("${{ fromJSON(needs.synth.outputs.stacks) }}");
    expect(step(pr, "synth", "stacks").run).toContain("cdktf.out/manifest.json");
  });

  test("uploads each stack's plan with its synthesized files and lock file, named by stack and head SHA", () => {
    const upload = (pr.jobs.plan.steps ?? []).find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.with).toMatchObject({
      name: "plan-${{ matrix.stack }}-${{ env.HEAD_SHA }}",
      path: "cdktf.out/stacks/${{ matrix.stack }}/",
      "include-hidden-files": true,
    });
    expect(text("pull-request.yml")).toMatch(/HEAD_SHA: \$\{\{ github\.event\.pull_request\.head\.sha \}\}/);
  });

  test("skips the plan, with a notice, when the pull request gets no secrets", () => {
    const gate = step(pr, "synth", "gate").run ?? "";
    expect(pr.jobs.plan.if).toContain("needs.synth.outputs.can_plan == 'true'");
    const fork = runStep(gate, tempDir(), { SAME_REPO: "false", HAS_CREDENTIALS: "false" });
    expect(fork.status).toBe(0);
    expect(fork.outputs.can_plan).toBe("false");
    expect(fork.stdout).toContain("::notice");
    expect(fork.outputs.skip_reason).toMatch(/fork/);
    expect(runStep(gate, tempDir(), { SAME_REPO: "true", HAS_CREDENTIALS: "false" }).outputs.can_plan).toBe("false");
    expect(runStep(gate, tempDir(), { SAME_REPO: "true", HAS_CREDENTIALS: "true" }).outputs.can_plan).toBe("true");
    // The report still runs when the plan is skipped.
    expect(pr.jobs.report.if).toMatch(/!cancelled\(\)/);
  });

  test("runs gpu-passthrough report with a --plan for each stack that has one", () => {
    const dir = tempDir();
    const bin = join(dir, "bin");
    writeFiles(dir, {
      "cdktf.out/manifest.json": JSON.stringify({ stacks: { "ml-lab": {}, vdi: {} } }),
      [`plans/plan-ml-lab-${HEAD_SHA}/plan.json`]: "{}",
      "bin/npx": '#!/usr/bin/env bash\nprintf "%s\\n" "$@" > npx-args\n',
    });
    chmodSync(join(bin, "npx"), 0o755);
    const ran = runStep(step(pr, "report", "gpu-passthrough report").run ?? "", dir, { HEAD_SHA }, bin);
    expect(ran.status).toBe(0);
    expect(readFileSync(join(dir, "npx-args"), "utf8").trim().split("\n")).toEqual([
      "gpu-passthrough",
      "report",
      "--outdir",
      "cdktf.out",
      "--plan",
      `ml-lab=plans/plan-ml-lab-${HEAD_SHA}/plan.json`,
      "--markdown",
      "report.md",
      "--json",
      "report.json",
    ]);
  });

  describe("the report comment", () => {
    const comment = step(pr, "report", "comment");
    const MARKER = "<!-- gpu-passthrough-report -->";

    interface Existing {
      id: number;
      body: string;
      user: { type: string };
    }
    async function post(opts: { existing?: Existing[]; plans?: Record<string, string>; env?: Record<string, string> }) {
      const dir = tempDir();
      writeFiles(dir, { "report.md": "## GPU passthrough report\n\n| VM | GPUs |\n" });
      for (const [stack, plan] of Object.entries(opts.plans ?? {}))
        writeFiles(dir, { [`plans/plan-${stack}-${HEAD_SHA}/plan.txt`]: plan });
      const created: string[] = [];
      const updated: { id: number; body: string }[] = [];
      let summary = "";
      const github = {
        paginate: async () => opts.existing ?? [],
        rest: {
          issues: {
            listComments: () => undefined,
            createComment: async (p: { body: string }) => {
              created.push(p.body);
              return { data: { html_url: "https://example.invalid/c/1" } };
            },
            updateComment: async (p: { comment_id: number; body: string }) => {
              updated.push({ id: p.comment_id, body: p.body });
              return { data: {} };
            },
          },
        },
      };
      const core = {
        summary: {
          addRaw(body: string) {
            summary = body;
            return this;
          },
          write: async () => undefined,
        },
        notice: jest.fn(),
        info: jest.fn(),
      };
      const context = { repo: { owner: "acme", repo: "fleet" }, payload: { pull_request: { number: 5 } } };
      const env = {
        HEAD_SHA,
        STACKS: JSON.stringify(Object.keys(opts.plans ?? { "ml-lab": "" })),
        REPORT_MD: join(dir, "report.md"),
        PLANS_DIR: join(dir, "plans"),
        PLAN_SKIPPED: "",
        PLAN_RESULT: "success",
        CAN_COMMENT: "true",
        RUN_URL: "https://github.com/acme/fleet/actions/runs/1",
        ...opts.env,
      };
      const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
      const script = new AsyncFunction("require", "github", "context", "core", "process", comment.with?.script);
      await script(require, github, context, core, { env });
      return { created, updated, summary, core };
    }

    test("is posted by actions/github-script with the hidden marker, and its script takes no ${{ }} input", () => {
      expect(comment.uses).toMatch(/^actions\/github-script@v\d+$/);
      expect(String(comment.with?.script)).toContain(MARKER);
      expect(String(comment.with?.script)).not.toContain("${{");
    });

    test("is created once, then updated in place on every push", async () => {
      const first = await post({ plans: { "ml-lab": "Plan: 1 to add, 0 to change, 0 to destroy." } });
      expect(first.updated).toEqual([]);
      expect(first.created).toHaveLength(1);
      expect(first.created[0].startsWith(MARKER)).toBe(true);
      expect(first.created[0]).toContain("<details><summary>Terraform plan: <code>ml-lab</code></summary>");
      expect(first.created[0]).toContain("Plan: 1 to add");

      const existing = [
        { id: 7, body: `${MARKER}\nold`, user: { type: "User" } }, // someone quoting it: not ours
        { id: 9, body: `${MARKER}\nold`, user: { type: "Bot" } },
      ];
      const second = await post({ existing, plans: { "ml-lab": "Plan: 0 to add, 1 to change, 0 to destroy." } });
      expect(second.created).toEqual([]);
      expect(second.updated.map((u) => u.id)).toEqual([9]);
      expect(second.updated[0].body).toContain("1 to change");
    });

    test("stays under GitHub's 65536-character limit, cutting the largest plans and keeping small ones whole", async () => {
      const big = "  # vsphere_virtual_machine.x will be created\n".repeat(5000); // ≈ 230 000 characters
      const small = "No changes. Your infrastructure matches the configuration.";
      const { created } = await post({ plans: { "ml-lab": big, vdi: big, workstation: small } });
      const body = created[0];
      expect(body.length).toBeLessThanOrEqual(65536);
      expect(body).toContain(small);
      expect(body.match(/<details>/g)).toHaveLength(3);
      expect(body).toContain(`truncated: plan.txt in the artifact plan-ml-lab-${HEAD_SHA}`);
    });

    test("says why there is no plan, and only writes the run summary when the token cannot comment", async () => {
      const fork = await post({
        env: { PLAN_SKIPPED: "pull requests from forks get no secrets", CAN_COMMENT: "false" },
      });
      expect(fork.created).toEqual([]);
      expect(fork.updated).toEqual([]);
      expect(fork.summary).toContain("No Terraform plan:** pull requests from forks get no secrets");
      expect(fork.core.notice).toHaveBeenCalled();
    });
  });
});

describe("deploy.yml", () => {
  const resolve = step(deploy, "resolve", "reviewed").run ?? "";
  const compareInResolve = step(deploy, "resolve", "Refuse unless main synthesizes exactly what was planned");
  const compareInApply = step(deploy, "apply", "Refuse unless main synthesizes exactly what was planned");
  const apply = deploy.jobs.apply;

  test("runs only on a push to main", () => {
    expect(deploy.on).toEqual({ push: { branches: ["main"] } });
  });

  test("never makes a plan of its own: every terraform apply applies the reviewed plan file", () => {
    const lines = commandLines(deploy);
    expect(lines.filter((l) => terraform("plan").test(l))).toEqual([]);
    const applies = lines.filter((l) => terraform("apply").test(l));
    expect(applies.length).toBeGreaterThan(0);
    for (const l of applies) expect(l).toMatch(/\bapply\b.*\stfplan\b/);
    expect(text("deploy.yml")).not.toContain("-auto-approve");
    expect(text("deploy.yml")).not.toMatch(/cdktf (deploy|apply)/);
    expect(lines).toContain("terraform init -input=false -lockfile=readonly");
  });

  test("applies stacks in parallel, one apply per stack at a time, behind the production environment", () => {
    expect(apply.environment).toBe("production");
    expect(apply.concurrency).toEqual({ group: "terraform-apply-${{ matrix.stack }}", "cancel-in-progress": false });
    expect(apply.strategy).toEqual({
      "fail-fast": false,
      matrix: { stack: "${{ fromJSON(needs.resolve.outputs.stacks) }}" },
    });
    expect(apply.needs).toBe("resolve");
  });

  test("downloads the plan of the pull request's run, by run id", () => {
    const downloads = stepsOf(deploy).filter((s) => s.uses?.startsWith("actions/download-artifact@"));
    expect(downloads).toHaveLength(2);
    for (const d of downloads)
      expect(d.with).toMatchObject({
        "run-id": expect.stringContaining("run_id"),
        "github-token": "${{ github.token }}",
      });
  });

  describe("finding the reviewed plan", () => {
    const REPO = "acme/fleet";
    const pulls = (merged: boolean, mergeSha = MERGED_SHA) => [
      {
        number: 5,
        merged_at: merged ? "2026-01-01T00:00:00Z" : null,
        merge_commit_sha: mergeSha,
        base: { ref: "main" },
        head: { sha: HEAD_SHA },
      },
    ];
    const runsUrl = `repos/${REPO}/actions/workflows/pull-request.yml/runs?event=pull_request&status=success&head_sha=${HEAD_SHA}&per_page=100`;
    function resolveWith(responses: Record<string, unknown>): Ran {
      const dir = tempDir();
      writeFiles(dir, {
        "responses.json": JSON.stringify(responses),
        "bin/gh": [
          "#!/usr/bin/env bash",
          '[ "$1" = api ] || exit 2',
          'out="$(jq -c --arg url "$2" \'.[$url] // empty\' "$FAKE_GH")"',
          '[ -n "$out" ] || { echo "gh: HTTP 404 for $2" >&2; exit 1; }',
          'printf "%s\\n" "$out"',
          "",
        ].join("\n"),
      });
      chmodSync(join(dir, "bin", "gh"), 0o755);
      const env = { REPO, BRANCH: "main", RETRY_SECONDS: "0", PLAN_WORKFLOW: "pull-request.yml" };
      return runStep(resolve, dir, { ...env, FAKE_GH: join(dir, "responses.json") }, join(dir, "bin"));
    }
    const tree = (sha: string) => ({ sha: "x", commit: { tree: { sha } } });
    const runs = {
      workflow_runs: [
        { id: 100, created_at: "2026-01-01T00:00:00Z" },
        { id: 101, created_at: "2026-01-02T00:00:00Z" },
      ],
    };

    test("the merged pull request whose head tree is the pushed tree, and its latest successful plan run", () => {
      const ran = resolveWith({
        [`repos/${REPO}/commits/${MERGED_SHA}/pulls`]: pulls(true),
        [`repos/${REPO}/commits/${MERGED_SHA}`]: tree("t1"),
        [`repos/${REPO}/commits/${HEAD_SHA}`]: tree("t1"),
        [runsUrl]: runs,
      });
      expect(ran.stdout).not.toContain("::error");
      expect(ran.status).toBe(0);
      expect(ran.outputs).toEqual({ pr: "5", head_sha: HEAD_SHA, run_id: "101" });
    });

    test("refuses when the pull request was not up to date with main (the trees differ)", () => {
      const ran = resolveWith({
        [`repos/${REPO}/commits/${MERGED_SHA}/pulls`]: pulls(true),
        [`repos/${REPO}/commits/${MERGED_SHA}`]: tree("t2"),
        [`repos/${REPO}/commits/${HEAD_SHA}`]: tree("t1"),
        [runsUrl]: runs,
      });
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/::error title=Not applied.*not up to date/);
      expect(ran.outputs).toEqual({});
    });

    test("refuses a push that merged no pull request", () => {
      for (const list of [[], pulls(false), pulls(true, "c".repeat(40))]) {
        const ran = resolveWith({ [`repos/${REPO}/commits/${MERGED_SHA}/pulls`]: list });
        expect(ran.status).not.toBe(0);
        expect(ran.stdout).toMatch(/::error title=Not applied: nothing was reviewed::/);
      }
    });

    test("refuses when no plan run succeeded for the reviewed head", () => {
      const ran = resolveWith({
        [`repos/${REPO}/commits/${MERGED_SHA}/pulls`]: pulls(true),
        [`repos/${REPO}/commits/${MERGED_SHA}`]: tree("t1"),
        [`repos/${REPO}/commits/${HEAD_SHA}`]: tree("t1"),
        [runsUrl]: { workflow_runs: [] },
      });
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/::error title=Not applied: no plan::/);
    });
  });

  describe("comparing a fresh synth of main with the reviewed artifact", () => {
    const s3 = JSON.stringify({ terraform: { backend: { s3: { bucket: "b", key: "k" } } }, resource: {} });
    const local = JSON.stringify({ terraform: { backend: { local: { path: "../../../terraform.ml-lab.tfstate" } } } });
    const reviewed = `reviewed/plan-ml-lab-${HEAD_SHA}`;
    function fixture(changes: Record<string, string> = {}, cdk = s3): string {
      const dir = tempDir();
      writeFiles(dir, {
        "cdktf.out/stacks/ml-lab/cdk.tf.json": cdk,
        "cdktf.out/stacks/ml-lab/passthrough.json": "{}",
        [`${reviewed}/cdk.tf.json`]: cdk,
        [`${reviewed}/passthrough.json`]: "{}",
        [`${reviewed}/tfplan`]: "zip",
        [`${reviewed}/plan.json`]: "{}",
        [`${reviewed}/plan.txt`]: "plan",
        [`${reviewed}/.terraform.lock.hcl`]: "lock",
        ...changes,
      });
      return dir;
    }
    const compare = (dir: string, s: Step = compareInApply) =>
      runStep(s.run ?? "", dir, { STACKS: "ml-lab", HEAD_SHA, RUN_ID: "101" });

    test("is one script, run by the resolve job for all stacks and again by each apply job", () => {
      expect(compareInResolve.run).toBe(compareInApply.run);
      expect(compareInApply.run).toContain('cmp -s "$fresh/cdk.tf.json" "$reviewed/cdk.tf.json"');
      const names = (apply.steps ?? []).map((s) => s.name ?? s.uses ?? s.run);
      expect(names.indexOf(compareInApply.name)).toBeLessThan(names.indexOf("terraform apply of the reviewed plan"));
    });

    test("passes when the synthesized files are byte-identical", () => {
      for (const s of [compareInResolve, compareInApply]) {
        const ran = compare(fixture(), s);
        expect(ran.stdout).not.toContain("::error");
        expect(ran.status).toBe(0);
      }
    });

    test("refuses when cdk.tf.json differs", () => {
      const ran = compare(fixture({ "cdktf.out/stacks/ml-lab/cdk.tf.json": s3.replace('"k"', '"k2"') }));
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/::error title=Not applied: ml-lab::the cdk\.tf\.json .* differs/);
    });

    test("refuses when a file beside cdk.tf.json differs", () => {
      const ran = compare(fixture({ "cdktf.out/stacks/ml-lab/passthrough.json": '{"vms":[]}' }));
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/::error title=Not applied: ml-lab::files synthesized beside/);
    });

    test("refuses without a reviewed plan file", () => {
      const dir = fixture();
      rmSync(join(dir, reviewed, "tfplan"));
      expect(compare(dir).stdout).toMatch(/::error title=Not applied: ml-lab::run 101 has no reviewed plan/);
      expect(compare(dir).status).not.toBe(0);
    });

    test("refuses a stack that keeps its state in a local file, lost with the runner", () => {
      const ran = compare(fixture({}, local));
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/local file, which is lost with the runner/);
    });

    test("refuses when a planned stack is no longer synthesized", () => {
      const dir = fixture({ [`reviewed/plan-old-site-${HEAD_SHA}/tfplan`]: "zip" });
      const ran = compare(dir, compareInResolve);
      expect(ran.status).not.toBe(0);
      expect(ran.stdout).toMatch(/stack old-site was planned but .* does not synthesize it/);
    });
  });

  test("skips stacks whose reviewed plan changes nothing (no approval asked for them)", () => {
    const plan = (actions: string[]) =>
      JSON.stringify({ resource_changes: [{ address: "a.b", change: { actions } }], output_changes: {} });
    const dir = tempDir();
    writeFiles(dir, {
      [`reviewed/plan-ml-lab-${HEAD_SHA}/plan.json`]: plan(["no-op"]),
      [`reviewed/plan-vdi-${HEAD_SHA}/plan.json`]: plan(["create"]),
      [`reviewed/plan-ws-${HEAD_SHA}/plan.json`]: JSON.stringify({
        output_changes: { host_steps: { actions: ["update"] } },
      }),
    });
    const ran = runStep(step(deploy, "resolve", "changes").run ?? "", dir, { STACKS: "ml-lab vdi ws", HEAD_SHA });
    expect(ran.status).toBe(0);
    expect(JSON.parse(ran.outputs.stacks)).toEqual(["vdi", "ws"]);
    expect(ran.stdout).toContain("::notice title=ml-lab::");
    expect(apply.if).toBe("needs.resolve.outputs.stacks != '[]'");
  });

  test("applies the plan file; a stale plan is reported with its fix; empty secrets are unset, not empty", () => {
    const applyStep = step(deploy, "apply", "terraform apply of the reviewed plan");
    const dir = tempDir();
    writeFiles(dir, {
      "bin/terraform": [
        "#!/usr/bin/env bash",
        'echo "terraform $* windows=${TF_VAR_windows_admin_password-unset} user=${VSPHERE_USER-unset}" >> calls',
        '[ "$1" = apply ] && [ -n "${STALE:-}" ] && { echo "Error: Saved plan is stale" >&2; exit 1; }',
        "exit 0",
        "",
      ].join("\n"),
    });
    chmodSync(join(dir, "bin", "terraform"), 0o755);
    const env = { STACK: "vdi", RUN_ID: "101", TF_VAR_windows_admin_password: "", VSPHERE_USER: "svc" };
    const ok = runStep(applyStep.run ?? "", dir, env, join(dir, "bin"));
    expect(ok.status).toBe(0);
    expect(readFileSync(join(dir, "calls"), "utf8").trim().split("\n")).toEqual([
      "terraform init -input=false -lockfile=readonly windows=unset user=svc",
      "terraform apply -input=false -lock-timeout=5m tfplan windows=unset user=svc",
    ]);
    const stale = runStep(applyStep.run ?? "", dir, { ...env, STALE: "1" }, join(dir, "bin"));
    expect(stale.status).not.toBe(0);
    expect(stale.stdout).toMatch(
      /::error title=Not applied: vdi plan is stale::.*Re-run the pull request's workflow run/,
    );
  });

  test("installs govc only for stacks whose apply runs govc", () => {
    const govc = step(deploy, "apply", "govc, for hosts with enableDirectPath govc").run ?? "";
    const withGovc = {
      resource: {
        terraform_data: {
          x: { provisioner: [{ "local-exec": { command: "set -e\ngovc host.esxcli -dc=DC hardware pci" } }] },
        },
      },
    };
    const dir = tempDir();
    writeFiles(dir, {
      "cdk.tf.json": JSON.stringify({ output: { steps: { value: ["govc host.esxcli ..."] } } }),
      "bin/curl": "#!/usr/bin/env bash\necho curl-called >&2; exit 1\n",
    });
    chmodSync(join(dir, "bin", "curl"), 0o755);
    const none = runStep(govc, dir, { STACK: "ml-lab", GOVC_VERSION: "0.51.0" }, join(dir, "bin"));
    expect(none.status).toBe(0);
    expect(none.stdout).not.toContain("curl-called");
    writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(withGovc));
    const needed = runStep(govc, dir, { STACK: "ml-lab", GOVC_VERSION: "0.51.0" }, join(dir, "bin"));
    expect(needed.stdout).toContain("curl-called");
  });
});
