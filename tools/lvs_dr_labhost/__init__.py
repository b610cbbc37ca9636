"""The lvs.dr lab host behind tools/labhost, one module per concern.

common     errors, logging, the cache and run directories, the command runner
hosttools  the host's prerequisites: tools, the Debian mirror, root
kernel     Debian's kernel unpacked, its uncompressed vmlinux and a small initrd
tls        the CA, server and client keys of the guest's Docker API
images     root file systems: the guest disk and the lab node tarballs
engine     a Docker engine: its client environment, ping, image import, IPVS probe
qemu       the guest: start, QMP, readiness, stop; the disk layer with the images
commands   the subcommands (up, cache, env, status, down, images, exec)
"""
