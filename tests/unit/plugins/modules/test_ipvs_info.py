"""ipvs_info main() on the recorded-format fixtures: five reads at most, filters, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils import basic
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_kernel import read_kernel_info
from ansible_collections.lvs.dr.plugins.modules import ipvs_info

FIXTURES = Path(__file__).parents[1] / "module_utils" / "fixtures" / "ipvsadm"
OUTPUT = {
    ("-L", "-n"): "Ln.txt",
    ("-L", "-n", "--thresholds"): "Ln_thresholds.txt",
    ("-L", "-n", "--stats", "--exact"): "Ln_stats_exact.txt",
    ("-L", "-n", "--rate", "--exact"): "Ln_rate_exact.txt",
    ("-L", "-n", "-c"): "Lnc.txt",
}


@pytest.fixture(autouse=True)
def fake_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel with ip_vs and rr loaded, wlc loadable, the other schedulers absent from the module index."""
    release = "6.1.0-18-amd64"
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "ip_vs").write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
    for module in ("ip_vs", "ip_vs_rr"):
        (tmp_path / "sys" / "module" / module).mkdir(parents=True)
    index = tmp_path / "modules" / release
    index.mkdir(parents=True)
    ipvs = "kernel/net/netfilter/ipvs"
    (index / "modules.dep").write_text(f"{ipvs}/ip_vs.ko.xz:\n{ipvs}/ip_vs_rr.ko.xz: {ipvs}/ip_vs.ko.xz\n"
                                       f"{ipvs}/ip_vs_wlc.ko.xz: {ipvs}/ip_vs.ko.xz\n")
    (index / "modules.builtin").write_text("kernel/net/ipv4/tcp_cubic.ko\n")
    roots = {"proc_root": str(tmp_path / "proc"), "sys_root": str(tmp_path / "sys"),
             "modules_root": str(tmp_path / "modules"), "release": release}
    monkeypatch.setattr(ipvs_info, "read_kernel_info", lambda: read_kernel_info(**roots))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []

    def run_command(_self: Any, cmd: list[str], **_kw: Any) -> tuple[int, str, str]:
        seen.append(tuple(cmd[1:]))
        return 0, (FIXTURES / OUTPUT[tuple(cmd[1:])]).read_text(), ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: "/usr/sbin/ipvsadm")
    return seen


def test_everything(run_module, calls):
    result = run_module(ipvs_info, {"connections": True}, check=True)
    assert len(calls) == 5 and result["changed"] is False
    assert result["version"] == "1.2.1" and result["table_size"] == 4096
    assert len(result["services"]) == 8 and len(result["connections"]) == 54
    https = result["services"][2]
    assert https["scheduler_flags"] == ["sh-fallback", "sh-port"] and https["stats"]["connections"] == 2
    rs = https["real_servers"][0]
    assert (rs["weight"], rs["upper_threshold"], rs["lower_threshold"]) == (2, 1000, 800)
    assert rs["stats"]["bytes_in"] == 117445926 and rs["rate"]["bytes_in_per_second"] == 6405279


def test_filter_and_options(run_module, calls):
    args = {"service": {"address": "192.0.2.150", "port": 80}, "rate": False, "connections": True}
    result = run_module(ipvs_info, args)
    assert ("-L", "-n", "--rate", "--exact") not in calls
    (svc,) = result["services"]
    assert svc["address"] == "192.0.2.150" and "rate" not in svc
    destinations = [c["destination_address"] for c in result["connections"]]
    # 27 of the recording's 54 entries are for this service; the weight-0 server got none
    assert destinations == ["192.0.2.128"] * 27


def test_filter_fwmark_ipv6(run_module, calls):
    result = run_module(ipvs_info, {"service": {"fwmark": 20, "family": "ipv6"}, "stats": False, "rate": False})
    assert result["services"][0]["persistence_engine"] == "sip"
    assert len(calls) == 2


def test_bad_filter_fails_before_ipvsadm(run_module, calls):
    result = run_module(ipvs_info, {"service": {"fwmark": 20, "address": "10.0.0.1"}})
    assert result["failed"] and result["msg"].startswith("service.address:") and calls == []


@pytest.mark.parametrize(("option", "value"), [("protocol", "icmp"), ("family", "ipv5")])
def test_service_key_choices_are_the_model_choices(run_module, calls, option, value):
    """ipvs_info's service options carry the same choices as ipvs_service's (built from ipvs_model)."""
    result = run_module(ipvs_info, {"service": {"fwmark": 20, option: value} if option == "family"
                                    else {"address": "10.0.0.1", "port": 80, option: value}})
    assert result["failed"] and f"value of {option} must be one of" in result["msg"] and calls == []


def test_kernel_is_returned_with_the_table(run_module, calls):
    result = run_module(ipvs_info, {"stats": False, "rate": False})
    assert len(calls) == 2 and len(result["services"]) == 8
    kernel = result["kernel"]
    assert (kernel["release"], kernel["ipvs_present"], kernel["ipvs_version"]) == ("6.1.0-18-amd64", True, "1.2.1")
    assert kernel["schedulers"]["available"] == ["rr", "wlc"] and kernel["schedulers"]["loaded"] == ["rr"]
    assert "twos" in kernel["schedulers"]["missing"] and kernel["schedulers"]["unknown"] == []


def test_table_false_needs_no_ipvsadm(run_module, calls, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: None)  # not installed
    result = run_module(ipvs_info, {"table": False}, check=True)
    assert calls == [] and not result.get("failed")
    assert set(result) == {"changed", "kernel"} and result["changed"] is False
    assert result["kernel"]["schedulers"]["loadable"] == ["wlc"]


TABLE_OPTIONS_WITHOUT_TABLE = [
    ({"connections": True}, "connections: needs table=true (got connections=True with table=false)"),
    ({"service": {"address": "192.0.2.150", "port": 80}}, "service: needs table=true"),
]


@pytest.mark.parametrize(("args", "message"), TABLE_OPTIONS_WITHOUT_TABLE)
def test_table_false_rejects_table_options(run_module, calls, args, message):
    result = run_module(ipvs_info, {"table": False, **args})
    assert result["failed"] and result["msg"].startswith(message) and calls == []


def test_missing_ipvsadm_fails_with_the_kernel_facts(run_module, calls, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: None)
    result = run_module(ipvs_info, {})
    assert result["failed"] and "ipvsadm was not found" in result["msg"]
    assert result["kernel"]["ipvs_present"] is True and calls == []
