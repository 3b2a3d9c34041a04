/**
 * A file written beside a stack's cdk.tf.json at synth (cdktf.out/stacks/<stack>/<path>): the libvirt domain XML a
 * reviewer reads, a host's preparation script and plan. Content is computed at synth, after cdk.tf.json is written,
 * from that JSON where it needs resource attributes (resolving tokens a second time would double the synth time of
 * a large fleet), and must be deterministic (no time, no absolute path of this machine).
 */
import { ISynthesisSession, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { dirname, join, resolve, sep } from "path";
import { isUnsafeCodePoint } from "./text";

export interface StackFileProps {
  /** Path relative to the stack's output directory, e.g. `domains/ws-01.xml`. */
  readonly path: string;
  /** @param synthesized the stack's cdk.tf.json, parsed */
  readonly content: (synthesized: SynthesizedStack) => string;
  /** @default false */
  readonly executable?: boolean;
}

/** A stack's cdk.tf.json as parsed JSON: `resource.<type>.<logical id>` and so on. */
export type SynthesizedStack = { readonly resource?: Record<string, Record<string, Record<string, unknown>>> } & Record<
  string,
  unknown
>;

/**
 * Why `path` cannot be written inside the stack's directory: it must stay there, and each segment must be a file
 * name any file system takes (names come from hosts and VMs).
 */
export function outputPathProblem(path: string): string | undefined {
  const segments = path.split("/");
  if (path.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".."))
    return "must be a relative path inside the stack directory, without empty, . or .. segments";
  if ([...path].some((c) => c === "\\" || isUnsafeCodePoint(c.codePointAt(0) ?? 0)))
    return "holds a control character or a backslash";
  const long = segments.find((s) => Buffer.byteLength(s) > 255);
  if (long) return `has a name of ${Buffer.byteLength(long)} bytes; file systems take 255`;
  return undefined;
}

const filesOf = new WeakMap<TerraformStack, StackFile[]>();

export class StackFile extends Construct {
  /** The files a stack writes, in the order they were declared. */
  public static of(stack: TerraformStack): readonly StackFile[] {
    return filesOf.get(stack) ?? [];
  }

  public readonly path: string;
  private readonly props: StackFileProps;

  constructor(scope: Construct, id: string, props: StackFileProps) {
    super(scope, id);
    this.path = props.path;
    this.props = props;
    const problem = outputPathProblem(props.path);
    if (problem) this.node.addValidation({ validate: () => [`file "${props.path}" of ${this.node.path}: ${problem}`] });
    const stack = TerraformStack.of(this);
    const files = filesOf.get(stack);
    if (files) {
      files.push(this);
      return;
    }
    filesOf.set(stack, [this]);
    // The stack's synthesizer is public API (cdktf's custom-synthesis hook is not exported): wrap it once.
    const original = stack.synthesizer;
    stack.synthesizer = {
      synthesize: (session: ISynthesisSession) => {
        original.synthesize(session);
        const manifest = session.manifest.forStack(stack);
        const dir = join(session.outdir, manifest.workingDirectory);
        const synthesized = JSON.parse(
          readFileSync(join(session.outdir, manifest.synthesizedStackPath), "utf8"),
        ) as SynthesizedStack;
        for (const file of filesOf.get(stack) ?? []) file.write(dir, synthesized);
      },
    };
  }

  /** The file's content, as it will be written, given the stack's synthesized JSON (`Testing.synth(stack)`, parsed). */
  public content(synthesized: SynthesizedStack): string {
    return this.props.content(synthesized);
  }

  private write(dir: string, synthesized: SynthesizedStack): void {
    const file = join(dir, this.props.path);
    // Validation has refused such a path already; this is the last guard before writing outside the stack.
    if (outputPathProblem(this.props.path) || !resolve(file).startsWith(resolve(dir) + sep)) {
      throw new Error(`refusing to write ${this.props.path} outside the stack directory ${dir}`);
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, this.content(synthesized), { mode: this.props.executable ? 0o755 : 0o644 });
  }
}
