#!/bin/sh
# Runs a script of dist/ from its startup snapshot (scripts/startup-snapshot.js) when there is one for this node,
# else as plain JavaScript; the output is the same, only the start-up time differs. cdktf.json's app runs it; the
# gpu-passthrough bin (scripts/gpu-passthrough) sources it.
#
#   sh scripts/snapshot-run.sh <target: app, cli, cli-validate> <path>/dist/<script>.js [arguments...]
#
# A blob loads only in the Node binary that wrote it (Node refuses any other, and exits): its file name carries that
# binary's size and modification time, compared here without starting node. The snapshot itself checks that dist/
# has not changed since it was built, and runs the plain script otherwise.
set -eu
target="$1"
script="$2"
shift 2
node="$(command -v node)" || { echo "gpu-passthrough: node is not on PATH; install Node.js 20 or newer" >&2; exit 127; }
blob="${script%dist/*}dist/snapshot/$target-$(stat -L -c %s-%Y "$node" 2>/dev/null || echo none).blob"
if [ -f "$blob" ]; then
  exec "$node" --snapshot-blob "$blob" "$script" "$@"
fi
exec "$node" "$script" "$@"
