/** A Proxmox VE node's preparation: lib/host-prep's plan for the `proxmox` distribution, and the files beside the stack. */
import { spawnSync } from "child_process";
import { readFileSync, statSync } from "fs";
import { join } from "path";
import { ProxmoxHostBinding } from "../lib/backends/proxmox/proxmox-backend";
import { PassthroughApp } from "../lib/validation/app";
import { newPveHost, newPveStack, newPveVm } from "./proxmox-helpers";
import { tempDir } from "./temp";

const planOf = (host: ReturnType<typeof newPveHost>) => (host.binding as ProxmoxHostBinding).prepPlan();

describe("Proxmox VE node preparation", () => {
  test("every guest GPU on vfio-pci by id, kernel arguments through GRUB or systemd-boot and proxmox-boot-tool", () => {
    const stack = newPveStack();
    const host = newPveHost(stack, { cpuVendor: "intel" });
    newPveVm(stack, "play", host, { gpus: ["0000:0b:00.0"] });
    const plan = planOf(host);
    expect(plan.distro).toBe("proxmox");
    expect(plan.kernelArgs).toEqual([
      "intel_iommu=on",
      "iommu=pt",
      "vfio-pci.ids=10de:2684,10de:22ba,10de:2230,10de:1aef",
    ]);
    // The A6000 has no VM yet: the node is prepared for it all the same.
    expect(plan.functions.map((f) => `${f.address} ${f.kind} ${f.vm}`)).toEqual([
      "0000:0b:00.0 display play",
      "0000:0b:00.1 audio play",
      "0000:0c:00.0 display no VM yet",
      "0000:0c:00.1 audio no VM yet",
    ]);
    expect(plan.bios).toEqual([
      "enable Intel VT-x and VT-d in the firmware setup",
      "enable Above 4G Decoding: the guest GPUs map more than 16 GB",
    ]);
    expect(plan.kernelArgCommands.at(-1)).toBe(
      "if proxmox-boot-tool status --quiet >/dev/null 2>&1; then proxmox-boot-tool refresh; else update-grub; fi",
    );
    expect(plan.kernelArgCommands.some((c) => c.includes("/etc/kernel/cmdline"))).toBe(true);
    expect(plan.initramfs.rebuild).toBe("update-initramfs -u -k all");
    expect(plan.notes).toEqual([expect.stringMatching(/^Proxmox VE boots with GRUB .* proxmox-boot-tool refresh/)]);
    expect(host.hostSteps().at(-1)).toEqual({
      kind: "reboot",
      description: "reboot the host: kernel arguments and the initramfs take effect at boot",
    });
  });

  test("a GPU the node keeps with the same ids as a guest GPU: binding by address", () => {
    const stack = newPveStack();
    const host = newPveHost(stack, { iommuGroups: undefined }, [
      { address: "0000:0b:00.0", model: "nvidia-rtx-4090" },
      { address: "0000:0c:00.0", model: "nvidia-rtx-4090", role: "host" },
    ]);
    const plan = planOf(host);
    expect(plan.bindBy).toBe("address");
    expect(plan.driverOverrides).toEqual([
      "driverctl set-override 0000:0b:00.0 vfio-pci",
      "driverctl set-override 0000:0b:00.1 vfio-pci",
    ]);
  });

  test("hosts/<host>/prepare-host.sh (executable, valid sh) and host-prep.json are written beside the stack", () => {
    const outdir = tempDir("gpt-pve-prep-");
    const app = new PassthroughApp({ outdir });
    const stack = newPveStack(app, "homelab");
    newPveVm(stack, "play", newPveHost(stack), { gpus: ["0000:0b:00.0"] });
    app.synth();
    const dir = join(outdir, "stacks", "homelab", "hosts", "pve-01");
    const script = join(dir, "prepare-host.sh");
    expect(statSync(script).mode & 0o111).not.toBe(0);
    expect(spawnSync("sh", ["-n", script]).status).toBe(0);
    const text = readFileSync(script, "utf8");
    expect(text).toMatch(/^# Preparation of KVM host "pve-01" for GPU passthrough \(proxmox, amd CPU\)\.$/m);
    expect(text).toContain("proxmox-boot-tool refresh");
    const json = JSON.parse(readFileSync(join(dir, "host-prep.json"), "utf8"));
    expect(json).toMatchObject({ host: "pve-01", distro: "proxmox", cpuVendor: "amd", rebootRequired: true });
  });
});
