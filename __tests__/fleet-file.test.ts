import { readFileSync } from "fs";
import { join } from "path";
import { parseFleet } from "../lib/fleet/load";
import { fleetProblems } from "./fleet-helpers";

const example = readFileSync(join(__dirname, "..", "fleet.yaml"), "utf8");

const problems = fleetProblems;

const minimal = (vms: string, hosts?: string) => `
sites:
  - name: lab
    vsphere: { server: vc.lab, datacenter: dc }
hosts:
${
  hosts ??
  `  - name: esx01
    site: lab
    datastore: ds
    network: net
    gpus:
      - { address: "0000:3b:00.0", model: nvidia-a30 }`
}
vms:
${vms}
`;

describe("fleet file", () => {
  test("the shipped example is valid", () => {
    const fleet = parseFleet(example);
    expect(fleet.sites.map((s) => s.name)).toEqual(["ml-lab", "vdi", "workstation", "gpu-servers", "homelab"]);
    expect(fleet.vms.length).toBeGreaterThanOrEqual(6);
  });

  test("a bad PCI function points at the key and the line", () => {
    const vm = (name: string, gpus: string) =>
      `  - { name: ${name}, host: esx01, gpus: ${gpus}, cpus: 4, memoryGib: 16, vsphere: { template: t } }`;
    const yaml = minimal([vm("a", "1"), vm("b", "1"), vm("c", '["0000:3b:00.9"]')].join("\n"));
    expect(problems(yaml)).toEqual(['vms[2].gpus[0] (line 15): "0000:3b:00.9": function must be 0-7 (it is 9)']);
  });

  test("every problem is reported at once: types, unknown keys, missing keys", () => {
    const yaml = minimal(`  - name: a
    host: esx01
    gpus: 0
    cpus: four
    memoryGib: 16
    memoryGB: 16
    vsphere: { templat: t }`);
    expect(problems(yaml)).toEqual([
      "vms[0].gpus (line 15): must be at least 1",
      "vms[0].cpus (line 16): Invalid input: expected number, received string",
      "vms[0].memoryGB (line 18): unknown key: check the spelling (keys are camelCase) or remove it",
      "vms[0].vsphere.template (line 19): missing: expected string, received undefined",
      "vms[0].vsphere.templat (line 19): unknown key: check the spelling (keys are camelCase) or remove it",
    ]);
  });

  test("references and names: unknown host, unknown site, duplicate names", () => {
    const hosts = `  - name: esx01
    site: lab
    gpus: [{ address: "3b:00.0", model: nvidia-a30 }]
  - name: esx01
    site: elsewhere
    gpus: [{ address: "3b:00.0", model: nvidia-a30 }]`;
    const vm = (name: string, host: string) =>
      `  - { name: ${name}, host: ${host}, gpus: 1, cpus: 4, memoryGib: 16, vsphere: { template: t } }`;
    expect(problems(minimal([vm("a", "esx01"), vm("a", "esx01"), vm("b", "esx09")].join("\n"), hosts))).toEqual([
      'hosts[1].name (line 9): host "esx01" is already defined at hosts[0]: names must be unique',
      'hosts[1].site (line 10): no site named "elsewhere"; sites: lab',
      'vms[1].name (line 14): VM "a" is already defined at vms[0]: names must be unique',
      'vms[2].host (line 15): no host named "esx09"; hosts: esx01',
    ]);
  });

  test("YAML syntax errors give the line", () => {
    expect(problems("sites:\n  - name: lab\n    vsphere: { server: x\nhosts: []\n")[0]).toMatch(
      /^YAML syntax \(line \d\): /,
    );
    expect(problems("sites: []\nsites: []\n")).toEqual([
      expect.stringMatching(/^YAML syntax \(line 2\): Map keys must be unique/),
    ]);
  });

  test("an empty file says what it needs", () => {
    expect(problems("")).toEqual(["the file is empty: it needs sites, hosts and vms (see fleet.yaml in this project)"]);
  });

  test("a custom GPU model is checked like the catalog's", () => {
    const hosts = `  - name: esx01
    site: lab
    gpus: [{ address: "3b:00.0", model: { name: X, barsMib: [16, -1], vendorId: 10dex } }]`;
    expect(problems(minimal("  []", hosts).replace("vms:\n  []", "vms: []"))).toEqual([
      "hosts[0].gpus[0].model.barsMib[1] (line 8): each BAR is a whole, positive number of MiB",
      "hosts[0].gpus[0].model.vendorId (line 8): must be 4 hex digits, as lspci -nn shows it",
    ]);
  });
});
