#!/bin/sh
# Prints the path of a Terraform CLI configuration file (tf.rc) that installs the bpg/proxmox provider, pinned below,
# from a local filesystem mirror: the provider is built from its Go module into a cache outside the repository, keyed
# by version, so a warm run costs a moment. Nothing is downloaded but Go modules through the module proxy; nothing
# built is committed. Other providers still come from their registry (`direct`), so the file can serve a whole init.
#
#   TF_CLI_CONFIG_FILE="$(sh lib/backends/proxmox/provider/build.sh)" terraform init
#
# v0.112.0 is the newest version the module proxy serves here (its version list is refused; v0.112.1, v0.113.0 are
# not served). A cold build (empty module and build caches) took 51 s and 119 s on 2 cores; the build is reproducible
# (same sha256 both times). `terraform init` from the mirror needs no network.
set -eu

PROXMOX_MODULE=github.com/bpg/terraform-provider-proxmox
PROXMOX_VERSION=v0.112.0 # tag v0.112.0, commit ed6cba4ae401da959892cd25676108c2bbff22d5
CACHE="${GPU_PASSTHROUGH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cdktf-gpu-passthrough}"

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os="$(uname -s | tr 'A-Z' 'a-z')" ;; esac
case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac

dir="$CACHE/proxmox-$PROXMOX_VERSION"
mirror="$dir/mirror"
# Unpacked mirror layout: <mirror>/<host>/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>
provider="$mirror/registry.terraform.io/bpg/proxmox/${PROXMOX_VERSION#v}/${os}_$arch"
provider="$provider/terraform-provider-proxmox_$PROXMOX_VERSION"
rc="$dir/tf.rc"

if [ ! -x "$provider" ]; then
  command -v go >/dev/null 2>&1 || { echo "proxmox provider build.sh: no go to build the bpg/proxmox provider" >&2; exit 1; }
  echo "proxmox provider build.sh: building bpg/proxmox $PROXMOX_VERSION from its Go module (once; about a minute)" >&2
  # `go install module@version` fails here: it asks the proxy for the module's version list (to look for a
  # deprecation notice) and the proxy refuses that list (403) while it serves the version itself. So download the
  # module and build it in place (go.mod has no replace directives; the build writes nothing into the module cache).
  # main.version is what the release build sets (it goes into the provider's User-Agent).
  src="$(go mod download -json "$PROXMOX_MODULE@$PROXMOX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$src" ] || { echo "proxmox provider build.sh: go mod download gave no directory for $PROXMOX_VERSION" >&2; exit 1; }
  mkdir -p "$(dirname "$provider")"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${PROXMOX_VERSION#v}" -o "$provider.tmp" .)
  mv "$provider.tmp" "$provider"
fi

# OpenTofu (what scripts/terraform.sh builds when no Terraform >= 1.10 is on PATH) reads `source = "bpg/proxmox"` as
# registry.opentofu.org/bpg/proxmox, so the mirror serves the binary under both names. A hard link, because OpenTofu
# ignores symlinks inside a mirror ("only the base directory ... may be a symlink").
tofu_provider="$mirror/registry.opentofu.org/${provider#"$mirror/registry.terraform.io/"}"
if [ ! -x "$tofu_provider" ]; then
  mkdir -p "$(dirname "$tofu_provider")"
  ln -f "$provider" "$tofu_provider" 2>/dev/null || cp "$provider" "$tofu_provider"
fi

# Written every run (cheap), so a moved cache or a changed mirror path never leaves a stale file behind.
cat >"$rc.tmp" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/bpg/proxmox", "registry.opentofu.org/bpg/proxmox"]
  }
  direct {
    exclude = ["registry.terraform.io/bpg/proxmox", "registry.opentofu.org/bpg/proxmox"]
  }
}
EOF
mv "$rc.tmp" "$rc"
echo "$rc"
