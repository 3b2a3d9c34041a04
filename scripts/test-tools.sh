#!/bin/sh
# Makes sure the tools and data the tests read are here: virt-xml-validate (Debian/Ubuntu libvirt-clients) and the
# xmllint it runs (libxml2-utils), which check every rendered libvirt domain against libvirt's own schema, and the PCI
# ID Repository's pci.ids (package pci.ids), which the GPU catalog's ids and names are checked against. Runs before
# `npm test`; installs them with apt-get when it can (root, or sudo without a password), otherwise says how.
set -eu
if command -v virt-xml-validate >/dev/null 2>&1 && command -v xmllint >/dev/null 2>&1 && [ -f /usr/share/misc/pci.ids ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  . "$(dirname "$0")/as-root.sh"
  if [ "$as_root" != none ]; then
    echo "test tools: installing libvirt-clients, libxml2-utils (for virt-xml-validate) and pci.ids"
    $as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends libvirt-clients libxml2-utils pci.ids >/dev/null
    exit 0
  fi
fi
echo "test tools: virt-xml-validate, xmllint or pci.ids are missing; install them, e.g. sudo apt-get install libvirt-clients libxml2-utils pci.ids (Debian/Ubuntu) or sudo dnf install libvirt-client libxml2 hwdata (Fedora, then PCI_IDS=/usr/share/hwdata/pci.ids)" >&2
exit 1
