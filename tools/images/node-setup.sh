#!/bin/sh
# Runs inside a lab node's root file system (chroot) at build time.
# Lab nodes are privileged containers running systemd as PID 1; the image
# carries what Ansible needs and, disabled, the packages the roles install
# (see below).
set -eu
suite="$1"
mirror="$2"
preinstalled="${3:-}"

rm -f /etc/hostname /etc/machine-id /var/lib/dbus/machine-id
: > /etc/machine-id
cat > /etc/apt/sources.list <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
SRC
# Units that have no business in a container.
for unit in getty@tty1.service serial-getty@ttyS0.service console-getty.service \
            systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
            dev-hugepages.mount sys-fs-fuse-connections.mount apt-daily.timer \
            apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
            systemd-timesyncd.service; do
    systemctl mask "$unit" >/dev/null 2>&1 || true
done
# Keep documentation out of the image, as Debian's own images do.
cat > /etc/dpkg/dpkg.cfg.d/lvs-dr-nodoc <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
CFG
# As Debian's own container images: dpkg skips its fsync()s (a container's
# file system is thrown away, not power-cut) and apt fetches no translations.
# Measured in the lab guest: apt-get update + install apache2 142 s -> 111 s.
echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/lvs-dr-unsafe-io
echo 'Acquire::Languages "none";' > /etc/apt/apt.conf.d/lvs-dr-no-languages
# The packages the roles install, installed here at native speed, so that
# `make lab` does not wait minutes for apt under emulation. They are stopped
# and disabled until a role enables them; the Molecule scenario `default`
# removes them again before it converges (prepare.yml), so `make test` still
# runs the roles' install path.
if [ -n "$preinstalled" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $preinstalled >/dev/null
    for unit in apache2.service nftables.service ipvsadm.service; do
        systemctl disable "$unit" >/dev/null 2>&1 || true
    done
    rm -f /usr/sbin/policy-rc.d
fi
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/*/changelog* /usr/share/man/* /usr/share/locale/*
# No package lists ship with the image: date the directory to the epoch and
# drop apt's success stamp of the build's own update (Ansible's apt module
# reads that stamp first for cache_valid_time), so the lists are stale, not
# fresh, and the roles' update_cache runs.
rm -f /var/lib/apt/periodic/update-success-stamp
touch -d @0 /var/lib/apt/lists
