#!/bin/busybox sh
# PID 1 of the lab guest's initrd: load the few modules the root disk needs
# (Debian builds virtio and ext4 as modules), mount it and hand over to systemd.
bb=/bin/busybox
$bb mkdir -p /proc /sys /dev /newroot
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
while read -r mod; do
    $bb insmod "/modules/$mod" 2>/dev/null
done < /modules/load.order
i=0
while [ ! -b /dev/vda ] && [ "$i" -lt 200 ]; do
    $bb sleep 0.05
    i=$((i + 1))
done
if ! $bb mount -t ext4 -o rw,noatime /dev/vda /newroot; then
    echo "lvs-dr initrd: cannot mount /dev/vda; stopping the guest" >&2
    $bb reboot -f
fi
$bb umount /proc /sys
$bb mount --move /dev /newroot/dev
exec $bb switch_root /newroot /sbin/init
