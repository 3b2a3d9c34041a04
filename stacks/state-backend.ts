/** A stack's Terraform backend from the fleet file's `state:` (local by default). No credential is ever written. */
import { HttpBackend, LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { ResolvedState } from "../lib/fleet/layout";

export function addStateBackend(stack: TerraformStack, state: ResolvedState): void {
  if (state.backend === "local") {
    // cdktf's default local backend writes the absolute working directory into the output; this path is the
    // same place (the project root, seen from cdktf.out/stacks/<stack>) without it.
    new LocalBackend(stack, { path: `../../../${state.path}` });
  } else if (state.backend === "s3") {
    const backend = new S3Backend(stack, {
      bucket: state.bucket,
      key: state.key,
      region: state.region,
      encrypt: state.encrypt,
      ...(state.endpoint ? { endpoints: { s3: state.endpoint }, usePathStyle: true } : {}),
    });
    // S3-native locking (Terraform 1.10+): a lock object beside the state, no DynamoDB table. cdktf 0.21 has no prop.
    if (state.useLockfile) backend.addOverride("use_lockfile", true);
  } else {
    new HttpBackend(stack, {
      address: state.address,
      lockAddress: state.lockAddress,
      unlockAddress: state.unlockAddress,
      lockMethod: state.lockMethod,
      unlockMethod: state.unlockMethod,
    });
  }
}
