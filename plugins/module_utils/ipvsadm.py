# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``ipvsadm`` commands and the reading of their output, on top of :mod:`command`.

* the binary, the locale and the error fields are :class:`command.CommandRunner`'s;
* changes go in one batch through ``ipvsadm -R`` on stdin. In ipvsadm 1.31
  ``restore_table()`` feeds every stdin line to ``process_options()``, so -A,
  -E, -D, -a, -e and -d lines are all accepted and nothing is flushed (only the
  ``ipvsadm-restore`` shell script runs ``ipvsadm -C`` first). Two quirks shape
  the error handling: a kernel error on one line is printed to stderr and the
  batch goes on, the exit status being that of the last line only; an option
  parse error exits at once. So any stderr output counts as failure, input is
  validated before the batch, and the caller re-reads the table afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.command import CommandError, CommandRunner
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.files import read_text
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    IpvsParseError,
    merge_listings,
    merge_proc,
    parse_connections,
    parse_listing,
    parse_proc_ip_vs,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import IpvsTable
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_netlink import Failure, NetlinkUnavailable, Operation
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_netlink import apply as apply_netlink
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_sockopt import SockoptUnavailable
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_sockopt import read_table as read_sockopt_table

# refused changes named in the error message
FAILURES_SHOWN = 10
# "Can't initialize ipvs: ..." (main() in ipvsadm.c) and the netlink/sockopt failures behind it
_NO_IPVS = re.compile(r"Can't initialize ipvs|Protocol not available|ip_vs.*not found|Module ip_vs not found", re.I)
# harmless warning printed by check_ipvs_version() on very old kernels
_VERSION_WARNING = re.compile(
    r"^(Warning: IPVS version mismatch:|\s+Kernel compiled with IPVS version|\s+ipvsadm v\S+\s+requires)"
)

# the IPVS table of this network namespace as the kernel prints it (ip_vs_info_seq_show)
PROC_IP_VS = "/proc/net/ip_vs"
RESTORE_FILES = {"redhat": "/etc/sysconfig/ipvsadm", "debian": "/etc/ipvsadm.rules"}
_REDHAT_IDS = {"rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn", "scientific", "redhat", "cloudlinux"}
_DEBIAN_IDS = {"debian", "ubuntu", "raspbian", "linuxmint", "devuan", "pop", "kali"}


class IpvsUnavailable(CommandError):
    """ipvsadm ran, but the kernel has no usable IPVS."""


def meaningful_stderr(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not _VERSION_WARNING.match(line)]
    return "\n".join(lines)


def distro_family(os_release: str) -> Optional[str]:
    """``redhat`` or ``debian`` from the text of /etc/os-release, else None."""
    values: dict[str, str] = {}
    for line in os_release.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip("\"'")
    ids = {values.get("ID", "").lower(), *values.get("ID_LIKE", "").lower().split()}
    if ids & _REDHAT_IDS:
        return "redhat"
    if ids & _DEBIAN_IDS:
        return "debian"
    return None


def default_save_path(os_release: str) -> Optional[str]:
    family = distro_family(os_release)
    return RESTORE_FILES.get(family) if family else None


def read_os_release(path: str = "/etc/os-release") -> str:
    return read_text(path) or ""


def read_proc_ip_vs(path: str) -> Optional[str]:
    """The text of /proc/net/ip_vs, None when it cannot be read (no IPVS loaded, /proc not mounted)."""
    return read_text(path)


def read_direct() -> Optional[IpvsTable]:
    """The table straight from the kernel (:mod:`ipvs_sockopt`), None when it cannot be described that way."""
    try:
        return read_sockopt_table()
    except (SockoptUnavailable, OSError):
        return None


def write_direct(operations: Sequence[Operation]) -> Optional[list[Failure]]:
    """Apply the operations over generic netlink (:mod:`ipvs_netlink`): the failures, None when nothing could
    be sent that way."""
    try:
        return apply_netlink(operations)
    except NetlinkUnavailable:
        return None


