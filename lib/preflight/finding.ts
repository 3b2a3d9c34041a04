/** What preflight reports: a problem with its severity and a stable code. */
import type { Problem } from "../problems";

/** `blocker`: deployment would fail; `warning`: it may fail or misbehave; `info`: worth knowing. */
export type Severity = "blocker" | "warning" | "info";

export interface Finding extends Problem {
  readonly severity: Severity;
  /** A stable identifier for scripts, e.g. `iommu-off`, `gpu-driver`. */
  readonly code: string;
}
