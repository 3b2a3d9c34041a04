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
 * Sources are named on each entry. "nvidia-smi capture" is an `nvidia-smi -q` output (BAR1 Memory Usage: Total) kept
 * in a public GitHub repository; "lspci" is an `lspci -v` output in the named issue. A figure no source confirmed is
 * marked `unverified:` with the reason it is believed.
 *
 * Most data-center cards map their whole memory through a fixed BAR1 (the T4 is an exception: 256 MiB). Consumer cards
 * advertise a 256 MiB aperture that Resizable BAR can grow to the whole VRAM (see the consumer section); workstation
 * cards differ from model to model.
 */

/** Every model the product knows, in a stable order (vendor, then segment, then name). */
export const GPU_CATALOG: readonly GpuModel[] = [
  // ---------------------------------------------------------------- NVIDIA data center
  {
    // 25b6 is shared with the A16 (subsystem 157e = A2): NVIDIA open-gpu-kernel-modules README.
    // unverified: BAR1 16 GiB by analogy with the A16 (same GA107 chip, same device id, 16 GiB BAR1 per GPU).
    id: "nvidia-a2",
    name: "NVIDIA A2",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "25b6",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
  },
  {
    // BAR1 32768 MiB: nvidia-smi capture of an A10 in pass-through (driver 550.90.12).
    id: "nvidia-a10",
    name: "NVIDIA A10",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2236",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
  },
  {
    // One of the four GPUs of the board (each is its own PCI device, 25b6 subsystem 14a9); a VM given the whole board
    // maps this four times. BAR1 16384 MiB: nvidia-smi capture of an A16 (Nutanix AHV vGPU write-up).
    id: "nvidia-a16",
    name: "NVIDIA A16 (one GPU of four)",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "25b6",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
  },
  {
    // unverified: BAR1 32 GiB (24 GB HBM2 behind the next power of two); no capture of an A30 BAR was found.
    id: "nvidia-a30",
    name: "NVIDIA A30",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20b7",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
  },
  {
    // BAR1 65536 MiB: nvidia-smi capture of ten A40s (driver 550.127.05).
    id: "nvidia-a40",
    name: "NVIDIA A40",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2235",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
  },
  {
    // 20f1 is the current id (NVIDIA README); early boards were 20b1. BARs 16M/64G/32M: kernel log of a 20f1 in
    // kata-containers/kata-containers#4358; the SXM4 40GB shows the same 64G BAR1 (open-mpi/hwloc#653).
    id: "nvidia-a100-40gb",
    name: "NVIDIA A100 40GB PCIe",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20f1",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
  },
  {
    // unverified for the PCIe board: BAR1 128 GiB as on the A100 SXM4 80GB (lspci 16M/128G/32M of 20b2 in a
    // qemu-devel thread; nvidia-smi capture BAR1 131072 MiB), same GA100 with the same 80 GB.
    id: "nvidia-a100-80gb",
    name: "NVIDIA A100 80GB PCIe",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "20b5",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
  },
  {
    // 2321 (pci.ids "H100L 94GB"; NVIDIA README "NVIDIA H100 NVL"). unverified: BAR1 128 GiB, inferred from an
    // nvidia-smi capture in MIG mode where each 1g (1/8) slice shows a 16383 MiB BAR1, as on the other 128 GiB cards.
    id: "nvidia-h100-nvl",
    name: "NVIDIA H100 NVL 94GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2321",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
  },
  {
    // BAR1 128 GiB seen in nvidia-smi (shared/reference/vsphere.md); Hopper lspci 16M/128G/32M in
    // fastfetch-cli/fastfetch#1658. BAR0 is a 64-bit BAR on Hopper, so the BARs are regions 0, 2, 4.
    id: "nvidia-h100-80gb",
    name: "NVIDIA H100 PCIe 80GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "2331",
    barsMib: [16, 131072, 32],
    functions: [],
    quirks: {},
  },
  {
    // BAR1 32768 MiB: nvidia-smi capture of an L4 (test fixture of an nvidia-smi simulator).
    id: "nvidia-l4",
    name: "NVIDIA L4",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "27b8",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
  },
  {
    // unverified: BAR1 64 GiB as on the A40 and the L40S (same 48 GB, same board family); no capture found.
    id: "nvidia-l40",
    name: "NVIDIA L40",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "26b5",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
  },
  {
    // 26b9: pci.ids and NVIDIA README. unverified: BAR1 64 GiB (48 GB behind the next power of two, as on the
    // A40); the L40S captures found did not show the BAR1 section.
    id: "nvidia-l40s",
    name: "NVIDIA L40S",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "26b9",
    barsMib: [16, 65536, 32],
    functions: [],
    quirks: {},
  },
  {
    // BARs 16M/256M/32M: lspci of a T4 (1eb8) in cloud-hypervisor/cloud-hypervisor#434. Fits below 4 GiB.
    id: "nvidia-t4",
    name: "NVIDIA T4",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1eb8",
    barsMib: [16, 256, 32],
    functions: [],
    quirks: {},
  },
  {
    // 1db4 "Tesla V100 PCIe 16GB". BAR1 16384 MiB: nvidia-smi capture of a Tesla V100-PCIE-16GB (1DB4, pass-through).
    id: "nvidia-v100-16gb",
    name: "NVIDIA V100 PCIe 16GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1db4",
    barsMib: [16, 16384, 32],
    functions: [],
    quirks: {},
  },
  {
    // 1db6 "Tesla V100 PCIe 32GB". BAR1 32768 MiB: nvidia-smi capture of eight Tesla V100-PCIE-32GB.
    id: "nvidia-v100-32gb",
    name: "NVIDIA V100 PCIe 32GB",
    vendor: "nvidia",
    segment: "datacenter",
    vendorId: "10de",
    deviceId: "1db6",
    barsMib: [16, 32768, 32],
    functions: [],
    quirks: {},
  },

  // ---------------------------------------------------------------- NVIDIA workstation
  // The professional driver runs under a hypervisor, so no hideHypervisor. These cards have DisplayPort audio at .1
  // (the same audio ids as the GeForce of the same chip). BAR1 is what the sources show; it differs between models.
  {
    // BAR1 256 MiB: nvidia-smi capture of eight RTX 6000 Ada (26B1, subsystem 16A1). Audio 22ba (AD102): pci.ids.
    id: "nvidia-rtx-6000-ada",
    name: "NVIDIA RTX 6000 Ada Generation",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "26b1",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22ba" }],
    quirks: {},
  },
  {
    // BARs 16M/256M/32M: lspci in geerlingguy/raspberry-pi-pcie-devices#692; NVIDIA/gdrcopy#301 pins at most ~220 MB
    // on an A4000, i.e. a 256 MiB BAR1. Audio 228b (GA104): pci.ids.
    id: "nvidia-rtx-a4000",
    name: "NVIDIA RTX A4000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "24b0",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228b" }],
    quirks: {},
  },
  {
    // unverified: BAR1 256 MiB as on the A4000; the A6000 shows 64 GiB, so check lspci and declare a custom model
    // if the card maps more. Audio 1aef (GA102): pci.ids.
    id: "nvidia-rtx-a5000",
    name: "NVIDIA RTX A5000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "2231",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: {},
  },
  {
    // BAR1 65536 MiB: two nvidia-smi captures (a desktop and a 9-GPU server, subsystem 1459). Audio 1aef: pci.ids.
    id: "nvidia-rtx-a6000",
    name: "NVIDIA RTX A6000",
    vendor: "nvidia",
    segment: "workstation",
    vendorId: "10de",
    deviceId: "2230",
    barsMib: [16, 65536, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: {},
  },

  // ---------------------------------------------------------------- NVIDIA consumer
  // Consumer entries describe the card with Resizable BAR OFF, the usual setting for passthrough: BAR1 is the 256 MiB
  // aperture ("rather than through 256 MB apertures", NVIDIA's ReBAR rollout as reported by TechPowerUp), BAR0 16 MiB,
  // BAR3 32 MiB. Seen per generation in lspci: Pascal GTX 1080 (geerlingguy/raspberry-pi-pcie-devices#123), Turing
  // TU102 (same repo #480), Ampere GA104/GA106 (#692, #509), Ada RTX 4090 (#504). With ReBAR on, BAR1 grows to the
  // whole VRAM rounded up to a power of two: declare a custom model with the sizes lspci shows.
  // GeForce drivers before 465 stop with error 43 under a hypervisor, so the hypervisor is hidden.
  {
    // 1b06; audio 10ef "GP102 HDMI Audio Controller": pci.ids.
    id: "nvidia-gtx-1080-ti",
    name: "NVIDIA GeForce GTX 1080 Ti",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "1b06",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "10ef" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 1e07 "RTX 2080 Ti Rev. A" (Founders Edition and factory-overclocked boards; the non-A chip is 1e04). Turing
    // adds USB 3.1 xHCI 1ad6 at .2 and the USB Type-C UCSI controller 1ad7 at .3; audio 10f7: pci.ids.
    id: "nvidia-rtx-2080-ti",
    name: "NVIDIA GeForce RTX 2080 Ti",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "1e07",
    barsMib: [16, 256, 32],
    functions: [
      { fn: 1, kind: "audio", deviceId: "10f7" },
      { fn: 2, kind: "usb", deviceId: "1ad6" },
      { fn: 3, kind: "serial-bus", deviceId: "1ad7" },
    ],
    quirks: { hideHypervisor: true },
  },
  {
    // 2503 GA106 12GB (LHR boards are 2504, GA104-based ones 2487); audio 228e (GA106): pci.ids.
    id: "nvidia-rtx-3060",
    name: "NVIDIA GeForce RTX 3060",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2503",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228e" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2484 (LHR boards are 2488); audio 228b (GA104): pci.ids.
    id: "nvidia-rtx-3070",
    name: "NVIDIA GeForce RTX 3070",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2484",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "228b" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2206 10GB (LHR 2216, 12GB 220a); audio 1aef (GA102): pci.ids.
    id: "nvidia-rtx-3080",
    name: "NVIDIA GeForce RTX 3080",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2206",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2204; audio 1aef (GA102): pci.ids (the pair 10de:2204,10de:1aef is the usual vfio-pci.ids example).
    id: "nvidia-rtx-3090",
    name: "NVIDIA GeForce RTX 3090",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2204",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "1aef" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2786 AD104 (a later AD103-based 4070 is 2709, with audio 22bb); audio 22bc (AD104): pci.ids.
    id: "nvidia-rtx-4070",
    name: "NVIDIA GeForce RTX 4070",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2786",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22bc" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2704 AD103; audio 22bb (AD103): pci.ids.
    id: "nvidia-rtx-4080",
    name: "NVIDIA GeForce RTX 4080",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2704",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22bb" }],
    quirks: { hideHypervisor: true },
  },
  {
    // 2684 AD102; audio 22ba (AD102): pci.ids. BARs 16M/256M/32M: lspci in geerlingguy/raspberry-pi-pcie-devices#504.
    id: "nvidia-rtx-4090",
    name: "NVIDIA GeForce RTX 4090",
    vendor: "nvidia",
    segment: "consumer",
    vendorId: "10de",
    deviceId: "2684",
    barsMib: [16, 256, 32],
    functions: [{ fn: 1, kind: "audio", deviceId: "22ba" }],
    quirks: { hideHypervisor: true },
  },

  // ---------------------------------------------------------------- AMD data center
  // Instinct cards have no display outputs, hence no audio function. They sit behind an AMD PCIe switch on the board
  // (1002:14a0/14a1); the endpoint below is what is passed.
  {
    // 738c: pci.ids (738e is another MI100 SKU). resetBug: gnif/vendor-reset handles 738c (src/device-db.h, Vega 20
    // reset). unverified: BAR0 32 GiB (Instinct cards expose their whole HBM through BAR0), 2 MiB doorbell BAR2,
    // 512 KiB register BAR5 rounded up to 1 MiB, by analogy with the other GCN cards below.
    id: "amd-mi100",
    name: "AMD Instinct MI100",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "738c",
    barsMib: [32768, 2, 1],
    functions: [],
    quirks: { resetBug: true },
  },
  {
    // 740f "Aldebaran/MI200 [Instinct MI210]": pci.ids. Not handled by vendor-reset. unverified: BAR0 64 GiB for
    // 64 GB HBM2e, doorbell 2 MiB, register BAR rounded up to 1 MiB, by analogy with the MI100.
    id: "amd-mi210",
    name: "AMD Instinct MI210",
    vendor: "amd",
    segment: "datacenter",
    vendorId: "1002",
    deviceId: "740f",
    barsMib: [65536, 2, 1],
    functions: [],
    quirks: {},
  },

  // ---------------------------------------------------------------- AMD consumer
  // Resizable BAR OFF, as for NVIDIA: BAR0 is the 256 MiB VRAM aperture, BAR2 the 2 MiB doorbell, BAR5 the register
  // BAR (256 KiB on Polaris, 512 KiB on Vega and Navi 10, 1 MiB on Navi 21) rounded UP to 1 MiB here. HDMI/DP audio
  // is at .1. Navi cards put an AMD PCIe switch (1002:1478/1479) in front of the GPU; the endpoint is what is passed.
  // resetBug follows gnif/vendor-reset (src/device-db.h): Polaris, Vega 10 and Navi 10 need its device-specific reset.
  {
    // 67df Ellesmere; audio aaf0: pci.ids. Polaris BARs 256M/2M/256K: lspci of a Polaris 12 RX 540 in
    // HeyMeco/Rockchip-pcie-devices#5. resetBug: vendor-reset lists 67df.
    id: "amd-rx-580",
    name: "AMD Radeon RX 580",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "67df",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "aaf0" }],
    quirks: { resetBug: true },
  },
  {
    // 731f Navi 10; audio ab38: pci.ids. resetBug: vendor-reset lists 731f. unverified: BARs 256M/2M/512K for this
    // card; the same layout is shown by Navi 21 (QubesOS/qubes-issues#4321) and Navi 44 (geerlingguy #741) lspci.
    id: "amd-rx-5700-xt",
    name: "AMD Radeon RX 5700 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "731f",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab38" }],
    quirks: { resetBug: true },
  },
  {
    // 73bf "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]"; audio ab28: pci.ids. BARs 256M/2M/1M with ReBAR disabled:
    // lspci in QubesOS/qubes-issues#4321. Reference boards with a USB-C port add USB 73a6 at .2 and 73a4 at .3 (each
    // in its own IOMMU group); they are left out because partner boards without the port lack them.
    // Reset: vendor-reset's maintainer says the 6000 series resets fine (gnif/vendor-reset#35); some users still
    // report a card that will not restart (#53, #65), so watch for it, but the flag stays off.
    id: "amd-rx-6800-xt",
    name: "AMD Radeon RX 6800 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "73bf",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab28" }],
    quirks: {},
  },
  {
    // 73bf like the 6800 XT (the later XTXH 6900 XT is 73af); audio ab28: pci.ids. BARs and reset as the 6800 XT.
    id: "amd-rx-6900-xt",
    name: "AMD Radeon RX 6900 XT",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "73bf",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab28" }],
    quirks: {},
  },
  {
    // 744c Navi 31; audio ab30: pci.ids. BAR0 256 MiB and BAR2 2 MiB current sizes: lspci in
    // geerlingguy/raspberry-pi-pcie-devices#503; register BAR taken as 1 MiB (rounded up). resetBug: users report
    // the reset bug on Navi 31 (gnif/vendor-reset#65, #97) and vendor-reset has no Navi 31 support yet.
    id: "amd-rx-7900-xtx",
    name: "AMD Radeon RX 7900 XTX",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "744c",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "ab30" }],
    quirks: { resetBug: true },
  },
  {
    // 687f "Vega 10 XL/XT [Radeon RX Vega 56/64]"; audio aaf8: pci.ids. BAR0 256M and BAR2 2M: kernel log of an
    // RX Vega 56 in geerlingguy/raspberry-pi-pcie-devices#712; register BAR 512K on Vega 10 (ROCm/legacy-rocm-build
    // #787). resetBug: vendor-reset lists 687f.
    id: "amd-rx-vega-64",
    name: "AMD Radeon RX Vega 64",
    vendor: "amd",
    segment: "consumer",
    vendorId: "1002",
    deviceId: "687f",
    barsMib: [256, 2, 1],
    functions: [{ fn: 1, kind: "audio", deviceId: "aaf8" }],
    quirks: { resetBug: true },
  },

  // ---------------------------------------------------------------- Intel consumer
  {
    // 56a0 "DG2 [Arc A770]": pci.ids. BAR0 16 MiB and BAR2 16 GiB with ReBAR on (lspci in
    // ProjectPhysX/OpenCL-Benchmark#19). unverified for the A770 with ReBAR off: BAR2 256 MiB, as an lspci of a DG2
    // card under the xe driver shows. The HDMI audio (8086:4f90) is a separate device on its own bus behind the
    // card's PCIe switch, not a function of this one, so it is not listed here: pass it as a second device.
    id: "intel-arc-a770",
    name: "Intel Arc A770",
    vendor: "intel",
    segment: "consumer",
    vendorId: "8086",
    deviceId: "56a0",
    barsMib: [16, 256],
    functions: [],
    quirks: {},
  },
];

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
