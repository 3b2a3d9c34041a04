/**
 * What the libvirt provider 0.9.7 does at apply and destroy, and how the rendering copes (read in its source at tag
 * v0.9.7, internal/provider/*.go; measured with libvirt 9.0 where libvirt decides):
 *
 * - cloud-init: `libvirt_volume` has no Update ("Update Not Supported") and `create` has no replace modifier, while
 *   `name` forces a replacement. The seed volume is therefore named by its content, so a cloud-init change is a
 *   replacement in the plan, and `create` (the runner's ISO path) is ignored after creation.
 * - destroy: `destroy.shutdown` waits for the guest and then fails, never forcing it off.
 * - a failed first start leaves the domain defined (undefine without --nvram is refused): documented, with recovery.
 */
import { createHash } from "crypto";
import { hostPrepScript } from "../lib/backends/libvirt/host-prep";
import { LibvirtHostBinding } from "../lib/backends/libvirt/libvirt-backend";
import { terraformValue } from "../lib/terraform-literal";
import { newKvmHost, newKvmStack, newKvmVm, renderedDomain, synthesized } from "./libvirt-helpers";

/** The provider's id of a cloud-init ISO (cloudinit_disk_resource.go): sha256 of user data then meta data, 16 hex digits. */
const providerIsoId = (userData: string, metaData: string): string =>
  createHash("sha256").update(userData).update(metaData).digest("hex").slice(0, 16);

function seedOf(r: Record<string, Record<string, any>>, vm: string) {
  const disk = Object.values(r.libvirt_cloudinit_disk).find((d: any) => d.name === `${vm}-cloudinit`);
  const volume = Object.values(r.libvirt_volume).find((v: any) => String(v.name).startsWith(`${vm}-cloudinit`));
  return { disk, volume };
}

describe("cloud-init seed: a change is a replacement in the plan, not an update that fails at apply", () => {
  test("the seed volume is named by the provider's ISO id, and the domain attaches that volume", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "ml", newKvmHost(stack), {
      gpus: ["0000:0b:00.0"],
      libvirt: { baseImage: "/img/base.qcow2", cloudInit: { userData: "#cloud-config\nruncmd: [echo ${HOME}]\n" } },
    });
    const r = synthesized(vm);
    const { disk, volume } = seedOf(r, "ml");
    // What the provider hashes: the text Terraform reads from the escaped literals.
    const id = providerIsoId(terraformValue(disk.user_data), terraformValue(disk.meta_data));
    expect(volume.name).toBe(`ml-cloudinit-${id}.iso`);
    const cdrom = renderedDomain(vm).devices.disks.find((d: any) => d.device === "cdrom");
    expect(cdrom.source.volume.volume).toBe(volume.name);
  });

  test("changed user data gives another volume name (replace), the same content the same name (no diff)", () => {
    const names = ["ml-01", "ml-01", "ml-02"].map((hostName) => {
      const stack = newKvmStack();
      const vm = newKvmVm(stack, "ml", newKvmHost(stack), {
        gpus: ["0000:0b:00.0"],
        libvirt: { baseImage: "/img/base.qcow2", cloudInit: { hostName, sshAuthorizedKeys: ["ssh-ed25519 AAAA"] } },
      });
      return seedOf(synthesized(vm), "ml").volume.name;
    });
    expect(names[0]).toBe(names[1]);
    expect(names[2]).not.toBe(names[0]);
  });

  test("the volume ignores create (the ISO's path on the runner), and the new seed exists before the old goes", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "ml", newKvmHost(stack), { gpus: ["0000:0b:00.0"] });
    const { volume } = seedOf(synthesized(vm), "ml");
    expect(volume.create.content.url).toMatch(/^\$\{libvirt_cloudinit_disk\.[^.]+\.path\}$/);
    expect(volume.lifecycle).toEqual({ create_before_destroy: true, ignore_changes: ["create"] });
  });
});

describe("destroy finishes, also for a guest that ignores ACPI", () => {
  test("no destroy.shutdown (0.9.7's Delete waits for it, then fails without forcing); updates shut down, then force", () => {
    const stack = newKvmStack();
    const d = renderedDomain(newKvmVm(stack, "ml", newKvmHost(stack), { gpus: ["0000:0b:00.0"] }));
    // Without destroy settings the provider calls virDomainDestroyFlags(0): SIGTERM, then SIGKILL if QEMU lingers.
    expect(d.destroy).toBeUndefined();
    // Update's shutdown does force after its timeout (domainUpdateOptionsFromUpdate: ForceOnTimeout).
    expect(d.update).toEqual({ shutdown: { timeout: 300 } });
  });
});

describe("a failed first start: no 0.9.7 setting avoids the orphan, so its recovery is where users look", () => {
  const recovery = (vm: string) => `virsh undefine --nvram ${vm}`;

  test("the host's plan and prepare-host.sh name the recovery per VM, as comments only (never run by the script)", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    newKvmVm(stack, "ml", host, { gpus: ["0000:0b:00.0"] });
    newKvmVm(stack, "old", host, { gpus: [], firmware: "bios" }); // no NVRAM: libvirt undefines it after a failed start
    const plan = (host.binding as LibvirtHostBinding).prepPlan();
    expect(plan.recovery.commands).toEqual([recovery("ml")]);
    expect(plan.recovery.when).toMatch(/cannot undefine domain with nvram/);
    expect(plan.recovery.when).toMatch(/already exists/);
    const script = hostPrepScript(plan).split("\n");
    const lines = script.filter((l) => l.includes(recovery("ml")));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.startsWith("#")).toBe(true);
  });

  test("the report's constraints for every libvirt VM say what happens and what to run", () => {
    const stack = newKvmStack();
    const host = newKvmHost(stack);
    const constraints = host.backend.constraints.join("\n");
    expect(constraints).toMatch(/failed first start/);
    expect(constraints).toContain("virsh undefine --nvram <vm>");
  });
});

describe("cloud-init seed text", () => {
  test("host names and instance ids are YAML strings, also when they look like numbers or booleans", () => {
    const stack = newKvmStack();
    const vm = newKvmVm(stack, "0x1f", newKvmHost(stack), {
      gpus: ["0000:0b:00.0"],
      libvirt: { baseImage: "/img/base.qcow2", cloudInit: { hostName: "yes" } },
    });
    const { disk } = seedOf(synthesized(vm), "0x1f");
    // YAML 1.1, as cloud-init reads it, would make 0x1f the number 31 and yes the boolean true.
    expect(disk.user_data).toBe('#cloud-config\nhostname: "yes"\n');
    expect(disk.meta_data).toBe('instance-id: "0x1f"\nlocal-hostname: "yes"\n');
  });
});
