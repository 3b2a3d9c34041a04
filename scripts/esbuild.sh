#!/bin/sh
# Prints the path of an esbuild binary built from its Go module (pinned below) into a cache outside the repository,
# keyed by version, so a warm run costs a moment. npm's esbuild package is not used: it downloads a prebuilt binary.
# Exits 3 with a message naming the fix when Go is missing (the build then skips the startup snapshots).
#
#   ESBUILD="$(sh scripts/esbuild.sh)"
set -eu

ESBUILD_MODULE=github.com/evanw/esbuild/cmd/esbuild
ESBUILD_VERSION=v0.28.2
CACHE="${GPU_PASSTHROUGH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cdktf-gpu-passthrough}"

bin="$CACHE/esbuild-$ESBUILD_VERSION"
if [ ! -x "$bin/esbuild" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "esbuild.sh: go is not on PATH, so esbuild $ESBUILD_VERSION cannot be built from its Go module. Fix: install Go 1.21 or newer (https://go.dev/doc/install, or apt-get install golang) and build again." >&2
    exit 3
  fi
  echo "esbuild.sh: building esbuild $ESBUILD_VERSION from its Go module (once; under a minute)" >&2
  mkdir -p "$bin.tmp"
  GOBIN="$bin.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$ESBUILD_MODULE@$ESBUILD_VERSION"
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
fi
echo "$bin/esbuild"
