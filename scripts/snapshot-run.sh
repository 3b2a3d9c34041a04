#!/bin/sh
# Runs a script of dist/ from its startup snapshot (scripts/startup-snapshot.js) when there is one for this node,
# else as plain JavaScript; the output is the same, only the start-up time differs. cdktf.json's app runs it; the
# gpu-passthrough bin (scripts/gpu-passthrough) sources it.
#
#   sh scripts/snapshot-run.sh <target: app, cli, cli-validate> <path>/dist/<script>.js [arguments...]
#
# Node refuses a blob written by another Node binary or under other V8 flags, and exits: so the blob's file name
# carries the size and modification time of the binary that wrote it, compared here without starting node, and the
# blob runs only with the flags it was built with (its .flags file) and when NODE_OPTIONS is unset or the same.
# The snapshot itself checks that dist/ has not changed since it was built, and runs the plain script otherwise.
set -eu
target="$1"
script="$2"
shift 2
node="$(command -v node)" || { echo "gpu-passthrough: node is not on PATH; install Node.js 20 or newer" >&2; exit 127; }
blob="${script%dist/*}dist/snapshot/$target-$(stat -L -c %s-%Y "$node" 2>/dev/null || echo none)"
if [ -f "$blob.blob" ] && [ -f "$blob.flags" ]; then
  read -r flags <"$blob.flags" || flags=""
  if [ -z "${NODE_OPTIONS:-}" ] || [ "$NODE_OPTIONS" = "$flags" ]; then
    # shellcheck disable=SC2086 # the flags are words
    exec "$node" $flags --snapshot-blob "$blob.blob" "$script" "$@"
  fi
fi
exec "$node" "$script" "$@"
