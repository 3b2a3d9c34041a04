/**
 * Proxmox VE in the fleet file as a user meets it: what the loader refuses and why, what a site becomes (one
 * provider for the cluster's API, credentials only from sensitive variables), and what the app writes for the
 * example fleet's homelab.
 */
import { Testing } from "cdktf";
import { readFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { parseFleet } from "../lib/fleet/load";
import { PassthroughApp, appProblems } from "../lib/validation/app";
import { buildFleetStacks, synthesizeFleet } from "../stacks/fleet-app";
import { fleetProblems } from "./fleet-helpers";
import { filesUnder, tempDir } from "./temp";

const site = (proxmox: object = { endpoint: "https://pve.example.com:8006/" }) => ({ name: "lab", proxmox });
/** `proxmox: null` leaves the block out. */
const host = (proxmox: object | null = { cpuVendor: "amd" }, extra: object = {}) => ({
  name: "pve-01",
  site: "lab",
  ...(proxmox ? { proxmox } : {}),
  gpus: [{ address: "0000:0b:00.0", model: "nvidia-rtx-4090" }],
  ...extra,
});
const vm = (extra: object = {}) => ({ name: "desk", host: "pve-01", gpus: 1, cpus: 4, memoryGib: 16, ...extra });
const fleet = (parts: { sites?: object[]; hosts?: object[]; vms?: object[] } = {}) =>
  stringify({ sites: parts.sites ?? [site()], hosts: parts.hosts ?? [host()], vms: parts.vms ?? [vm()] });

describe("the fleet loader", () => {
  test("a minimal Proxmox site, host and VM are valid; a VM needs no proxmox block", () => {
    expect(fleetProblems(fleet())).toEqual([]);
    expect(parseFleet(fleet()).sites[0].proxmox).toEqual({ endpoint: "https://pve.example.com:8006/" });
  });

  test("credentials never go into the endpoint, and the endpoint is https", () => {
    expect(fleetProblems(fleet({ sites: [site({ endpoint: "https://root@pam:secret@pve:8006/" })] }))).toEqual([
      expect.stringMatching(
        /^sites\[0\]\.proxmox\.endpoint \(line \d+\): holds a password \(user:password@\); leave it out and set TF_VAR_proxmox_username and TF_VAR_proxmox_password/,
      ),
    ]);
    expect(fleetProblems(fleet({ sites: [site({ endpoint: "pve.example.com:8006" })] }))).toEqual([
      expect.stringMatching(/^sites\[0\]\.proxmox\.endpoint \(line \d+\): must be a https URL/),
    ]);
    expect(
      fleetProblems(fleet({ sites: [site({ endpoint: "https://pve:8006/", password: "x" })] })).join("\n"),
    ).toMatch(/sites\[0\]\.proxmox\.password .*a credential has no place in the fleet file/);
  });

  test("a host of a Proxmox site needs its proxmox block with cpuVendor; other hypervisors' keys are refused", () => {
    expect(fleetProblems(fleet({ hosts: [host(null)] }))).toEqual([
      expect.stringMatching(
        /^hosts\[0\] \(line \d+\): host "pve-01" is on Proxmox VE site "lab" and needs proxmox: \{ cpuVendor \}/,
      ),
    ]);
    expect(fleetProblems(fleet({ hosts: [host({})] }))).toEqual([
      expect.stringMatching(
        /^hosts\[0\]\.proxmox\.cpuVendor \(line \d+\): Invalid option: expected one of "intel"\|"amd"/,
      ),
    ]);
    expect(fleetProblems(fleet({ hosts: [host(null, { libvirt: { cpuVendor: "amd", iommuGroups: [] } })] }))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^hosts\[0\]\.libvirt .*site "lab" is Proxmox VE; libvirt settings belong to hosts of a libvirt site/,
        ),
      ]),
    );
  });

  test("the VM's block: its shape here, its values by the backend's rules", () => {
    expect(fleetProblems(fleet({ vms: [vm({ proxmox: { osType: "win12" } })] }))).toEqual([
      expect.stringMatching(/^vms\[0\]\.proxmox\.osType \(line \d+\): Invalid option/),
    ]);
    expect(fleetProblems(fleet({ vms: [vm({ vsphere: { template: "t" } })] }))).toEqual([
      expect.stringMatching(/^vms\[0\]\.vsphere \(line \d+\): host "pve-01" is proxmox; vsphere settings do not apply/),
    ]);
  });
});