class Ipvsadm:
    """ipvsadm through a :class:`CommandRunner`; every method is one ipvsadm call."""

    def __init__(self, module: Any) -> None:
        self.runner = CommandRunner(module, "ipvsadm")

    def run(self, args: Sequence[str], data: Optional[str] = None) -> str:
        result = self.runner.run(args, data)
        err = result.stderr
        problem = meaningful_stderr(err)
        if _NO_IPVS.search(err):
            raise IpvsUnavailable(
                "the kernel has no usable IPVS (is the ip_vs module available and loaded? in a container it "
                "must be loaded on the host and the container must be privileged): " + problem.strip(),
                *result,
            )
        if result.rc != 0 or problem:
            raise CommandError(
                f"{result.command} failed (rc={result.rc}): {problem.strip() or result.stdout.strip()}", *result
            )
        return result.stdout

    # ---- reads: a fixed number of calls whatever the table size

    def list_raw(self, *extra: str) -> str:
        return self.run(["-L", "-n", *extra])

    def read_table(self) -> IpvsTable:
        """Services with weights, forwarding and thresholds, as ``ipvsadm -Ln --thresholds`` lists them.

        First straight from the kernel (:func:`read_direct`: IPv4 tables without persistence, the common large
        case, with no process and no text). Otherwise one ipvsadm call and /proc/net/ip_vs:
        ``ipvsadm -Ln --thresholds`` gives every service option and the thresholds, the kernel's
        /proc/net/ip_vs each real server's forwarding and weight (no other listing has both, and ``-S``
        drops thresholds). When that file cannot be read or does not describe the same real servers (the
        table changed in between), ``ipvsadm -Ln`` is read instead, as before.
        """
        self.runner.binary  # noqa: B018 -- no ipvsadm fails here as before, whichever way the table is read
        direct = read_direct()
        if direct is not None:
            return direct
        thresholds = parse_listing(self.list_raw("--thresholds"), "thresholds")
        proc = read_proc_ip_vs(PROC_IP_VS)
        if proc is not None:
            try:
                if merge_proc(thresholds, parse_proc_ip_vs(proc)):
                    return thresholds
            except (IpvsParseError, ValueError):
                pass  # a line this parser does not know: ipvsadm's listing says the same
        # a half-done merge only touched forwarding and weight, which the listing below replaces
        listing = parse_listing(self.list_raw(), "list")
        return merge_listings(listing, thresholds=thresholds)

    def read_full(self, stats: bool = True, rate: bool = True) -> IpvsTable:
        table = self.read_table()
        return merge_listings(
            table,
            stats=parse_listing(self.list_raw("--stats", "--exact"), "stats") if stats else None,
            rate=parse_listing(self.list_raw("--rate", "--exact"), "rate") if rate else None,
        )

    def connections(self) -> list[dict[str, object]]:
        return parse_connections(self.list_raw("-c"))

    def save(self) -> str:
        return self.run(["-S", "-n"])

    # ---- the one write path

    def apply(self, lines: Sequence[str], operations: Sequence[Operation]) -> str:
        """Apply the changes (each line with its operation): over generic netlink, else one ``ipvsadm -R``.

        Returns the way they went: ``netlink`` or ``ipvsadm -R``.
        """
        failures = write_direct(operations) if lines else []
        if failures is None:
            self.restore(lines)
            return "ipvsadm -R"
        if failures:
            shown = [f"{lines[f.index]}: {f.describe(operations[f.index].command)}" for f in failures[:FAILURES_SHOWN]]
            more = len(failures) - len(shown)
            raise LvsDrError(
                f"the kernel refused {len(failures)} of the {len(lines)} changes (the others were applied): "
                + "; ".join(shown) + (f"; and {more} more" if more > 0 else ""),
                commands=list(lines),
            )
        return "netlink"

    def restore(self, lines: Sequence[str]) -> None:
        """Apply all lines in one ``ipvsadm -R`` batch."""
        if not lines:
            return
        self.run(["-R"], data="".join(line + "\n" for line in lines))
