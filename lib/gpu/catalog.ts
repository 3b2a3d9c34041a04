import { nextPowerOfTwo } from "../mmio";
import { GpuModel } from "./model";

/*
 * The GPU models the product knows.
 *
 * - vendorId/deviceId: PCI ids of function 0, lower case, as `lspci -nn` shows them. Unless an entry says otherwise
 *   they come from the PCI ID Repository (pci.ids, pciutils/pciids snapshot of 2026-08-22); NVIDIA ids of Turing and
 *   later also match NVIDIA's own supported-GPU table (README of NVIDIA/open-gpu-kernel-modules).
 * - barsMib: the memory BARs of function 0 in MiB, in BAR order (NVIDIA: BAR0 registers, BAR1 VRAM aperture, BAR3;
 *   AMD: BAR0 VRAM aperture, BAR2 doorbell, BAR5 registers). BARs smaller than 1 MiB are rounded UP to 1 MiB (AMD's
 *   256-512 KiB register BAR), so a total is never under what the card maps. The sum is the input of the MMIO sizing.
 * - functions: the other PCI functions of the same device (HDMI/DP audio, USB-C controllers) that travel with it.
 * - quirks: hideHypervisor for GeForce (error 43 before driver 465), resetBug for AMD GPUs that do not reset cleanly.
 *
 * Sources are on each entry (`sources`, shown by `gpu-passthrough catalog`). "nvidia-smi capture" is an `nvidia-smi -q`
 * output (BAR1 Memory Usage: Total) kept in a public GitHub repository; "lspci" is an `lspci -v` output in the named
 * issue. A figure no source confirmed is in `unverified` with the reason it is believed.
 * - vendorMmio: NVIDIA's table of GPUs requiring 64 GB or more of MMIO space (NVIDIA_MMIO_TABLE); the computed window is
 *   never below it (lib/mmio.ts).
 * - displayEnabledBarsMib: workstation boards whose BAR1 depends on their display mode (NVIDIA Display Mode Selector);
 *   barsMib is the displayless layout, the default because it is the larger one. resizableBarBarsMib: consumer boards
 *   with Resizable BAR on; barsMib is the layout with it off, the default (see lib/gpu/model.ts BoardConfig).
 *
 * Most data-center cards map their whole memory through a fixed BAR1 (the T4 is an exception: 256 MiB). Consumer cards
 * advertise a 256 MiB aperture that Resizable BAR can grow to the whole VRAM (see the consumer section); workstation
 * cards differ from model to model.
 */

/** NVIDIA's table of the MMIO window each GPU needs, where the catalog's `vendorMmio` figures come from. */
export const NVIDIA_MMIO_TABLE =
  "NVIDIA AI Enterprise release notes, GPUs requiring 64 GB or more of MMIO space: " +
  "https://docs.nvidia.com/ai-enterprise/release-5/latest/appendix/appendix-misc.html";
/** The pci.ids snapshot the names and ids were checked against (pciutils/pciids). */
export const PCI_IDS_SNAPSHOT = "2026-08-22";

const nvidiaTable = (sizeGb: number) => ({ sizeGb, source: NVIDIA_MMIO_TABLE });
const gh = (repoAndNumber: string) => {
  const [repo, n] = repoAndNumber.split("#");
  return `https://github.com/${repo}/issues/${n}`;
};
/** nvidia-smi -q captures of real machines (thamada/nvidia-smi, a simulator's fixtures), at the commit read. */
const smi = (file: string) =>
  `https://github.com/thamada/nvidia-smi/blob/c4c8a463a61e4ac67e3d7956da104b302760a498/gls/${file}`;
const NVIDIA_README = "https://github.com/NVIDIA/open-gpu-kernel-modules (README, supported GPUs)";
/** AMD's BAR layout: BAR0-1 VRAM, BAR2-3 doorbell, BAR5 32-bit register BAR (ROCm "Troubleshoot BAR access limitation"). */
const AMD_BARS = "https://rocm.docs.amd.com/en/latest/how-to/Bar-Memory.html";
const VENDOR_RESET = "https://github.com/gnif/vendor-reset/blob/master/src/device-db.h";
const REBAR_RULE =
  "Resizable BAR sizes BAR1 (AMD: BAR0) to the VRAM rounded up to a power of two (an RTX 4060 Ti 16GB with it on " +
  `shows BAR1 16384 MiB: ${smi("RTX4060Ti_smi.py")}); no capture of this card with it on`;

