"""The ipvsadm wrapper: binary lookup, locale, error classification, -R batch, restore-file defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import ipvsadm
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandError, CommandNotFound
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import IpvsTable, ServiceKey
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_sockopt import SockoptUnavailable
from ansible_collections.lvs.dr.plugins.module_utils.ipvsadm import (
    Ipvsadm,
    IpvsUnavailable,
    default_save_path,
    distro_family,
)


class FakeModule:
    def __init__(self, result: tuple[int, str, str] = (0, "", ""), binary: str | None = "/sbin/ipvsadm") -> None:
        self.result = result
        self.binary = binary
        self.calls: list[dict[str, Any]] = []

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: Any = None) -> str | None:
        assert name == "ipvsadm" and not required and "/usr/sbin" in opt_dirs
        return self.binary

    def run_command(self, cmd: list[str], **kwargs: Any) -> tuple[int, str, str]:
        self.calls.append(dict(kwargs, cmd=cmd))
        return self.result


def test_restore_is_one_call_on_stdin():
    module = FakeModule()
    Ipvsadm(module).restore(["-E -t 10.0.0.1:80 -s rr", "-e -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 2"])
    (call,) = module.calls
    assert call["cmd"] == ["/sbin/ipvsadm", "-R"]
    assert call["data"] == "-E -t 10.0.0.1:80 -s rr\n-e -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 2\n"
    assert call["binary_data"] is True and call["environ_update"]["LANG"] == "C" and call["check_rc"] is False


def test_empty_restore_runs_nothing():
    module = FakeModule()
    Ipvsadm(module).restore([])
    assert module.calls == []


def test_missing_binary():
    with pytest.raises(CommandNotFound, match="ipvsadm was not found"):
        Ipvsadm(FakeModule(binary=None)).save()


def test_no_ipvs_in_kernel():
    err = "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel?\n"
    with pytest.raises(IpvsUnavailable, match="no usable IPVS") as exc:
        Ipvsadm(FakeModule((2, "", err))).read_table()
    assert exc.value.fail_kwargs()["rc"] == 2


def test_stderr_with_rc_zero_is_an_error():
    # ipvsadm -R returns the status of the last line only; an earlier kernel error shows on stderr
    with pytest.raises(CommandError, match="Service already exists"):
        Ipvsadm(FakeModule((0, "", "Service already exists\n"))).restore(["-A -t 10.0.0.1:80 -s rr"])


def test_version_warning_is_not_an_error():
    warning = ("Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version 1.0.8\n"
               "  ipvsadm v1.31  requires minimum IPVS version 1.2.0\n\n")
    assert Ipvsadm(FakeModule((0, "-A -t 10.0.0.1:80 -s rr\n", warning))).save().startswith("-A")


@pytest.mark.parametrize(
    ("os_release", "family", "path"),
    [
        ('ID="centos"\nID_LIKE="rhel fedora"\n', "redhat", "/etc/sysconfig/ipvsadm"),
        ("ID=rocky\nID_LIKE=\"rhel centos fedora\"\n", "redhat", "/etc/sysconfig/ipvsadm"),
        ("ID=debian\n", "debian", "/etc/ipvsadm.rules"),
        ("ID=ubuntu\nID_LIKE=debian\n", "debian", "/etc/ipvsadm.rules"),
        ("ID=alpine\n", None, None),
        ("", None, None),
    ],
)
def test_restore_file_by_distro(os_release, family, path):
    assert distro_family(os_release) == family
    assert default_save_path(os_release) == path


class ListingModule(FakeModule):
    """Answers -Ln and -Ln --thresholds with the recorded fixtures."""

    def run_command(self, cmd: list[str], **kwargs: Any) -> tuple[int, str, str]:
        self.calls.append(dict(kwargs, cmd=cmd))
        name = "Ln_thresholds.txt" if "--thresholds" in cmd else "Ln.txt"
        return 0, (FIXTURES / name).read_text(), ""


FIXTURES = Path(__file__).parent / "fixtures" / "ipvsadm"


@pytest.mark.parametrize(
    ("proc", "calls"),
    [
        ("proc_net_ip_vs.txt", [["-L", "-n", "--thresholds"]]),  # one ipvsadm call
        (None, [["-L", "-n", "--thresholds"], ["-L", "-n"]]),  # no /proc/net/ip_vs: the listing
        ("changed", [["-L", "-n", "--thresholds"], ["-L", "-n"]]),  # disagrees with the listing: the listing
    ],
)
def test_read_table_takes_weights_from_proc(monkeypatch: pytest.MonkeyPatch, proc: str | None,
                                            calls: list[list[str]]) -> None:
    text = None if proc is None else (FIXTURES / "proc_net_ip_vs.txt").read_text()
    if proc == "changed":
        text = (text or "").replace("C0000281:0050", "C0000282:0050")
    monkeypatch.setattr(ipvsadm, "read_proc_ip_vs", lambda path: text)
    module = ListingModule()
    table = Ipvsadm(module).read_table()
    assert [call["cmd"][1:] for call in module.calls] == calls
    svc = table.by_key()[ServiceKey("tcp", "ipv4", "192.0.2.150", 443)]
    assert [(rs.address, rs.forwarding, rs.weight, rs.upper_threshold, rs.lower_threshold)
            for rs in svc.real_servers] == [("192.0.2.128", "dr", 2, 1000, 800), ("192.0.2.129", "dr", 0, 0, 0)]


def test_read_proc_ip_vs_missing_file(tmp_path: Path) -> None:
    assert ipvsadm.read_proc_ip_vs(str(tmp_path / "ip_vs")) is None


def test_read_table_takes_the_direct_read_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = IpvsTable(version="1.2.1", size=4096)
    monkeypatch.setattr(ipvsadm, "read_direct", lambda: direct)
    module = ListingModule()
    assert Ipvsadm(module).read_table() is direct
    assert module.calls == []  # no ipvsadm process


def test_read_table_without_ipvsadm_fails_as_before_even_with_a_direct_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipvsadm, "read_direct", IpvsTable)
    with pytest.raises(CommandNotFound):
        Ipvsadm(FakeModule(binary=None)).read_table()


def test_read_direct_is_none_when_the_sockopt_reader_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> IpvsTable:
        raise SockoptUnavailable("no raw socket")

    monkeypatch.undo()  # the autouse fixture's monkeypatch too: the real read_direct is back
    monkeypatch.setattr(ipvsadm, "read_sockopt_table", unavailable)
    assert ipvsadm.read_direct() is None
