/**
 * PCI addresses as the host sees them: `DDDD:BB:SS.F` (domain, bus, slot, function).
 *
 * A GPU is one *device* (domain:bus:slot) with one or more *functions* (VGA, HDMI audio, USB-C, UCSI).
 * Passthrough hands whole devices to a VM, so the model keys GPUs by their device and lists functions.
 */

/** Thrown by {@link PciAddress.parse}; the message names the part that is wrong. */
export class PciAddressError extends Error {}

const PATTERN = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-9a-fA-F])$/;

export class PciAddress {
  /**
   * Parse `0000:3b:00.0` or the short `3b:00.0` (domain 0000).
   * @throws PciAddressError naming the offending part: domain ≤ ffff, bus ≤ ff, slot ≤ 1f, function ≤ 7.
   */
  public static parse(text: string): PciAddress {
    const trimmed = text.trim();
    const m = PATTERN.exec(trimmed);
    if (!m) {
      throw new PciAddressError(
        `"${text}" is not a PCI address: write it as domain:bus:slot.function in hex, e.g. "0000:3b:00.0" or "3b:00.0"`,
      );
    }
    const [domain, bus, slot, fn] = [m[1] ?? "0", m[2], m[3], m[4]].map((p) => parseInt(p, 16));
    // Slot is 5 bits and function 3 bits in the PCI routing id; the regex already bounds domain and bus.
    if (slot > 0x1f) {
      throw new PciAddressError(`"${text}": slot must be 00-1f (it is ${m[3]})`);
    }
    if (fn > 7) {
      throw new PciAddressError(`"${text}": function must be 0-7 (it is ${m[4]})`);
    }
    return new PciAddress(domain, bus, slot, fn);
  }

  /** Like {@link parse} but returns the error message instead of throwing. */
  public static tryParse(text: string): PciAddress | string {
    try {
      return PciAddress.parse(text);
    } catch (e) {
      if (e instanceof PciAddressError) return e.message;
      throw e;
    }
  }

  // Written once: rules and renderers ask for the text of every address many times in a large fleet. Private
  // fields, so that equal addresses stay equal to `toEqual` and JSON whichever of them was printed.
  readonly #deviceKey: string;
  readonly #text: string;

  private constructor(
    public readonly domain: number,
    public readonly bus: number,
    public readonly slot: number,
    public readonly fn: number,
  ) {
    this.#deviceKey = [hex(domain, 4), hex(bus, 2), hex(slot, 2)].join(":");
    this.#text = `${this.#deviceKey}.${fn}`;
  }

  /** Canonical form `0000:3b:00.0`, the form vSphere's `pci_device_id` and Linux sysfs use. */
  public toString(): string {
    return this.#text;
  }

  /** The device part `0000:3b:00`, shared by all functions of one GPU. */
  public get deviceKey(): string {
    return this.#deviceKey;
  }

  /** The address of another function of the same device. */
  public withFunction(fn: number): PciAddress {
    if (!Number.isInteger(fn) || fn < 0 || fn > 7) {
      throw new PciAddressError(`function must be 0-7 (it is ${fn})`);
    }
    return new PciAddress(this.domain, this.bus, this.slot, fn);
  }

  public sameDevice(other: PciAddress): boolean {
    return this.deviceKey === other.deviceKey;
  }

  public equals(other: PciAddress): boolean {
    return this.toString() === other.toString();
  }

  /** Orders by domain, bus, slot, function — the order `lspci` lists devices in. */
  public compare(other: PciAddress): number {
    return this.domain - other.domain || this.bus - other.bus || this.slot - other.slot || this.fn - other.fn;
  }
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}