/** Every model the product knows, in a stable order (vendor, then segment, then name). */
export const GPU_CATALOG: readonly GpuModel[] = [
  // ---------------------------------------------------------------- NVIDIA data center
  {
    id: "nvidia-a2",
    name: "NVIDIA A2",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "25b6",
    pciName: "GA107GL [A2 / A16]",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
    // 25b6 is shared with the A16 (subsystem 157e = A2).
    sources: [NVIDIA_README],
    unverified: "BAR1 16 GiB by analogy with the A16 (same GA107 chip, same device id, 16 GiB BAR1 per GPU)",
  },
  {
    id: "nvidia-a10",
    name: "NVIDIA A10",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2236",
    pciName: "GA102GL [A10]",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: ["nvidia-smi capture of an A10 in pass-through, BAR1 32768 MiB (driver 550.90.12)", NVIDIA_MMIO_TABLE],
  },
  {
    // One of the four GPUs of the board (each its own PCI device, 25b6 subsystem 14a9); a VM given the whole board
    // maps this four times.
    id: "nvidia-a16",
    name: "NVIDIA A16 (one GPU of four)",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "25b6",
    pciName: "GA107GL [A2 / A16]",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
    sources: ["nvidia-smi capture of an A16, BAR1 16384 MiB (Nutanix AHV vGPU write-up)"],
  },
  {
    id: "nvidia-a30",
    name: "NVIDIA A30",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20b7",
    pciName: "GA100GL [A30 PCIe]",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: [NVIDIA_MMIO_TABLE],
    unverified:
      "BAR1 32 GiB (24 GB HBM2 behind the next power of two); no capture found. NVIDIA's 64 GB agrees with it: 32 GiB plus BAR0/BAR3 rounds up to 64",
  },
  {
    id: "nvidia-a40",
    name: "NVIDIA A40",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2235",
    pciName: "GA102GL [A40]",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [`${smi("A40x10_smi.py")} (ten A40s: BAR1 65536 MiB)`, NVIDIA_MMIO_TABLE],
  },
  {
    // 20f1 is the current id (NVIDIA README); early boards were 20b1.
    id: "nvidia-a100-40gb",
    name: "NVIDIA A100 40GB PCIe",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20f1",
    pciName: "GA100 [A100 PCIe 40GB]",
    otherDeviceIds: [{ deviceId: "20b1", pciName: "GA100 [A100 PCIe 40GB]" }],
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [
      `${gh("kata-containers/kata-containers#4358")} (kernel log of a 20f1: BARs 16M/64G/32M)`,
      `${gh("open-mpi/hwloc#653")} (A100 SXM4 40GB: the same 64G BAR1)`,
      NVIDIA_README,
      NVIDIA_MMIO_TABLE,
    ],
  },
  {
    id: "nvidia-a100-80gb",
    name: "NVIDIA A100 80GB PCIe",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20b5",
    pciName: "GA100 [A100 PCIe 80GB]",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(256),
    sources: [
      "qemu-devel thread: lspci 16M/128G/32M of an A100 SXM4 80GB (20b2)",
      `${smi("A100SXMx4_smi.py")} (four A100-SXM4-80GB, 20b2: BAR1 131072 MiB)`,
      NVIDIA_MMIO_TABLE,
    ],
    unverified: "BAR1 128 GiB seen on the SXM4 80GB, not on this PCIe board (same GA100, same 80 GB)",
  },
  {
    id: "nvidia-h20",
    name: "NVIDIA H20 96GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2329",
    pciName: "GH100 [H20]",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(256),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/2329"],
    unverified: "BAR1 128 GiB (96 GB behind the next power of two, as the H100's 80 GB); NVIDIA's 256 GB agrees",
  },
  {
    id: "nvidia-h20-141gb",
    name: "NVIDIA H20 141GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "232c",
    pciName: "GH100 [H20 HBM3e]",
    barsMib: [16, 262144, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(512),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/232c"],
    unverified:
      "BAR1 256 GiB (141 GB behind the next power of two); NVIDIA's 512 GB agrees. That 232c (pci.ids 'H20 HBM3e') is the 141 GB board is inferred from its memory type",
  },
  {
    id: "nvidia-h100-nvl",
    name: "NVIDIA H100 NVL 94GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2321",
    pciName: "GH100 [H100L 94GB]",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(256),
    sources: [`${smi("H100NVLx2_smi.py")} (two H100 NVL, 2321: BAR1 131072 MiB)`, NVIDIA_README, NVIDIA_MMIO_TABLE],
  },
  {
    // BAR0 is a 64-bit BAR on Hopper, so the BARs are regions 0, 2, 4.
    id: "nvidia-h100-80gb",
    name: "NVIDIA H100 PCIe 80GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2331",
    pciName: "GH100 [H100 PCIe]",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(256),
    sources: [
      "nvidia-smi BAR1 128 GiB (shared/reference/vsphere.md)",
      `${gh("fastfetch-cli/fastfetch#1658")} (Hopper lspci 16M/128G/32M)`,
      `${smi("H100SXMx8_smi.py")} (eight H100 80GB HBM3 SXM: BAR1 131072 MiB)`,
      "Broadcom KB 323402 (one H100 80 GB: 256 GB): https://knowledge.broadcom.com/external/article/323402",
      NVIDIA_MMIO_TABLE,
    ],
  },
  {
    // The H200 SXM (2335) is the same GPU on an HGX board.
    id: "nvidia-h200",
    name: "NVIDIA H200 NVL 141GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "233b",
    pciName: "GH100 [H200 NVL]",
    otherDeviceIds: [{ deviceId: "2335", pciName: "GH100 [H200 SXM 141GB]" }],
    barsMib: [16, 262144, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(512),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/233b"],
    unverified: "BAR1 256 GiB (141 GB behind the next power of two); NVIDIA's 512 GB for every H200 agrees",
  },
  {
    // The H800 NVL (233a, 94 GB) maps the same 128 GiB BAR1 as the H100 NVL.
    id: "nvidia-h800",
    name: "NVIDIA H800 PCIe 80GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2322",
    pciName: "GH100 [H800 PCIe]",
    otherDeviceIds: [{ deviceId: "233a", pciName: "GH100 [H800L 94GB]" }],
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(256),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/2322"],
    unverified: "BAR1 128 GiB as on the H100 PCIe 80GB (same GH100); NVIDIA's 256 GB for every H800 agrees",
  },
  {
    id: "nvidia-l2",
    name: "NVIDIA L2",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "27b6",
    pciName: "AD104GL [L2]",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/27b6"],
    unverified: "BAR1 32 GiB as on the L4 (same AD104, 24 GB); NVIDIA's 64 GB agrees",
  },
  {
    id: "nvidia-l4",
    name: "NVIDIA L4",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "27b8",
    pciName: "AD104GL [L4]",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: [`${smi("L4_smi.py")} (an L4: BAR1 32768 MiB)`, NVIDIA_MMIO_TABLE],
  },
  {
    id: "nvidia-l20",
    name: "NVIDIA L20",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "26b7",
    pciName: "AD102GL [L20]",
    otherDeviceIds: [{ deviceId: "26ba", pciName: "AD102GL [L20]" }],
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/26b7"],
    unverified: "BAR1 64 GiB as on the L40 (same AD102, 48 GB); NVIDIA's 128 GB agrees",
  },
  {
    id: "nvidia-l40",
    name: "NVIDIA L40",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "26b5",
    pciName: "AD102GL [L40]",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [NVIDIA_MMIO_TABLE],
    unverified: "BAR1 64 GiB as on the A40 (same 48 GB, same board family); no capture found. NVIDIA's 128 GB agrees",
  },
  {
    // Not in NVIDIA's MMIO table (the L40 and L20 are): no vendor figure to hold the window to; the BAR sum gives 128.
    id: "nvidia-l40s",
    name: "NVIDIA L40S",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "26b9",
    pciName: "AD102GL [L40S]",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
    sources: [`${smi("L40S_smi.py")} (an L40S: BAR1 65536 MiB)`, NVIDIA_README],
  },
  {
    id: "nvidia-t4",
    name: "NVIDIA T4",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1eb8",
    pciName: "TU104GL [Tesla T4]",
    barsMib: [16, 256, 32],
    functions: [],
    quirks: {},
    sources: [`${gh("cloud-hypervisor/cloud-hypervisor#434")} (lspci of a T4: 16M/256M/32M; fits below 4 GiB)`],
  },
  {
    id: "nvidia-v100-16gb",
    name: "NVIDIA V100 PCIe 16GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1db4",
    pciName: "GV100GL [Tesla V100 PCIe 16GB]",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
    // The BAR sum gives 32 GB; NVIDIA lists every V100 at 64 GB, which governs.
    vendorMmio: nvidiaTable(64),
    sources: ["nvidia-smi capture of a Tesla V100-PCIE-16GB (1DB4, pass-through), BAR1 16384 MiB", NVIDIA_MMIO_TABLE],
  },
  {
    id: "nvidia-v100-32gb",
    name: "NVIDIA V100 PCIe 32GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1db6",
    pciName: "GV100GL [Tesla V100 PCIe 32GB]",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: ["nvidia-smi capture of eight Tesla V100-PCIE-32GB, BAR1 32768 MiB", NVIDIA_MMIO_TABLE],
  },

  // ---------------------------------------------------------------- NVIDIA workstation
  // The professional driver runs under a hypervisor, so no hideHypervisor. These cards have DisplayPort audio at .1
  // (the same audio ids as the GeForce of the same chip). Boards with display modes (NVIDIA Display Mode Selector)
  // map 256 MiB with their displays enabled and their whole memory displayless (compute, vGPU): barsMib is the
  // displayless layout (the default), displayEnabledBarsMib the other.
  {
    id: "nvidia-rtx-5000-ada",
    name: "NVIDIA RTX 5000 Ada Generation",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "26b2",
    pciName: "AD102GL [RTX 5000 Ada Generation]",
    barsMib: [16, 32768, 32],
    displayEnabledBarsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22ba" }],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: [NVIDIA_MMIO_TABLE, "https://pci-ids.ucw.cz/read/PC/10de/26b2"],
    unverified:
      "displayless BAR1 32 GiB (32 GB, and NVIDIA's 64 GB agrees); 256 MiB with displays enabled as on the RTX 6000 Ada",
  },
  {
    id: "nvidia-rtx-6000-ada",
    name: "NVIDIA RTX 6000 Ada Generation",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "26b1",
    pciName: "AD102GL [RTX 6000 Ada Generation]",
    barsMib: [16, 65536, 32],
    displayEnabledBarsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22ba" }],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [`${smi("RTX6000Ada_x8_smi.py")} (eight RTX 6000 Ada, 26b1, as shipped: BAR1 256 MiB)`, NVIDIA_MMIO_TABLE],
    unverified:
      "displayless BAR1 64 GiB (48 GB as the A6000, whose displayless captures show 64 GiB); NVIDIA's 128 GB agrees",
  },
  {
    // Not a Display Mode Selector board: one layout.
    id: "nvidia-rtx-a4000",
    name: "NVIDIA RTX A4000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "24b0",
    pciName: "GA104GL [RTX A4000]",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228b" }],
    quirks: {},
    sources: [
      `${gh("geerlingguy/raspberry-pi-pcie-devices#692")} (lspci 16M/256M/32M)`,
      `${gh("NVIDIA/gdrcopy#301")} (pins at most ~220 MB: a 256 MiB BAR1)`,
    ],
  },
  {
    id: "nvidia-rtx-a5000",
    name: "NVIDIA RTX A5000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "2231",
    pciName: "GA102GL [RTX A5000]",
    barsMib: [16, 32768, 32],
    displayEnabledBarsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: {},
    vendorMmio: nvidiaTable(64),
    sources: [NVIDIA_MMIO_TABLE],
    unverified:
      "displayless BAR1 32 GiB (24 GB behind the next power of two; NVIDIA's 64 GB agrees); 256 MiB with displays enabled as the A4000",
  },
  {
    id: "nvidia-rtx-a6000",
    name: "NVIDIA RTX A6000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "2230",
    pciName: "GA102GL [RTX A6000]",
    barsMib: [16, 65536, 32],
    displayEnabledBarsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: {},
    vendorMmio: nvidiaTable(128),
    sources: [
      "https://github.com/ObrienlabsDev/machine-learning/blob/main/gpus.md (a desktop A6000 under Windows: BAR1 65536 MiB)",
      "nvidia-smi capture of a 9-GPU A6000 server (subsystem 1459): BAR1 65536 MiB",
      NVIDIA_MMIO_TABLE,
    ],
    unverified:
      "BAR1 256 MiB with displays enabled: Display Mode Selector's display-enabled layout, no capture of it. The desktop capture shows 64 GiB on a workstation, so declare display-enabled only when lspci shows the 256M BAR",
  },
  {
    // 2bb4 is the Max-Q Workstation Edition (same GB202, same 96 GB).
    id: "nvidia-rtx-pro-6000-blackwell",
    name: "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "2bb1",
    pciName: "GB202GL [RTX PRO 6000 Blackwell Workstation Edition]",
    otherDeviceIds: [{ deviceId: "2bb4", pciName: "GB202GL [RTX PRO 6000 Blackwell Max-Q Workstation Edition]" }],
    barsMib: [64, 131072, 32],
    displayEnabledBarsMib: [64, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22e8" }],
    quirks: {},
    sources: ["https://pci-ids.ucw.cz/read/PC/10de/2bb1"],
    unverified:
      "displayless BAR1 128 GiB (96 GB behind the next power of two), 256 MiB with displays enabled; BAR0 64 MiB taken for Blackwell (larger than 16 MiB errs on the safe side); not yet in NVIDIA's MMIO table",
  },

  // ---------------------------------------------------------------- NVIDIA consumer
  // Consumer entries describe the card with Resizable BAR OFF, the usual setting for passthrough: BAR1 is the 256 MiB
  // aperture ("rather than through 256 MB apertures", NVIDIA's ReBAR rollout as reported by TechPowerUp), BAR0 16 MiB,
  // BAR3 32 MiB. Seen per generation in lspci: Pascal GTX 1080 (geerlingguy/raspberry-pi-pcie-devices#123), Turing
  // TU102 (same repo #480), Ampere GA104/GA106 (#692, #509), Ada RTX 4090 (#504). With ReBAR on (resizableBar: true),
  // BAR1 grows to the whole VRAM rounded up to a power of two (resizableBarBarsMib). Pascal and Turing have no ReBAR.
  // GeForce drivers before 465 stop with error 43 under a hypervisor, so the hypervisor is hidden.
  {
    id: "nvidia-gtx-1080-ti",
    name: "NVIDIA GeForce GTX 1080 Ti",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "1b06",
    pciName: "GP102 [GeForce GTX 1080 Ti]",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "10ef" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#123")} (Pascal lspci 16M/256M/32M)`],
  },
  {
    // 1e07 "Rev. A" (Founders Edition and factory-overclocked boards); the non-A chip is 1e04. Turing adds USB 3.1
    // xHCI 1ad6 at .2 and the USB Type-C UCSI controller 1ad7 at .3.
    id: "nvidia-rtx-2080-ti",
    name: "NVIDIA GeForce RTX 2080 Ti",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "1e07",
    pciName: "TU102 [GeForce RTX 2080 Ti Rev. A]",
    otherDeviceIds: [{ deviceId: "1e04", pciName: "TU102 [GeForce RTX 2080 Ti]" }],
    barsMib: [16, 256, 32],
    functions: [
      { fn: 1, kind: "audio", deviceId: "10f7" },
      { fn: 2, kind: "usb", deviceId: "1ad6" },
      { fn: 3, kind: "serial-bus", deviceId: "1ad7" },
    ],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#480")} (TU102 lspci 16M/256M/32M)`],
  },
  {
    // GA104-based 3060s (2487) carry GA104 audio 228b, so they are not listed here.
    id: "nvidia-rtx-3060",
    name: "NVIDIA GeForce RTX 3060",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2503",
    pciName: "GA106 [GeForce RTX 3060]",
    otherDeviceIds: [
      { deviceId: "2504", pciName: "GA106 [GeForce RTX 3060 Lite Hash Rate]" },
      { deviceId: "2544", pciName: "GA106 [GeForce RTX 3060]" },
    ],
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 16384, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228e" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#509")} (GA106 lspci 16M/256M/32M)`],
    unverified: `Resizable BAR layout (12 GB: BAR1 16 GiB): ${REBAR_RULE}`,
  },
  {
    id: "nvidia-rtx-3070",
    name: "NVIDIA GeForce RTX 3070",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2484",
    pciName: "GA104 [GeForce RTX 3070]",
    otherDeviceIds: [{ deviceId: "2488", pciName: "GA104 [GeForce RTX 3070 Lite Hash Rate]" }],
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 8192, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228b" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#692")} (GA104 lspci 16M/256M/32M)`],
    unverified: `Resizable BAR layout (8 GB: BAR1 8 GiB): ${REBAR_RULE}`,
  },
  {
    id: "nvidia-rtx-3080",
    name: "NVIDIA GeForce RTX 3080",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2206",
    pciName: "GA102 [GeForce RTX 3080]",
    otherDeviceIds: [
      { deviceId: "2216", pciName: "GA102 [GeForce RTX 3080 Lite Hash Rate]" },
      { deviceId: "220a", pciName: "GA102 [GeForce RTX 3080 12GB]" },
    ],
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 16384, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#692")} (Ampere lspci 16M/256M/32M)`],
    unverified: `Resizable BAR layout (10 or 12 GB: BAR1 16 GiB): ${REBAR_RULE}`,
  },
  {
    id: "nvidia-rtx-3090",
    name: "NVIDIA GeForce RTX 3090",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2204",
    pciName: "GA102 [GeForce RTX 3090]",
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 32768, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: { hideHypervisor: true },
    sources: [
      `${gh("geerlingguy/raspberry-pi-pcie-devices#692")} (Ampere lspci 16M/256M/32M)`,
      `${smi("RTX3090_smi.py")} (two RTX 3090: BAR1 256 MiB)`,
    ],
    unverified: `Resizable BAR layout (24 GB: BAR1 32 GiB): ${REBAR_RULE}`,
  },
  {
    // A later AD103-based 4070 (2709) carries AD103 audio 22bb, so it is not listed here.
    id: "nvidia-rtx-4070",
    name: "NVIDIA GeForce RTX 4070",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2786",
    pciName: "AD104 [GeForce RTX 4070]",
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 16384, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22bc" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#504")} (Ada lspci 16M/256M/32M)`],
    unverified: `Resizable BAR layout (12 GB: BAR1 16 GiB): ${REBAR_RULE}`,
  },
  {
    id: "nvidia-rtx-4080",
    name: "NVIDIA GeForce RTX 4080",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2704",
    pciName: "AD103 [GeForce RTX 4080]",
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 16384, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22bb" }],
    quirks: { hideHypervisor: true },
    sources: [`${gh("geerlingguy/raspberry-pi-pcie-devices#504")} (Ada lspci 16M/256M/32M)`],
    unverified: `Resizable BAR layout (16 GB: BAR1 16 GiB): ${REBAR_RULE}`,
  },
  {
    id: "nvidia-rtx-4090",
    name: "NVIDIA GeForce RTX 4090",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2684",
    pciName: "AD102 [GeForce RTX 4090]",
    barsMib: [16, 256, 32],
    resizableBarBarsMib: [16, 32768, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22ba" }],
    quirks: { hideHypervisor: true },
    sources: [
      `${gh("geerlingguy/raspberry-pi-pcie-devices#504")} (lspci of an RTX 4090: 16M/256M/32M)`,
      `${smi("RTX4090_smi.py")} (eight RTX 4090: BAR1 256 MiB)`,
    ],
    unverified: `Resizable BAR layout (24 GB: BAR1 32 GiB): ${REBAR_RULE}`,
  },
  ...blackwellGeForce(),

  // ---------------------------------------------------------------- AMD data center
  // Instinct cards have no display outputs, hence no audio function. They sit behind an AMD PCIe switch on the board;
  // the endpoint below is what is passed.
  {
    id: "amd-mi100",
    name: "AMD Instinct MI100",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "738c",
    pciName: "Arcturus GL-XL [Instinct MI100]",
    otherDeviceIds: [{ deviceId: "738e", pciName: "Arcturus GL-XL [Instinct MI100]" }],
    barsMib: [32768, 2, 1],
    functions: [],
    quirks: { resetBug: true },
    sources: [AMD_BARS, `${VENDOR_RESET} (handles 738c with the Vega 20 reset)`],
    unverified:
      "BAR0 32 GiB (Instinct cards expose their whole HBM through BAR0), 2 MiB doorbell BAR2, 512 KiB register BAR5 rounded up to 1 MiB, by analogy with the GCN cards",
  },
  {
    id: "amd-mi210",
    name: "AMD Instinct MI210",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "740f",
    pciName: "Aldebaran/MI200 [Instinct MI210]",
    barsMib: [65536, 2, 1],
    functions: [],
    quirks: {},
    sources: [AMD_BARS, "https://pci-ids.ucw.cz/read/PC/1002/740f"],
    unverified:
      "BAR0 64 GiB for 64 GB HBM2e, doorbell 2 MiB, register BAR rounded up to 1 MiB, by analogy with the MI100",
  },
  {
    // 74b5 is the MI300X's SR-IOV virtual function, not a board: not listed. The MI300A (74a0) is an APU.
    id: "amd-mi300x",
    name: "AMD Instinct MI300X",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "74a1",
    pciName: "Aqua Vanjaram [Instinct MI300X]",
    barsMib: [262144, 2, 1],
    functions: [],
    quirks: {},
    sources: [AMD_BARS, "https://pci-ids.ucw.cz/read/PC/1002/74a1"],
    unverified:
      "BAR0 256 GiB for 192 GB HBM3 (the whole memory behind the next power of two, as the MI100/MI210 entries)",
  },
  {
    id: "amd-mi325x",
    name: "AMD Instinct MI325X",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "74a5",
    pciName: "Aqua Vanjaram [Instinct MI325X]",
    barsMib: [262144, 2, 1],
    functions: [],
    quirks: {},
    sources: [AMD_BARS, "https://pci-ids.ucw.cz/read/PC/1002/74a5"],
    unverified: "BAR0 256 GiB for 256 GB HBM3E, as the MI300X",
  },

  // ---------------------------------------------------------------- AMD consumer
  // Resizable BAR OFF, as for NVIDIA: BAR0 is the 256 MiB VRAM aperture, BAR2 the 2 MiB doorbell, BAR5 the register
  // BAR (256 KiB on Polaris, 512 KiB on Vega and Navi 10, 1 MiB on Navi 21) rounded UP to 1 MiB here. HDMI/DP audio
  // is at .1. Navi cards put an AMD PCIe switch (1002:1478/1479) in front of the GPU; the endpoint is what is passed.
  // resetBug follows gnif/vendor-reset (src/device-db.h): Polaris, Vega 10 and Navi 10 need its device-specific reset.
  // With Smart Access Memory / ReBAR on (resizableBar: true) BAR0 maps the whole VRAM rounded up to a power of two.
  {
    id: "amd-rx-580",
    name: "AMD Radeon RX 580",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "67df",
    pciName: "Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "aaf0" }],
    quirks: { resetBug: true },
    sources: [AMD_BARS, `${gh("HeyMeco/Rockchip-pcie-devices#5")} (Polaris lspci 256M/2M/256K)`, VENDOR_RESET],
  },
  {
    id: "amd-rx-5700-xt",
    name: "AMD Radeon RX 5700 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "731f",
    pciName: "Navi 10 [Radeon RX 5600 OEM/5600 XT / 5700/5700 XT]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [8192, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab38" }],
    quirks: { resetBug: true },
    sources: [AMD_BARS, VENDOR_RESET, `${gh("QubesOS/qubes-issues#4321")} (Navi 21 layout)`],
    unverified: `BARs 256M/2M/512K for this card, as Navi 21 and Navi 44 lspci show; Resizable BAR layout (8 GB): ${REBAR_RULE}`,
  },
  {
    // Reference boards with a USB-C port add USB 73a6 at .2 and 73a4 at .3 (each in its own IOMMU group); left out
    // because partner boards without the port lack them. Reset: vendor-reset's maintainer says the 6000 series resets
    // fine (gnif/vendor-reset#35); some users still report a card that will not restart (#53, #65).
    id: "amd-rx-6800-xt",
    name: "AMD Radeon RX 6800 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "73bf",
    pciName: "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [16384, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab28" }],
    quirks: {},
    sources: [
      AMD_BARS,
      `${gh("QubesOS/qubes-issues#4321")} (lspci 256M/2M/1M with ReBAR off)`,
      gh("gnif/vendor-reset#35"),
    ],
    unverified: `Resizable BAR layout (16 GB): ${REBAR_RULE}`,
  },
  {
    // The later XTXH 6900 XT is 73af.
    id: "amd-rx-6900-xt",
    name: "AMD Radeon RX 6900 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "73bf",
    pciName: "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [16384, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab28" }],
    quirks: {},
    sources: [AMD_BARS, `${gh("QubesOS/qubes-issues#4321")} (Navi 21 lspci 256M/2M/1M)`],
    unverified: `Resizable BAR layout (16 GB): ${REBAR_RULE}`,
  },
  {
    // pci.ids names no Navi 32 audio device: the function is listed without an id (vfio-pci.ids gets none for it).
    id: "amd-rx-7800-xt",
    name: "AMD Radeon RX 7800 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "747e",
    pciName: "Navi 32 [Radeon RX 7700 XT / 7800 XT]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [16384, 2, 1],
    functions: [{ fn: 1, kind: "audio" }],
    quirks: {},
    sources: [AMD_BARS, "https://pci-ids.ucw.cz/read/PC/1002/747e"],
    unverified: `BARs 256M/2M/1M as Navi 31 (geerlingguy #503); reset behaviour unknown; Resizable BAR layout (16 GB): ${REBAR_RULE}`,
  },
  {
    id: "amd-rx-7900-xtx",
    name: "AMD Radeon RX 7900 XTX",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "744c",
    pciName: "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [32768, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab30" }],
    quirks: { resetBug: true },
    sources: [
      AMD_BARS,
      `${gh("geerlingguy/raspberry-pi-pcie-devices#503")} (lspci BAR0 256M, BAR2 2M)`,
      `${gh("gnif/vendor-reset#65")}, ${gh("gnif/vendor-reset#97")} (reset bug reports on Navi 31)`,
    ],
    unverified: `register BAR taken as 1 MiB (rounded up); Resizable BAR layout (24 GB: BAR0 32 GiB): ${REBAR_RULE}`,
  },
  {
    // pci.ids names no Navi 44 audio device: the function is listed without an id.
    id: "amd-rx-9060-xt",
    name: "AMD Radeon RX 9060 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "7590",
    pciName: "Navi 44 [Radeon RX 9050 / 9060 XT]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [16384, 2, 1],
    functions: [{ fn: 1, kind: "audio" }],
    quirks: {},
    sources: [AMD_BARS, `${gh("geerlingguy/raspberry-pi-pcie-devices#741")} (Navi 44 lspci 256M/2M)`],
    unverified: `reset behaviour unknown; Resizable BAR layout (16 GB): ${REBAR_RULE}`,
  },
  {
    id: "amd-rx-9070-xt",
    name: "AMD Radeon RX 9070 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "7550",
    pciName: "Navi 48 [Radeon RX 9070/9070 XT/9070 GRE]",
    barsMib: [256, 2, 1],
    resizableBarBarsMib: [16384, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab40" }],
    quirks: {},
    sources: [AMD_BARS, "https://pci-ids.ucw.cz/read/PC/1002/7550"],
    unverified: `BARs 256M/2M/1M as Navi 44 (RDNA 4); reset behaviour unknown; Resizable BAR layout (16 GB): ${REBAR_RULE}`,
  },
  {
    id: "amd-rx-vega-64",
    name: "AMD Radeon RX Vega 64",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "687f",
    pciName: "Vega 10 XL/XT [Radeon RX Vega 56/64]",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "aaf8" }],
    quirks: { resetBug: true },
    sources: [
      AMD_BARS,
      `${gh("geerlingguy/raspberry-pi-pcie-devices#712")} (kernel log of an RX Vega 56: BAR0 256M, BAR2 2M)`,
      `${gh("ROCm/legacy-rocm-build#787")} (register BAR 512K on Vega 10)`,
      VENDOR_RESET,
    ],
  },

  // ---------------------------------------------------------------- Intel consumer
  // BAR0 16 MiB registers, BAR2 the VRAM aperture (256 MiB with ReBAR off). The HDMI audio (8086:4f90 on DG2) is a
  // separate device on its own bus behind the card's PCIe switch, not a function: pass it as a second device.
  {
    id: "intel-arc-a770",
    name: "Intel Arc A770",
    vendor: "intel",
    segment: "consumer",
    vendorId: "8086",
    deviceId: "56a0",
    pciName: "DG2 [Arc A770]",
    barsMib: [16, 256],
    resizableBarBarsMib: [16, 16384],
    functions: [],
    quirks: {},
    sources: [`${gh("ProjectPhysX/OpenCL-Benchmark#19")} (lspci BAR0 16M, BAR2 16G with ReBAR on)`],
    unverified: "BAR2 256 MiB with ReBAR off, as an lspci of a DG2 card under the xe driver shows",
  },
  {
    id: "intel-arc-b570",
    name: "Intel Arc B570",
    vendor: "intel",
    segment: "consumer",
    vendorId: "8086",
    deviceId: "e20c",
    pciName: "Battlemage G21 [Arc B570]",
    barsMib: [16, 256],
    resizableBarBarsMib: [16, 16384],
    functions: [],
    quirks: {},
    sources: ["https://pci-ids.ucw.cz/read/PC/8086/e20c"],
    unverified: `BAR layout as the A770 (DG2); Resizable BAR layout (10 GB: BAR2 16 GiB): ${REBAR_RULE}`,
  },
  {
    id: "intel-arc-b580",
    name: "Intel Arc B580",
    vendor: "intel",
    segment: "consumer",
    vendorId: "8086",
    deviceId: "e20b",
    pciName: "Battlemage G21 [Arc B580]",
    barsMib: [16, 256],
    resizableBarBarsMib: [16, 16384],
    functions: [],
    quirks: {},
    sources: ["https://pci-ids.ucw.cz/read/PC/8086/e20b"],
    unverified: `BAR layout as the A770 (DG2); Resizable BAR layout (12 GB: BAR2 16 GiB): ${REBAR_RULE}`,
  },
];

