#!/bin/sh
# Builds the host tier's lab host (L1) once and caches it outside the repository, keyed by the Debian package versions
# it holds: a Debian 12 root made by debootstrap (the kernel from linux-image-amd64, initramfs-tools, GRUB's
# update-grub, systemd, udev, driverctl, libvirt, QEMU and OVMF) as an ext4 disk image, and the kernel and initramfs to boot it with.
# A real Debian host, so that the prepare-host.sh the product writes runs unchanged: it edits /etc/default/grub, runs
# update-grub and update-initramfs, and the next boot uses what they wrote. Node and the project are not in the image:
# L1 mounts this machine's root read-only over virtio-9p and runs /usr/bin/node and the project from there.
#
#   sh scripts/lab/prepare-host-lab.sh        # prints the cache directory on stdout, progress on stderr
#
# Cache: ${GPU_PASSTHROUGH_LAB_CACHE:-$HOME/.cache/cdktf-gpu-passthrough/lab}/host-<key>/{rootfs.img,vmlinuz,initrd.img}
set -eu
PATH="$PATH:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

# Bump when the image's contents change in a way the package versions do not show.
LAB_IMAGE_VERSION=1
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# What the lab host runs: its boot chain, the host-preparation tools the product's script calls, and libvirt/QEMU/OVMF
# for the nested guest. --no-install-recommends keeps GUI and network extras out.
PACKAGES="linux-image-amd64 initramfs-tools grub-pc-bin grub2-common udev kmod procps libvirt-daemon-system
libvirt-clients qemu-system-x86 ovmf pciutils driverctl systemd-sysv zstd"
VERSIONED="linux-image-amd64 initramfs-tools grub2-common udev libvirt-daemon-system qemu-system-x86 ovmf driverctl"

say() { echo "lab host: $*" >&2; }
started=$(date +%s)

. "$(dirname "$0")/../as-root.sh"
if [ "$as_root" != "" ]; then
  say "needs root (debootstrap, chroot, mke2fs with owners); run as root"
  exit 1
fi

need=""
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
command -v mke2fs >/dev/null 2>&1 || need="$need e2fsprogs"
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || need="$need qemu-utils"
if [ -n "$need" ]; then
  say "installing$need"
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# The key: the candidate version of every package that shapes the image, as this machine's apt sees it.
versions=$(for p in $VERSIONED; do printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')"; done)
if printf '%s\n' "$versions" | grep -q '=$\|=(none)'; then
  apt-get update -qq >/dev/null
  versions=$(for p in $VERSIONED; do printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')"; done)
fi
# ... and the files that build it: this script and the lab host's job service.
scripts=$(cat "$0" "$(dirname "$0")/lab-job.sh" | sha256sum | cut -c1-16)
key=$(printf 'v%s\n%s\n%s\n%s\n' "$LAB_IMAGE_VERSION" "$PACKAGES" "$versions" "$scripts" | sha256sum | cut -c1-16)
cache="${GPU_PASSTHROUGH_LAB_CACHE:-$HOME/.cache/cdktf-gpu-passthrough/lab}"
dir="$cache/host-$key"
if [ -f "$dir/done" ]; then
  say "cached in $dir ($(tr '\n' ' ' <"$dir/versions"))"
  echo "$dir"
  exit 0
fi

work=$(mktemp -d "$cache.build.XXXXXX" 2>/dev/null || { mkdir -p "$cache" && mktemp -d "$cache.build.XXXXXX"; })
root="$work/root"
cleanup() {
  for m in dev/pts dev proc sys; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

say "debootstrap $SUITE (minbase) into $root"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

say "installing $(echo $PACKAGES | wc -w) packages and their dependencies in the root"
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
# The root's own /dev (debootstrap made its nodes) with a private devpts: with this machine's /dev bound in, package
# scripts re-owned its /dev/kvm to the root's kvm group id (this machine's ssl-cert), and libvirtd then probed QEMU again
# on every define.
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
# No daemon may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
chroot "$root" sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $(echo $PACKAGES)" \
  >"$work/apt.log" 2>&1 || {
  tail -30 "$work/apt.log" >&2
  exit 1
}
rm -f "$root/usr/sbin/policy-rc.d"
for m in dev/pts sys proc; do umount "$root/$m"; done

say "configuring the lab host"
echo lab-host >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 lab-host\n' >"$root/etc/hosts"
printf 'LABEL=labroot / ext4 rw 0 1\n' >"$root/etc/fstab"
# What grub-pc's postinst would install: Debian's default boot loader settings (GRUB_CMDLINE_LINUX_DEFAULT="quiet").
[ -f "$root/etc/default/grub" ] || cp "$root/usr/share/grub/default/grub" "$root/etc/default/grub"
mkdir -p "$root/boot/grub" "$root/host" "$root/lab"
# update-initramfs under TCG: with MODULES=most it packs every storage and network driver of the kernel and takes
# minutes; MODULES=dep (initramfs-tools(5)) packs those this host's hardware uses, as a host with one known board may.
sed -i 's/^MODULES=.*/MODULES=dep/' "$root/etc/initramfs-tools/initramfs.conf"
install -m 0755 "$(dirname "$0")/lab-job.sh" "$root/usr/local/sbin/lab-job"
# The stand-in GPU's own driver (qxl, kernel 6.1) faults in its interrupt handler when unbound under TCG, which
# libvirt does to a managed hostdev: the lab host does not load it, so function 0 starts with no driver (as a GPU
# whose vendor driver is not installed); the audio function keeps snd_hda_intel, a host driver to detach.
echo "blacklist qxl" >"$root/etc/modprobe.d/lab-no-qxl.conf"
# The job runs once the host is up as a Debian host is: udev has loaded the drivers, libvirtd answers.
cat >"$root/etc/systemd/system/lab-job.service" <<'UNIT'
[Unit]
Description=Run the lab test's job from L0, then power off
After=multi-user.target libvirtd.service systemd-udev-settle.service
Wants=libvirtd.service systemd-udev-settle.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-job

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/lab-job.service "$root/etc/systemd/system/multi-user.target.wants/lab-job.service"
# No login prompt on the serial console, no waiting for a network that the lab host does not have.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
kver=$(ls "$root/lib/modules" | head -1)
printf '%s\nkernel=%s\n' "$versions" "$kver"  >"$work/versions"

say "writing the ext4 root image ($(du -sm "$root" | cut -f1) MiB of files)"
mkdir -p "$dir.tmp"
mke2fs -q -t ext4 -L labroot -d "$root" "$dir.tmp/rootfs.img" 6G
cp "$root/boot/vmlinuz-$kver" "$dir.tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$dir.tmp/initrd.img"
cp "$work/versions" "$dir.tmp/versions"
touch "$dir.tmp/done"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
# Images of other package versions or scripts are not used again.
for old in "$cache"/host-*; do [ "$old" = "$dir" ] || rm -rf "$old"; done
say "built in $(($(date +%s) - started)) s: $dir"
echo "$dir"
