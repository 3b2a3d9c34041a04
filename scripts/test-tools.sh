#!/bin/sh
# Makes sure the tools the tests call are here: virt-xml-validate (Debian/Ubuntu libvirt-clients) and the xmllint it
# runs (libxml2-utils), which check every rendered libvirt domain against libvirt's own schema. Runs before
# `npm test`; installs them with apt-get when it can (root, or sudo without a password), otherwise says how.
set -eu
if command -v virt-xml-validate >/dev/null 2>&1 && command -v xmllint >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  . "$(dirname "$0")/as-root.sh"
  if [ "$as_root" != none ]; then
    echo "test tools: installing libvirt-clients and libxml2-utils (for virt-xml-validate)"
    $as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends libvirt-clients libxml2-utils >/dev/null
    exit 0
  fi
fi
echo "test tools: virt-xml-validate and xmllint are missing; install them, e.g. sudo apt-get install libvirt-clients libxml2-utils (Debian/Ubuntu) or sudo dnf install libvirt-client libxml2 (Fedora)" >&2
exit 1