/**
 * GeForce RTX 50 (Blackwell): one shape, the chip's audio function and its memory. BAR0 is taken as 64 MiB
 * (Blackwell's register BAR is larger than Ada's 16 MiB; the larger figure errs on the safe side).
 */
function blackwellGeForce(): GpuModel[] {
  const cards: [string, string, string, string, string, number][] = [
    ["nvidia-rtx-5060-ti", "NVIDIA GeForce RTX 5060 Ti", "2d04", "GB206 [GeForce RTX 5060 Ti]", "22eb", 16],
    ["nvidia-rtx-5070", "NVIDIA GeForce RTX 5070", "2f04", "GB205 [GeForce RTX 5070]", "2f80", 12],
    ["nvidia-rtx-5070-ti", "NVIDIA GeForce RTX 5070 Ti", "2c05", "GB203 [GeForce RTX 5070 Ti]", "22e9", 16],
    ["nvidia-rtx-5080", "NVIDIA GeForce RTX 5080", "2c02", "GB203 [GeForce RTX 5080]", "22e9", 16],
    ["nvidia-rtx-5090", "NVIDIA GeForce RTX 5090", "2b85", "GB202 [GeForce RTX 5090]", "22e8", 32],
  ];
  return cards.map(([id, name, deviceId, pciName, audio, vramGb]) => ({
    id,
    name,
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId,
    pciName,
    barsMib: [64, 256, 32],
    resizableBarBarsMib: [64, nextPowerOfTwo(vramGb) * 1024, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: audio }],
    quirks: { hideHypervisor: true },
    sources: [`https://pci-ids.ucw.cz/read/PC/10de/${deviceId}`],
    unverified:
      `BARs 64M/256M/32M with ReBAR off as earlier GeForce (BAR0 enlarged for Blackwell); Resizable BAR layout ` +
      `(${vramGb} GB): ${REBAR_RULE}`,
  }));
}

/** The PCI ID Repository page of a device id, for reports and the catalog command. */
export function pciIdsUrl(vendorId: string, deviceId: string): string {
  return `https://pci-ids.ucw.cz/read/PC/${vendorId}/${deviceId}`;
}

let byId: Map<string, GpuModel> | undefined;

/** The catalog entry with this id (case-insensitive), or undefined. */
export function catalogModel(id: string): GpuModel | undefined {
  byId ??= new Map(GPU_CATALOG.map((model) => [model.id, model]));
  return byId.get(id.toLowerCase());
}

/** All catalog ids, sorted, for error messages that list the known models. */
export function catalogModelIds(): string[] {
  return GPU_CATALOG.map((model) => model.id).sort();
}
