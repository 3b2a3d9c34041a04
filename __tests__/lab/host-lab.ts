/**
 * The host tier of the passthrough lab (issue 12): a lab host (L1), booted under TCG with a virtual IOMMU, on which
 * the product runs for real on the lab host's own /sys, and from which libvirt starts a nested guest (L2).
 *
 * L1 is a Debian 12 host built by scripts/lab/prepare-host-lab.sh (debootstrap: Debian's kernel, initramfs-tools,
 * GRUB's update-grub, systemd, udev, driverctl, libvirt, QEMU, OVMF), its root disk a qcow2 layer over the cached
 * image, so what the product's prepare-host.sh writes (GRUB settings, modprobe.d, the rebuilt initramfs, driverctl's
 * overrides) persists from one boot to the next. It reads this machine's root read-only over virtio-9p (Node and the
 * project) and runs the job the test writes into a shared directory (lab-job.service), then powers off.
 *
 * Its PCI devices, on q35 with intel-iommu (intremap, caching-mode, so VFIO works inside it):
 * - the stand-in GPU: one slot, two functions, one IOMMU group (a multi-function device without ACS): function 0 a
 *   display controller with a 16 GiB 64-bit prefetchable BAR (QEMU's qxl, `vram64_size_mb`: address space, not
 *   memory, until written), function 1 an HD Audio controller (ich9-intel-hda) as a GPU's HDMI audio is; the lab
 *   host does not load qxl (it faults when libvirt unbinds it under TCG), so function 0 starts without a driver and
 *   function 1 on snd_hda_intel;
 * - a GPU that shares its group with an unrelated device: a display controller (bochs-display) and a NIC (e1000)
 *   behind a conventional PCI bridge, whose devices the IOMMU cannot tell apart.
 * The stand-in's ids are not NVIDIA's: the product treats any display-class device as a GPU (lib/preflight/pci-class.ts)
 * and declares one the catalog lacks as a custom model by its ids and BAR sizes, as `discover` prints it.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "fs";
import { join, resolve } from "path";

export const LAB_ENABLED = !!process.env.GPU_PASSTHROUGH_LAB;
export const REPO = resolve(__dirname, "../..");
/** The CLI the lab host runs: the built one, or another build (GPU_PASSTHROUGH_LAB_CLI) when dist/ is not current. */
export const LAB_CLI = process.env.GPU_PASSTHROUGH_LAB_CLI ?? join(REPO, "dist/lib/cli/main.js");

/** The lab host's PCI addresses, fixed by the QEMU command line below. */
export const TOPOLOGY = {
  gpu: "0000:00:10.0",
  audio: "0000:00:10.1",
  bridge: "0000:00:11.0",
  sharedGpu: "0000:01:01.0",
  sharedNic: "0000:01:02.0",
} as const;

export function progress(message: string): void {
  process.stderr.write(`lab host: ${message}\n`);
}

export interface LabImage {
  readonly dir: string;
  readonly vmlinuz: string;
  readonly initrd: string;
  readonly rootfs: string;
}

