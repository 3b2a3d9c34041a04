#!/bin/sh
# Makes a real libvirtd available to the tests that judge rendered domain XML with `virsh define`/`dumpxml`
# (__tests__/libvirt-virsh.test.ts) and boot them (the lab): installs Debian's libvirt, QEMU, OVMF and swtpm when it can
# (root, or sudo without a password), then, as root, starts virtlogd and libvirtd itself, because CI machines and
# containers have no systemd.
# Idempotent: installed packages and a daemon that answers are left as they are. Prints the URI the tests use.
#
#   sh scripts/libvirtd.sh      # root: qemu:///system; otherwise qemu:///session (libvirt spawns that daemon itself)
set -eu

# swtpm and swtpm-tools (swtpm_setup): libvirt 9.0 refuses to define a domain with a TPM 2.0 emulator when swtpm is not
# installed ("TPM version '2.0' is not supported"), and Windows guests get one; at start libvirt runs swtpm for it.
PACKAGES="libvirt-daemon-system qemu-system-x86 ovmf libvirt-clients tini swtpm swtpm-tools"
WAIT_S=60
PATH="$PATH:/usr/sbin:/sbin"

. "$(dirname "$0")/as-root.sh"

installed=no
missing=""
for tool in virsh libvirtd virtlogd qemu-system-x86_64 tini swtpm swtpm_setup; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing="$missing OVMF"
if [ -n "$missing" ]; then
  if [ "$as_root" != none ] && command -v apt-get >/dev/null 2>&1; then
    echo "libvirtd.sh: installing $PACKAGES (missing:$missing)"
    $as_root apt-get update -qq >/dev/null
    # The packages' maintainer scripts try to start services through systemd; without it they only warn.
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    installed=yes
  else
    echo "libvirtd.sh: missing$missing; as root on Debian/Ubuntu: apt-get install $PACKAGES" >&2
    exit 1
  fi
fi

# A daemon counts as running when its pid file names a live process.
running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

if [ "$(id -u)" = 0 ]; then
  uri="qemu:///system"
  # Without udev /dev/kvm stays root-only, QEMU's user cannot open it, and libvirtd then finds its cached QEMU
  # capabilities stale and probes QEMU again on every call (16 s per virsh define). Debian's udev rule: kvm, 0660.
  if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
  mkdir -p /run/libvirt /var/log/libvirt
  # libvirt runs swtpm as tss, or as root when tss did not exist when it started: a daemon that predates this install
  # is restarted, and the local CA a root-run swtpm left root's is given back to tss, or every TPM guest's start fails
  # ("Need read/write rights on /var/lib/swtpm-localca/.lock.swtpm-localca for user tss"; preflight's
  # swtpm-localca-owner, which prepare-host.sh mends the same way).
  if [ "$installed" = yes ] && running /run/libvirtd.pid; then
    pid="$(cat /run/libvirtd.pid)"
    kill "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt "$WAIT_S" ]; do
      i=$((i + 1))
      sleep 1
    done
  fi
  if [ -d /var/lib/swtpm-localca ] && id -u tss >/dev/null 2>&1; then
    chown -R tss /var/lib/swtpm-localca
  fi
  running /run/virtlogd.pid || virtlogd -d
  if ! running /run/libvirtd.pid; then
    # Under tini as child subreaper: the QEMU processes libvirtd starts (capability probes, domains) daemonize and
    # would be reparented to PID 1, which in a container may never reap them; libvirtd then waits for their exit.
    setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd.stdout.log 2>&1 &
  fi
else
  uri="qemu:///session"
fi

i=0
until virsh -c "$uri" uri >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt "$WAIT_S" ]; then
    echo "libvirtd.sh: libvirtd does not answer on $uri after ${WAIT_S}s; see /var/log/libvirt/libvirtd.log" >&2
    exit 1
  fi
  sleep 1
done
echo "libvirtd.sh: libvirtd $(virsh -c "$uri" version --daemon 2>/dev/null | sed -n 's/^Running against daemon: //p') answers on $uri"
