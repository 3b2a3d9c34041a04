/**
 * The passthrough manifest: what each stack's GPU hosts and VMs are, written at synth as
 * cdktf.out/stacks/<stack>/passthrough.json. It is the contract between synth and `gpu-passthrough report`: the
 * report reads this rather than reverse-engineering provider attributes, and it names each VM's Terraform address
 * so that plan changes can be matched to VMs.
 */
import { TerraformResource, TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { HostStep, VmBackendSetting, VmStep } from "../backends/backend";
import { PassthroughHost } from "../host";
import { mappedMib } from "../gpu/model";
import { MmioRequirement } from "../mmio";
import { singleton } from "../construct-ids";
import { StackFile } from "../stack-file";
import { GpuPassthroughVm } from "../vm";
import { MANIFEST_FILE, MANIFEST_VERSION } from "./manifest-file";

export { MANIFEST_FILE, MANIFEST_VERSION };

export interface ManifestGpu {
  /** Address of function 0, or the match criteria of a GPU found by lookup. */
  readonly gpu: string;
  readonly model: string;
  readonly modelId?: string;
  readonly role: "guest" | "host";
  /** Every PCI function passed with it. */
  readonly functions: readonly string[];
  readonly mappedMib: number;
  /** The VM that holds it; absent when free or kept by the host. */
  readonly vm?: string;
}

export interface ManifestHost {
  readonly name: string;
  readonly backend: string;
  /**
   * The backend's identity of the host across stacks (`HypervisorBackend.hostKey`): the report matches a GPU
   * that leaves a VM in one stack and joins a VM in another by it. Absent in manifests written before it existed.
   */
  readonly key?: string;
  readonly gpus: readonly ManifestGpu[];
  /** Steps outside Terraform, in order (DirectPath toggles, kernel arguments, vfio-pci, reboot). */
  readonly steps: readonly HostStep[];
  /** Files beside the manifest with the host's preparation (libvirt: prepare-host.sh, host-prep.json). */
  readonly files: readonly string[];
}

export interface ManifestVm {
  readonly name: string;
  readonly host: string;
  readonly backend: string;
  /** Terraform address of the VM resource, e.g. `libvirt_domain.ws-gaming_domain_1A2B3C4D`. */
  readonly address: string;
  /** Terraform addresses of the VM's other resources (disks, cloud-init). */
  readonly otherAddresses: readonly string[];
  readonly cpus: number;
  readonly coresPerSocket: number;
  readonly memoryMib: number;
  readonly memoryReservationMib: number;
  readonly firmware: string;
  readonly secureBoot: boolean;
  readonly mmio: MmioRequirement;
  readonly hideHypervisor: boolean;
  readonly hideHypervisorReason: string;
  readonly gpus: readonly { readonly gpu: string; readonly model: string; readonly functions: readonly string[] }[];
  /** PCI functions passed, in order. */
  readonly pciFunctions: readonly string[];
  /** What follows for this VM on its hypervisor. */
  readonly constraints: readonly string[];
  /** Settings only its hypervisor derives. Absent in manifests written before it existed. */
  readonly backendSettings?: readonly VmBackendSetting[];
  /** Steps outside Terraform this VM needs. Absent in manifests written before it existed. */
  readonly steps?: readonly VmStep[];
  /** Files beside the manifest for this VM (libvirt: domains/<vm>.xml). */
  readonly files: readonly string[];
}

export interface PassthroughManifest {
  readonly version: number;
  readonly stack: string;
  readonly hosts: readonly ManifestHost[];
  readonly vms: readonly ManifestVm[];
}

const MANIFEST_ID = "gpu-passthrough-manifest";

/** Makes sure the stack holding `scope` writes its manifest; called by every host. */
export function ensureManifest(scope: IConstruct): void {
  const stack = TerraformStack.of(scope);
  singleton(
    stack,
    MANIFEST_ID,
    StackFile,
    () =>
      new StackFile(stack, MANIFEST_ID, {
        path: MANIFEST_FILE,
        content: () => `${JSON.stringify(buildManifest(stack), null, 2)}\n`,
      }),
  );
}

export function buildManifest(stack: TerraformStack): PassthroughManifest {
  const all = stack.node.findAll();
  const hosts = all.filter((c): c is PassthroughHost => c instanceof PassthroughHost);
  const vms = all.filter((c): c is GpuPassthroughVm => c instanceof GpuPassthroughVm);
  // Indexes, so that the manifest of a 1000-VM stack costs a pass, not a pass per VM.
  const filesByScope = new Map<string, string[]>();
  for (const f of StackFile.of(stack)) {
    const scope = f.node.scope?.node.path ?? "";
    filesByScope.set(scope, [...(filesByScope.get(scope) ?? []), f.path]);
  }
  const filesUnder = (scope: IConstruct): string[] => filesByScope.get(scope.node.path) ?? [];
  const holder = new Map(vms.flatMap((vm) => vm.gpus.map((g) => [g, vm.vmName] as const)));
  const address = (r: { terraformResourceType: string; friendlyUniqueId: string }): string =>
    `${r.terraformResourceType}.${r.friendlyUniqueId}`;

  return {
    version: MANIFEST_VERSION,
    stack: stack.node.id,
    hosts: hosts.map((host) => ({
      name: host.hostName,
      backend: host.backend.kind,
      key: host.backend.hostKey(host.hostName),
      gpus: host.gpus.map((g) => ({
        gpu: g.label,
        model: g.model.name,
        modelId: g.model.id || undefined,
        role: g.role,
        functions: g.functions.map(String),
        mappedMib: mappedMib(g.model),
        vm: holder.get(g),
      })),
      steps: host.hostSteps(),
      files: filesUnder(host),
    })),
    vms: vms.map((vm) => ({
      name: vm.vmName,
      host: vm.host.hostName,
      backend: vm.host.backend.kind,
      address: address(vm.resource),
      otherAddresses: vm.node
        .findAll()
        .filter((c): c is TerraformResource => c instanceof TerraformResource && c !== vm.resource)
        .map(address),
      cpus: vm.cpus,
      coresPerSocket: vm.coresPerSocket,
      memoryMib: vm.memoryMib,
      memoryReservationMib: vm.memoryReservationMib,
      firmware: vm.firmware,
      secureBoot: vm.secureBoot,
      mmio: vm.mmio,
      hideHypervisor: vm.hideHypervisor,
      hideHypervisorReason: vm.hideHypervisorReason,
      gpus: vm.gpus.map((g) => ({ gpu: g.label, model: g.model.name, functions: g.functions.map(String) })),
      pciFunctions: vm.pciFunctions.map(String),
      constraints: vm.host.backend.constraints,
      backendSettings: vm.backendSettings,
      steps: vm.steps,
      files: filesUnder(vm),
    })),
  };
}
