/**
 * The real bpg/proxmox provider (0.112.0, built from its Go module) judges what the Proxmox backend writes: the
 * example fleet's Proxmox stack goes through `terraform init`, `validate` and `plan -refresh=false` with dummy
 * credentials (both work without a Proxmox VE API while the configuration has no data sources), and the plan must
 * create the VMs with the hostpci, EFI disk, memory and kvm_arguments the library derived. A variant with an API token
 * and PCI mappings is planned too; negative controls show that the provider really refuses what it should.
 *
 * Runs only in the e2e tier (GPU_PASSTHROUGH_E2E=1, npm run e2e), which sets TERRAFORM (scripts/terraform.sh) and
 * PROXMOX_TF_RC (lib/backends/proxmox/provider/build.sh: the provider in a filesystem mirror, and a CLI config for
 * it); without PROXMOX_TF_RC the test runs build.sh itself.
 */
import { spawnSync } from "child_process";
import { cpSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { synthesizeFleet } from "../stacks/fleet-app";
import { tempDir } from "./temp";

const E2E = !!process.env.GPU_PASSTHROUGH_E2E;
const run = E2E ? describe : describe.skip;
if (!E2E) console.warn("proxmox-provider.test.ts skipped: set GPU_PASSTHROUGH_E2E=1 (npm run e2e)");

const ROOT = join(__dirname, "..");
const TERRAFORM = process.env.TERRAFORM ?? "terraform";
/** Generous: a cold provider build takes one to two minutes; terraform itself takes seconds. */
const TIMEOUT_MS = 300_000;

/** The CLI config that installs the provider from its mirror (built once, then cached). */
function providerConfig(): string {
  if (process.env.PROXMOX_TF_RC) return process.env.PROXMOX_TF_RC;
  const build = spawnSync("sh", [join(ROOT, "lib/backends/proxmox/provider/build.sh")], {
    encoding: "utf8",
    timeout: TIMEOUT_MS,
  });
  if (build.status !== 0) throw new Error(`build.sh failed: ${build.stderr}`);
  return build.stdout.trim();
}

interface Run {
  readonly status: number | null;
  readonly out: string;
}

function terraform(dir: string, args: string[], env: Record<string, string> = {}): Run {
  const result = spawnSync(TERRAFORM, [...args, "-no-color"], {
    cwd: dir,
    encoding: "utf8",
    timeout: TIMEOUT_MS,
    env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", ...env },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Synthesizes a fleet file into a temp directory and returns the directory of one of its stacks. */
function synthStack(fleetFile: string, stack: string): string {
  const out = tempDir("gpt-pve-");
  const problems = synthesizeFleet(fleetFile, { outdir: out });
  if (problems.length) throw new Error(`the fleet has problems:\n${problems.join("\n")}`);
  return join(out, "stacks", stack);
}

type Values = Record<string, any>;

/** `terraform plan` then `show -json`: the planned resource changes by type and name. */
function plan(dir: string, credentials: Record<string, string>): Map<string, { actions: string[]; after: Values }> {
  const planned = terraform(dir, ["plan", "-refresh=false", "-input=false", "-out=plan.out"], credentials);
  expect(planned.out).toMatch(/Plan: \d+ to add, 0 to change, 0 to destroy/);
  expect(planned.status).toBe(0);
  const shown = spawnSync(TERRAFORM, ["show", "-json", "plan.out"], { cwd: dir, encoding: "utf8" });
  const json = JSON.parse(shown.stdout) as {
    resource_changes: { type: string; name: string; change: { actions: string[]; after: Values } }[];
  };
  return new Map(json.resource_changes.map((rc) => [`${rc.type}.${rc.name}`, rc.change]));
}

/** The planned values of the VM resource whose name attribute is `name`. */
function vmNamed(changes: ReturnType<typeof plan>, name: string): { actions: string[]; after: Values } {
  const found = [...changes.entries()].find(
    ([key, c]) => key.startsWith("proxmox_virtual_environment_vm.") && c.after.name === name,
  );
  if (!found) throw new Error(`no planned VM named ${name}: ${[...changes.keys()].join(", ")}`);
  return found[1];
}

const ROOT_CREDENTIALS = { TF_VAR_proxmox_username: "root@pam", TF_VAR_proxmox_password: "not-a-password" };

run("bpg/proxmox 0.112.0 validates and plans the Proxmox stacks", () => {
  let rc = "";
  beforeAll(() => {
    rc = providerConfig();
  }, TIMEOUT_MS);
  const init = (dir: string) => {
    const result = terraform(dir, ["init", "-input=false"], { TF_CLI_CONFIG_FILE: rc });
    expect(result.out).toMatch(/has been successfully initialized/);
    expect(result.status).toBe(0);
  };

  test(
    "the example fleet's homelab: validate passes, and the plan creates both VMs as derived",
    () => {
      const dir = synthStack(join(ROOT, "fleet.yaml"), "homelab");
      init(dir);
      const validated = terraform(dir, ["validate"], { TF_CLI_CONFIG_FILE: rc });
      expect(validated.out).toMatch(/Success! The configuration is valid\.\n/);
      expect(validated.out).not.toMatch(/Warning/);
      const changes = plan(dir, { TF_CLI_CONFIG_FILE: rc, ...ROOT_CREDENTIALS });

      const gaming = vmNamed(changes, "gaming");
      expect(gaming.actions).toEqual(["create"]);
      expect(gaming.after).toMatchObject({
        node_name: "pve-01",
        vm_id: 201,
        machine: "q35",
        bios: "ovmf",
        started: true,
        reboot_after_update: true,
        hostpci: [
          { device: "hostpci0", id: "0000:0b:00.0;0000:0b:00.1", pcie: true, rombar: true, xvga: true, mapping: null },
        ],
        efi_disk: [{ datastore_id: "local-zfs", type: "4m", pre_enrolled_keys: true }],
        tpm_state: [{ datastore_id: "local-zfs", version: "v2.0" }],
        memory: [{ dedicated: 32768, floating: 0, hugepages: null }],
        cpu: [{ type: "host", cores: 8, sockets: 1 }],
        vga: [{ type: "none" }],
        operating_system: [{ type: "win11" }],
      });
      // Hidden through x-vga, not through a -cpu of our own: no kvm_arguments for a small-BAR GPU.
      expect(gaming.after.kvm_arguments ?? "").toBe("");

      const ml = vmNamed(changes, "ml-box");
      expect(ml.after).toMatchObject({
        vm_id: 202,
        clone: [{ vm_id: 9000, full: true }],
        hostpci: [{ device: "hostpci0", id: "0000:0c:00.0;0000:0c:00.1", pcie: true, rombar: true, xvga: null }],
        efi_disk: [{ type: "4m", pre_enrolled_keys: false }],
        memory: [{ dedicated: 98304, floating: 0 }],
        // One RTX A6000: 64 GiB BAR1 + 48 MiB, rounded up to a 128 GB aperture.
        kvm_arguments: "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072",
        vga: [{ type: "std" }],
      });
    },
    TIMEOUT_MS,
  );

  test(
    "an API-token site with PCI mappings: one mapping per guest GPU, named by the VM's hostpci",
    () => {
      const fleet = {
        sites: [{ name: "lab", proxmox: { endpoint: "https://pve.example.com:8006/", auth: "token" } }],
        hosts: [
          {
            name: "pve-01",
            site: "lab",
            proxmox: {
              cpuVendor: "intel",
              devices: "mapping",
              subsystemIds: [{ gpu: "0000:0b:00.0", id: "1458:4105" }],
              iommuGroups: [{ id: 14, devices: ["0000:0b:00.0", "0000:0b:00.1"] }],
            },
            gpus: [{ address: "0000:0b:00.0", model: "nvidia-rtx-4090" }],
          },
        ],
        vms: [{ name: "desk", host: "pve-01", gpus: 1, cpus: 4, memoryGib: 16, proxmox: { template: 9000 } }],
      };
      const file = join(tempDir("gpt-pve-fleet-"), "fleet.yaml");
      writeFileSync(file, stringify(fleet));
      const dir = synthStack(file, "lab");
      init(dir);
      expect(terraform(dir, ["validate"], { TF_CLI_CONFIG_FILE: rc }).status).toBe(0);
      const changes = plan(dir, {
        TF_CLI_CONFIG_FILE: rc,
        TF_VAR_proxmox_api_token: "terraform@pve!ci=00000000-0000-0000-0000-000000000000",
      });
      const mappings = [...changes.entries()].filter(([key]) => key.startsWith("proxmox_hardware_mapping_pci."));
      expect(mappings).toHaveLength(1);
      expect(mappings[0][1].after).toMatchObject({
        name: "gpu-pve-01-0000-0b-00",
        map: [{ id: "10de:2684", node: "pve-01", path: "0000:0b:00", iommu_group: 14, subsystem_id: "1458:4105" }],
      });
      expect(vmNamed(changes, "desk").after.hostpci).toEqual([
        expect.objectContaining({ device: "hostpci0", mapping: "gpu-pve-01-0000-0b-00", id: null, xvga: true }),
      ]);
    },
    TIMEOUT_MS,
  );

  test(
    "negative controls: the provider refuses an 8m EFI disk and a 17th hostpci, and lets through what the rules refuse",
    () => {
      const source = synthStack(join(ROOT, "fleet.yaml"), "homelab");
      const edit = (change: (vm: Values) => void): string => {
        const dir = tempDir("gpt-pve-neg-");
        cpSync(source, dir, { recursive: true });
        const tf = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8"));
        for (const vm of Object.values(tf.resource.proxmox_virtual_environment_vm) as Values[]) change(vm);
        writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(tf, null, 1));
        init(dir);
        return dir;
      };
      const efi = terraform(
        edit((vm) => (vm.efi_disk.type = "8m")),
        ["validate"],
        { TF_CLI_CONFIG_FILE: rc },
      );
      expect(efi.status).not.toBe(0);
      expect(efi.out).toMatch(/expected type to be one of \["2m" "4m"\], got 8m/);

      const many = terraform(
        edit((vm) => {
          vm.hostpci = Array.from({ length: 17 }, (_, i) => ({
            device: `hostpci${i}`,
            id: `0000:${(i + 16).toString(16)}:00`,
            rombar: true,
          }));
        }),
        ["validate"],
        { TF_CLI_CONFIG_FILE: rc },
      );
      expect(many.status).not.toBe(0);
      expect(many.out).toMatch(/No more than 16 "hostpci" blocks are allowed|Too many hostpci blocks/);

      // What the provider lets through to a failing apply, which vm-rules.ts refuses (proxmox-rules.test.ts): a slot
      // PVE does not have, both id and mapping, and no rombar (sent as rombar=0).
      const lax = terraform(
        edit((vm) => {
          vm.hostpci = [{ device: "gpu0", id: "0000:0b:00.0", mapping: "gpu" }];
        }),
        ["validate"],
        { TF_CLI_CONFIG_FILE: rc },
      );
      expect(lax.out).toMatch(/Success! The configuration is valid/);
    },
    TIMEOUT_MS,
  );
});
