/**
 * An app whose every construct PassthroughApp has checked just before synth: cdktf then validates each stack again
 * while writing it, which for a large fleet repeats the most expensive rules (they read every VM resource back). The
 * repeat is skipped only when nothing can have changed in between: the app's only aspects are this library's
 * (cdktf runs aspects between the two checks, and another aspect may change a resource).
 */
import { IConstruct } from "constructs";

const checked = new WeakSet<IConstruct>();

export function markChecked(root: IConstruct): void {
  checked.add(root);
}

/** Whether `scope`'s app was checked whole before this synth, so its rules need not run again. */
export function checkedBeforeSynth(scope: IConstruct): boolean {
  return checked.has(scope.node.root);
}