/** Builds the lab host image, or finds it in the cache (the script's progress goes to stderr). */
export function labImage(): LabImage {
  const out = execFileSync("sh", [join(REPO, "scripts/lab/prepare-host-lab.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = out.trim().split("\n").pop() as string;
  return { dir, vmlinuz: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), rootfs: join(dir, "rootfs.img") };
}

export interface BootOptions {
  /** The kernel command line, without the console (added: the test reads the lab host's console). */
  readonly args: string;
  readonly initrd: string;
  /** The job, a shell script run as root on the lab host; its output is job.out in the job directory. */
  readonly job: string;
  /** Runs while the lab host is up, given the job directory (for hand-overs through files). */
  readonly during?: (jobDir: string) => Promise<void>;
  readonly timeoutS: number;
}

export interface BootResult {
  readonly jobDir: string;
  /** The job's exit code; undefined when it never finished. */
  readonly rc?: number;
  readonly seconds: number;
  /** A file the job wrote into its directory, or undefined. */
  file(name: string): string | undefined;
}

/** One lab host: a root disk layer over the cached image, booted as often as the test needs. */
export class LabHost {
  private readonly disk: string;
  constructor(
    private readonly image: LabImage,
    private readonly work: string,
  ) {
    this.disk = join(work, "root.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image.rootfs, "-F", "raw", this.disk]);
  }

  /** Boots the lab host, runs the job, and waits for it to power off (or kills it after the timeout). */
  async boot(name: string, opts: BootOptions): Promise<BootResult> {
    const jobDir = join(this.work, name);
    mkdirSync(jobDir, { recursive: true });
    writeFileSync(join(jobDir, "job.sh"), opts.job);
    const consoleLog = openSync(join(this.work, `${name}.console.log`), "w");
    const started = Date.now();
    // 5 GiB: the lab VM's 1 GiB huge page is reserved at boot from a free, 1 GiB-aligned GiB; with 3 GiB (2 below
    // 4 GiB, 1 above) the kernel found none and reserved 0 pages (preflight blocked it: hugepages-short). TCG only
    // allocates what the lab host touches.
    // prettier-ignore
    const qemu = spawn("qemu-system-x86_64", [
      "-accel", "tcg", "-cpu", "max,vendor=GenuineIntel", "-m", "5120", "-smp", "2",
      "-machine", "q35,kernel-irqchip=split", "-device", "intel-iommu,intremap=on,caching-mode=on",
      "-vga", "none", "-nic", "none", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
      "-kernel", this.image.vmlinuz, "-initrd", opts.initrd, "-append", `${opts.args} console=ttyS0`,
      "-drive", `file=${this.disk},if=virtio,format=qcow2`,
      "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
      "-virtfs", `local,path=${jobDir},mount_tag=lab,security_model=none`,
      "-device", `qxl,id=gpu,vram64_size_mb=16384,addr=0x10.0,multifunction=on`,
      "-device", "ich9-intel-hda,addr=0x10.1",
      "-device", "pci-bridge,id=br1,chassis_nr=1,addr=0x11",
      "-device", "bochs-display,bus=br1,addr=0x1",
      "-device", "e1000,bus=br1,addr=0x2",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    // The console to a file, and the job's step lines (lab-job.service and the job's step()) to stderr as they come.
    let partial = "";
    qemu.stdout?.on("data", (chunk: Buffer) => {
      writeSync(consoleLog, chunk);
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith("lab-job: ")) progress(`${name}: ${line.slice(9).trim()}`);
    });
    qemu.stderr?.on("data", (chunk: Buffer) => writeSync(consoleLog, chunk));
    const exited = waitExit(qemu, opts.timeoutS * 1000);
    try {
      await Promise.race([opts.during?.(jobDir) ?? Promise.resolve(), exited]);
      await exited;
    } finally {
      if (qemu.exitCode === null) qemu.kill("SIGKILL");
      closeSync(consoleLog);
    }
    const read = (file: string) =>
      existsSync(join(jobDir, file)) ? readFileSync(join(jobDir, file), "utf8") : undefined;
    const rc = read("job.rc");
    return {
      jobDir,
      rc: rc === undefined ? undefined : Number(rc.trim()),
      seconds: Math.round((Date.now() - started) / 1000),
      file: read,
    };
  }

  /** The lab host's console output of a boot. */
  console(name: string): string {
    return readFileSync(join(this.work, `${name}.console.log`), "utf8");
  }
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      progress(`the lab host did not power off within ${timeoutMs / 1000} s: stopping it`);
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("exit", () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Waits for a file the lab host writes into the job directory. */
export async function waitForFile(path: string, timeoutS: number): Promise<boolean> {
  for (let waited = 0; waited < timeoutS; waited++) {
    if (existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/** The shell functions every job starts with: the product's CLI, and a step line on the lab host's console. */
export function jobPrelude(): string {
  const cli = `/host${LAB_CLI}`;
  return [
    "set -u",
    `export NODE_PATH=/host${REPO}/node_modules`,
    `cli() { /host${process.execPath} ${cli} "$@"; }`,
    'step() { echo "lab-job: $(cut -d" " -f1 /proc/uptime) s: $*" >/dev/console; }',
    // Each command's output and exit code, as files the test reads: run NAME COMMAND...
    'run() { n=$1; shift; "$@" >/lab/$n.out 2>/lab/$n.err; echo $? >/lab/$n.rc; }',
    'drivers() { for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(basename "$(readlink $d/driver)" 2>/dev/null)"; done; }',
    "",
  ].join("\n");
}

/** The kernel arguments of the first menu entry of a grub.cfg that update-grub wrote (after the kernel's path). */
export function grubLinuxArgs(grubCfg: string): string {
  const line = grubCfg.split("\n").find((l) => /^\s*linux\s+\/(boot\/)?vmlinuz/.test(l));
  if (!line) throw new Error(`no "linux /boot/vmlinuz..." line in grub.cfg:\n${grubCfg.slice(0, 2000)}`);
  return line.trim().split(/\s+/).slice(2).join(" ");
}

/** The libvirt domain for the nested guest: TCG, OVMF, the CPU settings that make firmware placement quick. */
export function nestedDomain(name: string, hostdevs: readonly string[]): string {
  // qemu64 (AMD vendor) with 40 physical address bits: OVMF finishes PCI enumeration in about 150 s under nested
  // TCG (shared/reference/real-software.md); the product's host-passthrough CPU needs KVM, which L1 does not have.
  return `<domain type="qemu">
  <name>${name}</name>
  <memory unit="MiB">512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch="x86_64" machine="q35">hvm</type>
    <loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template="/usr/share/OVMF/OVMF_VARS_4M.fd"/>
  </os>
  <features><acpi/></features>
  <cpu mode="custom" match="exact" check="none">
    <model fallback="forbid">qemu64</model>
    <maxphysaddr mode="emulate" bits="40"/>
  </cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model="none"/>
${hostdevs.map((h) => `    ${h}`).join("\n")}
  </devices>
</domain>
`;
}

/** The `<hostdev>` elements of a domain XML the product rendered, as written. */
export function hostdevsOf(domainXml: string): string[] {
  return [...domainXml.matchAll(/<hostdev\b[\s\S]*?<\/hostdev>/g)].map((m) => m[0].replace(/\n\s*/g, " "));
}

/**
 * From `info pci` (QEMU's monitor), the memory BARs of the device with this vendor:device id: index, address (undefined
 * when the firmware has not placed it) and size.
 */
export function barsOf(infoPci: string, id: string): { index: number; address?: bigint; size?: bigint }[] {
  const [vendor, device] = id.split(":");
  const blocks = infoPci.split(/\n(?=\s*Bus\s+\d+,)/);
  const block = blocks.find((b) => new RegExp(`PCI device ${vendor}:${device}`, "i").test(b));
  if (!block) return [];
  return [
    ...block.matchAll(/BAR(\d+): (?:32|64) bit (?:prefetchable )?memory at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]/gi),
  ].map((m) => {
    const start = BigInt(m[2]);
    const unassigned = start === 0xffffffffffffffffn || start === 0xffffffffn || start === 0n;
    return unassigned
      ? { index: Number(m[1]) }
      : { index: Number(m[1]), address: start, size: BigInt(m[3]) - start + 1n };
  });
}