describe("a site's stack", () => {
  function build(yaml: string) {
    const app = new PassthroughApp({ outdir: tempDir("gpt-pve-app-") });
    const [stack] = buildFleetStacks(app, parseFleet(yaml));
    return { app, stack, tf: () => JSON.parse(Testing.synth(stack)) };
  }

  test("auth password (the default): username and password are sensitive variables without a default", () => {
    const { app, tf } = build(fleet());
    expect(appProblems(app)).toEqual([]);
    const json = tf();
    expect(json.provider.proxmox).toEqual([
      {
        endpoint: "https://pve.example.com:8006/",
        username: "${var.proxmox_username}",
        password: "${var.proxmox_password}",
      },
    ]);
    for (const name of ["proxmox_username", "proxmox_password"])
      expect(json.variable[name]).toMatchObject({ sensitive: true, default: null });
    expect(json.variable.proxmox_api_token).toBeUndefined();
  });

  test("auth token: an API token variable; the rules then refuse what PVE allows only root@pam", () => {
    const yaml = fleet({ sites: [site({ endpoint: "https://pve.example.com:8006/", auth: "token", insecure: true })] });
    const { app, stack, tf } = build(yaml);
    const json = tf();
    expect(json.provider.proxmox).toEqual([
      { endpoint: "https://pve.example.com:8006/", insecure: true, api_token: "${var.proxmox_api_token}" },
    ]);
    expect(json.variable.proxmox_api_token).toMatchObject({ sensitive: true, default: null });
    expect(appProblems(app)).toEqual([
      expect.stringMatching(/^VM "desk": hostpci\[0\] \(hostpci0\) assigns 0000:0b:00\.0;0000:0b:00\.1 by PCI id/),
    ]);
    expect(Testing.synth(stack)).toBeDefined();
    const { app: mapped } = build(
      fleet({
        sites: [site({ endpoint: "https://pve.example.com:8006/", auth: "token" })],
        hosts: [
          host({ cpuVendor: "amd", devices: "mapping", subsystemIds: [{ gpu: "0000:0b:00.0", id: "1458:4105" }] }),
        ],
      }),
    );
    expect(appProblems(mapped)).toEqual([]);
  });

  test("insecure: a warning naming the endpoint", () => {
    const { app } = build(fleet({ sites: [site({ endpoint: "https://pve.example.com:8006/", insecure: true })] }));
    const provider = app.node.findAll().find((c) => c.node.id === "proxmox");
    expect(provider?.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => m.data)).toEqual([
      expect.stringMatching(
        /site "lab": insecure is on, so the TLS certificate of https:\/\/pve\.example\.com:8006\/ is not checked/,
      ),
    ]);
  });
});

describe("the example fleet's homelab", () => {
  const out = tempDir("gpt-pve-example-");
  const problems = synthesizeFleet(join(__dirname, "..", "fleet.yaml"), { outdir: out });
  const dir = join(out, "stacks", "homelab");

  test("synthesizes: two VMs, the node's preparation beside the stack, a manifest of proxmox VMs", () => {
    expect(problems).toEqual([]);
    const files = [...filesUnder(dir).keys()].sort();
    expect(files).toEqual([
      "cdk.tf.json",
      "hosts/pve-01/host-prep.json",
      "hosts/pve-01/prepare-host.sh",
      "passthrough.json",
    ]);
    const tf = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8"));
    const vms = Object.values(tf.resource.proxmox_virtual_environment_vm) as Record<string, any>[];
    expect(vms.map((v) => [v.name, v.vm_id, v.hostpci[0].id, v.kvm_arguments ?? null])).toEqual([
      ["gaming", 201, "0000:0b:00.0;0000:0b:00.1", null],
      ["ml-box", 202, "0000:0c:00.0;0000:0c:00.1", "-fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=131072"],
    ]);
    const manifest = JSON.parse(readFileSync(join(dir, "passthrough.json"), "utf8"));
    expect(manifest.vms.map((v: { backend: string }) => v.backend)).toEqual(["proxmox", "proxmox"]);
  });
});
