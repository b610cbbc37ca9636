#!/bin/sh
# Runs inside the lab guest's root file system (chroot) at build time.
# The guest is a throwaway Debian with the stock kernel whose only job is to
# run dockerd with IPVS available to privileged containers.
set -eu

echo lvs-dr-labhost > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 lvs-dr-labhost\n' > /etc/hosts
printf '/dev/vda / ext4 rw,noatime 0 0\n' > /etc/fstab
# QEMU user networking: fixed addresses, so boot never waits for DHCP.
rm -f /etc/resolv.conf
printf 'nameserver 10.0.2.3\n' > /etc/resolv.conf
mkdir -p /etc/systemd/network
cat > /etc/systemd/network/10-uplink.network <<'NET'
[Match]
Name=eth0

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DNS=10.0.2.3
LinkLocalAddressing=no
IPv6AcceptRA=no
NET
systemctl enable systemd-networkd.service

# IPVS and its schedulers are loaded at boot, not on first use.
cat > /etc/modules-load.d/lvs-dr.conf <<'MODS'
ip_vs
ip_vs_rr
ip_vs_wrr
ip_vs_lc
ip_vs_wlc
ip_vs_lblc
ip_vs_lblcr
ip_vs_dh
ip_vs_sh
ip_vs_sed
ip_vs_nq
ip_vs_fo
ip_vs_ovf
ip_vs_mh
overlay
veth
bridge
br_netfilter
MODS

# The Docker API is published on the guest's NIC with mutual TLS only; QEMU
# forwards it to 127.0.0.1 on the host.
mkdir -p /etc/systemd/system/docker.service.d
cat > /etc/systemd/system/docker.service.d/lvs-dr.conf <<'UNIT'
[Unit]
After=systemd-modules-load.service

[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tlsverify --tlscacert=/etc/docker/tls/ca.pem --tlscert=/etc/docker/tls/server-cert.pem --tlskey=/etc/docker/tls/server-key.pem --containerd=/run/containerd/containerd.sock
UNIT
cat > /etc/docker/daemon.json <<'JSON'
{
  "storage-driver": "overlay2",
  "log-driver": "local",
  "features": {"buildkit": false}
}
JSON
chmod 0700 /etc/docker/tls
systemctl enable docker.service containerd.service

# Nothing else runs: every unit costs seconds under software emulation.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
            systemd-timesyncd.service getty@tty1.service serial-getty@ttyS0.service \
            systemd-journal-flush.service systemd-networkd-wait-online.service \
            ipvsadm.service; do
    systemctl mask "$unit" >/dev/null 2>&1 || true
done
passwd -l root >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
