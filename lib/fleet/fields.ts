/**
 * The field types of the fleet file that the core and the hypervisors' fragments share: names, PCI addresses, URLs
 * without credentials, ids. Each wraps one rule of lib/validation, so a value is judged the same everywhere.
 */
import { z } from "zod";
import { resolveGpuModel } from "../gpu/resolve";
import { PciAddress } from "../pci/address";
import { NAME_LIMITS, absolutePathProblem, hostNameProblem, textProblem, vmNameProblem } from "../validation/names";
import { urlCredentialProblem } from "../validation/url-credentials";

/** A string checked by one of the rules in lib/validation (each returns why a value is wrong, or undefined). */
export const checked = (rule: (text: string) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    const problem = rule(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** One line of printable text: an inventory name, a computer name, a path segment. */
export const text = (max: number = NAME_LIMITS.text) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .superRefine((value, ctx) => {
      const problem = textProblem(value, max);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
export const name = text();
export const hostName = checked(hostNameProblem);
export const vmName = checked(vmNameProblem);

export const pciAddress = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : 'must be a PCI address in quotes, e.g. "0000:3b:00.0" (as lspci -D shows it)',
  })
  .superRefine((value, ctx) => {
    // Text checks first: the parser's message repeats the value, which must not be a secret or a control character.
    const parsed =
      textProblem(value, 64) ??
      (/^[0-9A-Fa-f:.]+$/.test(value)
        ? PciAddress.tryParse(value)
        : 'is not a PCI address: write it as domain:bus:slot.function in hex, e.g. "0000:3b:00.0" (as lspci -D shows it)');
    if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
  })
  // Parsed once, here: every later layer gets the address, not its text.
  .transform((value) => PciAddress.parse(value));

/** A URL whose credentials, if any, belong in `instead` (an environment variable). */
export const urlWithoutCredentials = (instead: string, schemes: readonly string[]) =>
  z
    .string()
    .max(2048, "is longer than 2048 characters")
    .superRefine((value, ctx) => {
      const problem =
        // The credential first: its message names the variable to use instead.
        (schemes.some((s) => value.toLowerCase().startsWith(`${s}://`))
          ? urlCredentialProblem(value, { instead })
          : `must be a ${schemes.join(" or ")} URL`) ?? textProblem(value, 2048);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

/** A catalog id, checked here so that an unknown model is reported with the file's other problems. */
export const catalogId = name.superRefine((id, ctx) => {
  // The text's own problem is reported already; the catalog's message would repeat the value.
  if (textProblem(id)) return;
  const resolved = resolveGpuModel(id);
  if (Array.isArray(resolved)) resolved.forEach((message) => ctx.addIssue({ code: "custom", message }));
});

/** A PCI or USB id: 4 hex digits, as `tool` shows it. */
export const hexId4 = (tool: string) =>
  z.string().regex(/^[0-9a-fA-F]{4}$/, `must be 4 hex digits, as ${tool} shows it`);
export const hexId = hexId4("lspci -nn");

export const absolutePath = checked(absolutePathProblem);

/** The CPU vendor of a KVM host: it decides the IOMMU kernel argument. */
export const cpuVendor = z.enum(["intel", "amd"]);

/** The IOMMU groups of a KVM host's GPUs and what shares them (`gpu-passthrough discover` prints them). */
export const iommuGroups = z
  .array(
    z.strictObject({
      id: z.number().int().min(0).max(65535),
      devices: z.array(pciAddress).min(1).max(256),
      bridges: z.array(pciAddress).max(256).optional(),
    }),
  )
  .max(4096);
