#!/bin/sh
# The lab host's (L1) one service after boot (lab-job.service, after udev has settled and libvirtd is up): mounts
# this machine's root read-only (tag "host": Node and the project) and the test's job directory (tag "lab", writable),
# runs the job the test wrote there, keeps its output and exit code there, and powers the lab host off.
set -u
mkdir -p /host /lab
mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host
mount -t 9p -o trans=virtio,version=9p2000.L lab /lab
echo "lab-job: running /lab/job.sh at $(cut -d' ' -f1 /proc/uptime) s of uptime" >/dev/console
sh /lab/job.sh >/lab/job.out 2>&1
echo "$?" >/lab/job.rc
echo "lab-job: done (exit $(cat /lab/job.rc)) at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
sync
umount /lab
systemctl poweroff --force
