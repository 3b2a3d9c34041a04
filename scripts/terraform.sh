#!/bin/sh
# Prints the path of a Terraform CLI for the real-software tests: `terraform` on PATH when it is 1.10 or newer,
# else OpenTofu built from its Go module (pinned below) into a cache outside the repository, keyed by version, so a
# warm run costs a moment. Nothing is downloaded but Go modules through the module proxy; nothing built is committed.
#
#   TERRAFORM="$(sh scripts/terraform.sh)"
set -eu

TOFU_MODULE=github.com/opentofu/opentofu
TOFU_VERSION=v1.10.7
CACHE="${GPU_PASSTHROUGH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cdktf-gpu-passthrough}"

if command -v terraform >/dev/null 2>&1; then
  version="$(terraform version 2>/dev/null | sed -n 's/^Terraform v\([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p' | head -n 1)"
  set -- $version
  if [ "${1:-0}" -gt 1 ] || { [ "${1:-0}" -eq 1 ] && [ "${2:-0}" -ge 10 ]; }; then
    command -v terraform
    exit 0
  fi
fi

tofu="$CACHE/opentofu-$TOFU_VERSION/tofu"
if [ ! -x "$tofu" ]; then
  command -v go >/dev/null 2>&1 || { echo "terraform.sh: no terraform >= 1.10 and no go to build OpenTofu" >&2; exit 1; }
  echo "terraform.sh: building OpenTofu $TOFU_VERSION from its Go module (once; a few minutes)" >&2
  src="$(go mod download -json "$TOFU_MODULE@$TOFU_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  work="$CACHE/opentofu-$TOFU_VERSION/src"
  rm -rf "$work" && mkdir -p "$work"
  # The module cache is read-only, and `go install` refuses a module with a replace directive: build a copy.
  cp -R "$src/." "$work/" && chmod -R u+w "$work"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$tofu.tmp" ./cmd/tofu)
  mv "$tofu.tmp" "$tofu"
  rm -rf "$work"
fi
echo "$tofu"
