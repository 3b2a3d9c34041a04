#!/bin/sh
# `npm run lab`: the passthrough lab (issue 12), where real QEMU, OVMF and libvirtd judge the passthrough rules.
# Installs what it needs from Debian's packages (through scripts/libvirtd.sh, which also starts libvirtd without
# systemd), runs every scripts/lab/prepare-*.sh (a tier's images and kernels, each cached under the cache root),
# then jest on __tests__/lab/ with GPU_PASSTHROUGH_LAB=1, so a missing piece fails instead of skipping.
# Arguments go to jest (e.g. --json --outputFile=...). It builds only what is missing (after `npm test` nothing), and the
# lab's tests run the TypeScript sources through ts-jest.
#
#   GPU_PASSTHROUGH_LAB_CACHE   cache root, default ~/.cache/cdktf-gpu-passthrough/lab (outside the repository)
#   GPU_PASSTHROUGH_LAB_TESTS   the test files, default __tests__/lab (one tier: __tests__/lab/firmware.test.ts)
set -eu
cd "$(dirname "$0")/../.."

steps=$(( $(ls scripts/lab/prepare-*.sh 2>/dev/null | wc -l) + 2 ))
step=0
progress() {
  step=$((step + 1))
  echo "lab: $1 ($step/$steps) ..." >&2
}

progress "libvirtd, QEMU and OVMF from Debian's packages"
sh scripts/libvirtd.sh >&2

# One cache root for every tier, outside the repository; each prepare script keys its own entries by the package
# versions they were built from (a new kernel, QEMU or OVMF builds a new image; old ones can be deleted).
export GPU_PASSTHROUGH_LAB_CACHE="${GPU_PASSTHROUGH_LAB_CACHE:-$HOME/.cache/cdktf-gpu-passthrough/lab}"
export GPU_PASSTHROUGH_LAB=1
mkdir -p "$GPU_PASSTHROUGH_LAB_CACHE"

# Built only when missing (CI runs the lab after `npm test`, which built): the provider bindings the tests import
# from dist/.gen, and dist/ for the tiers that run the CLI.
if [ ! -d dist/.gen/providers ]; then
  echo "lab: generating the provider bindings (node scripts/provider-bindings.js)" >&2
  node scripts/provider-bindings.js >&2
fi
if [ ! -f dist/main.js ]; then
  echo "lab: compiling (npx tsc -p tsconfig.json)" >&2
  npx tsc -p tsconfig.json >&2
fi

for prepare in scripts/lab/prepare-*.sh; do
  [ -e "$prepare" ] || continue
  progress "$(basename "$prepare" .sh)"
  sh "$prepare" >&2
done

# Again after the tiers' preparation: package scripts run in a chroot with /dev bound re-own /dev/kvm to the chroot's
# kvm group, and libvirtd then probes QEMU again on every define (12 s each); this puts it back (0.1 s when fine).
sh scripts/libvirtd.sh >&2

progress "jest __tests__/lab"
exec npx jest --runInBand ${GPU_PASSTHROUGH_LAB_TESTS:-__tests__/lab} "$@"
