import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Testing } from "cdktf";
import { LibvirtHostBinding } from "../lib/backends/libvirt/libvirt-backend";
import { HostPrepPlan, hostPrepPlan, hostPrepScript } from "../lib/backends/libvirt/host-prep";
import { PassthroughApp } from "../lib/validation/app";
import { newKvmHost, newKvmStack, newKvmVm } from "./libvirt-helpers";

const planOf = (host: ReturnType<typeof newKvmHost>): HostPrepPlan => (host.binding as LibvirtHostBinding).prepPlan();

describe("KVM host preparation plan", () => {
  test("AMD workstation: IOMMU arguments, vfio-pci ids of the guest GPU's functions, drivers after vfio-pci, initramfs, reboot", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    newKvmVm(stack, "gaming", host, { gpus: ["0000:0b:00.0"] });
    const plan = planOf(host);
    expect(plan.kernelArgs).toEqual([
      "amd_iommu=on",
      "iommu=pt",
      "vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef",
    ]);
    expect(plan.bindBy).toBe("ids");
    expect(plan.functions.map((f) => `${f.address} ${f.id} ${f.kind} ${f.vm}`)).toEqual([
      "0000:0b:00.0 10de:2206 display gaming",
      "0000:0b:00.1 10de:1aef audio gaming",
    ]);
    expect(plan.modprobe.lines).toEqual([
      "options vfio-pci ids=10de:2206,10de:2216,10de:220a,10de:1aef",
      "softdep nvidia pre: vfio-pci",
      "softdep nouveau pre: vfio-pci",
      "softdep snd_hda_intel pre: vfio-pci",
    ]);
    expect(plan.initramfs).toEqual({
      tool: "initramfs-tools",
      file: "/etc/initramfs-tools/modules",
      lines: ["vfio_pci", "vfio", "vfio_iommu_type1"],
      rebuild: "update-initramfs -u -k all",
    });
    expect(plan.kernelArgCommands[plan.kernelArgCommands.length - 1]).toBe("update-grub");
    expect(plan.rebootRequired).toBe(true);
    expect(plan.notes).toEqual(["the host keeps 0000:0c:00.0 (NVIDIA GeForce RTX 3060); vfio-pci leaves it alone"]);
    const steps = host.hostSteps();
    expect(steps[0]).toEqual({
      kind: "bios",
      description: "enable SVM (AMD-V) and IOMMU (AMD-Vi) in the firmware setup",
    });
    expect(steps[steps.length - 1].kind).toBe("reboot");
  });

  test("a guest GPU identical to the one the host keeps is bound by address: ids cannot tell them apart", () => {
    const stack = newKvmStack();
    const host = newKvmHost(
      stack,
      [
        { address: "0000:0b:00.0", model: "nvidia-rtx-3080" },
        { address: "0000:0c:00.0", model: "nvidia-rtx-3080", role: "host" },
      ],
      { cpuVendor: "intel", distro: "fedora" },
    );
    newKvmVm(stack, "vm", host, { gpus: ["0000:0b:00.0"] });
    const plan = planOf(host);
    expect(plan.bindBy).toBe("address");
    expect(plan.bindReason).toContain("0000:0b:00.0 (10de:2206)");
    expect(plan.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(plan.driverOverrides).toEqual([
      "driverctl set-override 0000:0b:00.0 vfio-pci",
      "driverctl set-override 0000:0b:00.1 vfio-pci",
    ]);
    expect(plan.modprobe.lines).not.toContainEqual(expect.stringMatching(/^options vfio-pci ids/));
    expect(plan.kernelArgCommands).toEqual(['grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt"']);
    expect(plan.initramfs).toMatchObject({ tool: "dracut", rebuild: "dracut -f --regenerate-all" });
    expect(plan.initramfs.lines).toEqual(['force_drivers+=" vfio_pci vfio vfio_iommu_type1 "']);
  });

  test("the plan follows the guest GPUs, VMs or not (as on vSphere); large BARs and the AMD reset bug add steps", () => {
    // A host is prepared before its VMs exist: its guest GPUs go to vfio-pci at boot, marked as not yet given.
    const idle = newKvmStack();
    const unused = newKvmHost(idle);
    expect(planOf(unused).functions.map((f) => [f.address, f.vm])).toEqual([
      ["0000:0b:00.0", "no VM yet"],
      ["0000:0b:00.1", "no VM yet"],
    ]);
    expect(unused.hostSteps().length).toBeGreaterThan(0);
    const kept = newKvmHost(newKvmStack(), [{ address: "0000:0b:00.0", model: "nvidia-rtx-3080", role: "host" }]);
    expect(kept.hostSteps()).toEqual([]);

    const stack = newKvmStack(Testing.app());
    const host = newKvmHost(
      stack,
      [
        { address: "0000:03:00.0", model: "amd-rx-vega-64" },
        { address: "0000:17:00.0", model: "nvidia-a100-80gb" },
      ],
      {
        distro: "arch",
        iommuGroups: [
          { id: 3, devices: ["0000:03:00.0", "0000:03:00.1"] },
          { id: 40, devices: ["0000:17:00.0"] },
        ],
      },
    );
    newKvmVm(stack, "a", host, { gpus: ["0000:03:00.0"] });
    newKvmVm(stack, "b", host, { gpus: ["0000:17:00.0"] });
    const plan = planOf(host);
    expect(plan.bios).toContain("enable Above 4G Decoding: the guest GPUs map more than 16 GB");
    expect(plan.notes.join(" ")).toContain("install the vendor-reset module");
    expect(plan.modprobe.lines).toEqual(
      expect.arrayContaining(["softdep amdgpu pre: vfio-pci", "softdep nvidia pre: vfio-pci"]),
    );
    expect(plan.initramfs).toMatchObject({ tool: "mkinitcpio", lines: ["MODULES+=(vfio_pci vfio vfio_iommu_type1)"] });
    expect(plan.kernelArgCommands[plan.kernelArgCommands.length - 1]).toBe("grub-mkconfig -o /boot/grub/grub.cfg");
  });

  test("each host's plan is in the synth output: a script people read (valid shell) and JSON scripts read", () => {
    const outdir = mkdtempSync(join(tmpdir(), "gpt-prep-"));
    try {
      const app = new PassthroughApp({ outdir });
      const stack = newKvmStack(app, "workstation");
      const host = newKvmHost(stack);
      newKvmVm(stack, "gaming", host, { gpus: ["0000:0b:00.0"] });
      app.synth();
      const dir = join(outdir, "stacks", "workstation", "hosts", "ws-01");
      const script = readFileSync(join(dir, "prepare-host.sh"), "utf8");
      expect(statSync(join(dir, "prepare-host.sh")).mode & 0o111).toBeTruthy();
      expect(script).toContain("#   0000:0b:00.1 10de:1aef audio of NVIDIA GeForce RTX 3080 0000:0b:00.0 -> VM gaming");
      expect(script).toContain("update-initramfs -u -k all");
      const syntax = spawnSync("sh", ["-n", join(dir, "prepare-host.sh")], { encoding: "utf8" });
      expect(syntax.stderr).toBe("");
      expect(syntax.status).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, "host-prep.json"), "utf8"))).toEqual(planOf(host));
      const manifest = JSON.parse(readFileSync(join(outdir, "stacks", "workstation", "passthrough.json"), "utf8"));
      expect(manifest.hosts[0].files).toEqual(["hosts/ws-01/prepare-host.sh", "hosts/ws-01/host-prep.json"]);
      expect(manifest.hosts[0].steps).toEqual(host.hostSteps());
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test("the script's edits are idempotent: run twice on a copy of /etc, the files are the same", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    newKvmVm(stack, "gaming", host, { gpus: ["0000:0b:00.0"] });
    const plan = planOf(host);
    const root = mkdtempSync(join(tmpdir(), "gpt-etc-"));
    try {
      // Only the file edits (not update-grub or update-initramfs), redirected into a scratch /etc.
      const edits = plan.kernelArgCommands
        .filter((c) => c.startsWith("grep"))
        .map((c) => c.replace(/\/etc\//g, `${root}/etc/`));
      const script = [
        `mkdir -p ${root}/etc/default`,
        `printf 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\\n' > ${root}/etc/default/grub`,
        ...edits,
      ].join("\n");
      const once = spawnSync("sh", ["-c", `${script}\n${edits.join("\n")}`], { encoding: "utf8" });
      expect(once.stderr).toBe("");
      expect(readFileSync(join(root, "etc/default/grub"), "utf8")).toBe(
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet amd_iommu=on iommu=pt vfio-pci.ids=10de:2206,10de:2216,10de:220a,10de:1aef"\n',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("KVM host plan from what the guests need (libvirt's planner input with guests)", () => {
  const input = {
    host: "kvm-gpu-01",
    cpuVendor: "intel" as const,
    distro: "rhel" as const,
    assigned: [],
    kept: [],
    nvramVms: ["win-01"],
    guests: [
      { vm: "win-01", memoryMib: 16384, hugepages: "1G" as const, numaNodes: [1], tpm: true },
      { vm: "u-01", memoryMib: 8192, numaNodes: [], tpm: false },
    ],
  };

  test("host-prep.json carries the pages, the 1 GiB mount and swtpm; the script is valid sh and says each", () => {
    const plan = hostPrepPlan(input);
    expect(plan.hugepages).toEqual([{ size: "1G", pages: 16, perNode: { 1: 16 }, vms: ["win-01"] }]);
    expect(plan.kernelArgs).toEqual([
      "intel_iommu=on",
      "iommu=pt",
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=16",
    ]);
    expect(plan.mounts.map((m) => m.fstab)).toEqual(["hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G 0 0"]);
    expect(plan.packages.map((p) => p.command)).toEqual(["dnf install -y swtpm swtpm-tools"]);
    const script = hostPrepScript(plan);
    const dir = mkdtempSync(join(tmpdir(), "gpt-guests-"));
    try {
      const file = join(dir, "prepare-host.sh");
      writeFileSync(file, script);
      const syntax = spawnSync("sh", ["-n", file], { encoding: "utf8" });
      expect(syntax.stderr).toBe("");
      expect(syntax.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(script).toContain(
      'grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=16"',
    );
    expect(script).toContain(
      "# Packages: libvirt runs swtpm for the software TPM of win-01.\ndnf install -y swtpm swtpm-tools\n",
    );
    expect(script).toContain("mount /dev/hugepages1G");
    expect(script).toContain(
      "# Note: 16 huge pages of 1 GiB reserved at boot for win-01, in total: the guests want node 1: 16, but rhel's long-term kernel predates",
    );
  });

  test("without guests (or guests needing nothing), the plan has none of it", () => {
    const plan = hostPrepPlan({ ...input, guests: [input.guests[1]] });
    expect([plan.hugepages, plan.mounts, plan.packages]).toEqual([[], [], []]);
    expect(hostPrepScript(plan)).not.toMatch(/hugetlbfs|swtpm|hugepages/);
  });
});
