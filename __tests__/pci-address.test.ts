import { PciAddress, PciAddressError } from "../lib/pci/address";

describe("PciAddress", () => {
  test.each([
    ["0000:3b:00.0", "0000:3b:00.0"],
    ["3b:00.0", "0000:3b:00.0"],
    ["0000:3B:00.1", "0000:3b:00.1"],
    ["  af:1f.7 ", "0000:af:1f.7"],
    ["1:2:3.4", "0001:02:03.4"],
  ])("parses %j and normalizes it to %s", (text, canonical) => {
    expect(PciAddress.parse(text).toString()).toBe(canonical);
  });

  test.each([
    ["0000:3b:00.9", /function must be 0-7 \(it is 9\)/],
    ["0000:3b:20.0", /slot must be 00-1f \(it is 20\)/],
    ["0000:3b:00", /not a PCI address/],
    ["10000:3b:00.0", /not a PCI address/],
    ["0000:3g:00.0", /not a PCI address/],
    ["", /not a PCI address/],
  ])("rejects %j naming the bad part", (text, message) => {
    expect(() => PciAddress.parse(text)).toThrow(PciAddressError);
    expect(() => PciAddress.parse(text)).toThrow(message);
  });

  test("the message quotes the address the user wrote", () => {
    expect(PciAddress.tryParse("0000:3b:00.9")).toBe('"0000:3b:00.9": function must be 0-7 (it is 9)');
  });

  test("knows device versus function: the audio function belongs to the same GPU", () => {
    const vga = PciAddress.parse("0000:01:00.0");
    const audio = PciAddress.parse("01:00.1");
    expect(audio.sameDevice(vga)).toBe(true);
    expect(audio.equals(vga)).toBe(false);
    expect(vga.deviceKey).toBe("0000:01:00");
    expect(vga.withFunction(1).equals(audio)).toBe(true);
    expect(() => vga.withFunction(8)).toThrow(/function must be 0-7/);
  });

  test("orders like lspci", () => {
    const sorted = ["0000:af:00.0", "0000:3b:00.1", "0000:3b:00.0", "0001:00:00.0"]
      .map((a) => PciAddress.parse(a))
      .sort((a, b) => a.compare(b))
      .map(String);
    expect(sorted).toEqual(["0000:3b:00.0", "0000:3b:00.1", "0000:af:00.0", "0001:00:00.0"]);
  });

  test("an address printed and one not stay equal, as data and as JSON", () => {
    const [a, b] = [PciAddress.parse("3b:00.1"), PciAddress.parse("0000:3b:00.1")];
    expect(String(a)).toBe("0000:3b:00.1");
    expect(a.deviceKey).toBe("0000:3b:00");
    expect(a).toEqual(b);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.parse(JSON.stringify(a))).toEqual({ domain: 0, bus: 0x3b, slot: 0, fn: 1 });
  });
});
