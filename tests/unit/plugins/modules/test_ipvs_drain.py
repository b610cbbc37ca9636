"""ipvs_drain main() against a fake ipvsadm whose real server loses its connections poll after poll."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pytest
from ansible.module_utils import basic
from ansible_collections.lvs.dr.plugins.module_utils import ipvsadm
from ansible_collections.lvs.dr.plugins.modules import ipvs_drain

if TYPE_CHECKING:
    from ansible_collections.lvs.dr.tests.unit.plugins.modules.conftest import RunModule

BIN = "/usr/sbin/ipvsadm"
RS1 = "10.0.0.1"
RS2 = "10.0.0.2"


class FakeIpvsadm:
    """Two services; ``counts`` gives (active, inactive) of RS1 per listing, the last one repeating."""

    def __init__(self, counts: list[tuple[int, int]], persistent: bool = False) -> None:
        self.counts = list(counts)
        self.reads = 0
        self.restores: list[str] = []
        self.warnings: list[str] = []
        self.persistent = persistent
        self.owner_changes: dict[int, Any] = {}  # listing number -> change made before it
        # service -> {server: [weight, upper, lower]}
        self.table: dict[str, dict[str, list[int]]] = {
            "192.0.2.10:80": {f"{RS1}:80": [1, 50, 10], f"{RS2}:80": [1, 0, 0]},
            "192.0.2.10:443": {f"{RS1}:443": [2, 0, 0], f"{RS2}:443": [2, 0, 0]},
        }

    def __call__(self, _module: Any, cmd: list[str], data: Optional[str] = None, **_kw: Any) -> tuple[int, str, str]:
        assert cmd[0] == BIN
        argv = cmd[1:]
        if argv == ["-R"]:
            self.restores.append(data or "")
            for line in (data or "").splitlines():
                words = line.split()
                service, server = words[2], words[4]
                if words[0] == "-d":
                    del self.table[service][server]
                else:
                    assert words[0] == "-e" and words[5] == "-g"
                    options = dict(zip(words[6::2], words[7::2]))
                    self.table[service][server] = [int(options["-w"]), int(options.get("-x", 0)),
                                                   int(options.get("-y", 0))]
            return 0, "", ""
        assert argv[:2] == ["-L", "-n"]
        return 0, self.listing("--thresholds" in argv), ""

    def rs1_counts(self) -> tuple[int, int]:
        counts = self.counts[min(self.reads, len(self.counts) - 1)]
        return counts

    def listing(self, thresholds: bool) -> str:
        active, inactive = self.rs1_counts()
        if not thresholds:
            self.reads += 1
            if self.reads in self.owner_changes:  # keepalived applying its reload meanwhile
                self.owner_changes.pop(self.reads)(self.table)
        out = "IP Virtual Server version 1.2.1 (size=4096)\n"
        if thresholds:
            out += ("Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn\n"
                    "  -> RemoteAddress:Port\n")
        else:
            out += ("Prot LocalAddress:Port Scheduler Flags\n"
                    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
        for service in sorted(self.table):
            out += f"TCP  {service} wlc" + (" persistent 300" if self.persistent else "") + "\n"
            for server, (weight, upper, lower) in sorted(self.table[service].items()):
                a, i = (active, inactive) if server.startswith(RS1 + ":") and service.endswith(":80") else (0, 0)
                if thresholds:
                    out += f"  -> {server:<28} {upper:<10} {lower:<10} {a:<10} {i:<10}\n"
                else:
                    out += f"  -> {server:<28} Route   {weight:<6} {a:<10} {i:<10}\n"
        return out


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(counts: list[tuple[int, int]], **kwargs: Any) -> tuple[FakeIpvsadm, FakeTime]:
        kernel = FakeIpvsadm(counts, **kwargs)
        timer = FakeTime()
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: BIN)

        def run_command(module: Any, *args: Any, **kwargs: Any) -> tuple[int, str, str]:  # bound like a method
            return kernel(module, *args, **kwargs)

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda _module, msg: kernel.warnings.append(msg))
        monkeypatch.setattr(ipvsadm, "read_proc_ip_vs", lambda _path: None)  # the listings only
        monkeypatch.setattr(ipvs_drain, "clock", timer.clock)
        monkeypatch.setattr(ipvs_drain, "sleep", timer.sleep)
        monkeypatch.setattr(ipvs_drain, "quiescent_templates_expire", lambda: False)
        monkeypatch.setattr(ipvs_drain, "nodest_connections_expire", lambda: False)
        return kernel, timer

    return make


def test_drain_sets_weight_zero_keeps_thresholds_and_waits_for_the_active_connections(
        run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(3, 1), (3, 1), (2, 5), (0, 7)])
    result = run_module(ipvs_drain, {"real_server": RS1, "timeout": 60, "poll_interval": 2}, diff=True)
    assert result["changed"] is True and not result.get("failed")
    # one batch, both services, forwarding and thresholds carried over
    assert kernel.restores == [f"-e -t 192.0.2.10:443 -r {RS1}:443 -g -w 0\n"
                               f"-e -t 192.0.2.10:80 -r {RS1}:80 -g -w 0 -x 50 -y 10\n"]
    assert kernel.table["192.0.2.10:80"][f"{RS1}:80"] == [0, 50, 10]
    assert kernel.table["192.0.2.10:80"][f"{RS2}:80"] == [1, 0, 0]
    assert result["waited"] == 4.0 and timer.sleeps == [2, 2]
    assert result["timed_out"] is False and result["removed"] is False
    assert result["left"] == {"active": 0, "inactive": 7}  # inactive ones are not waited for by default
    assert [s["weight"] for s in result["services"]] == [0, 0]
    assert result["diff"] == [{
        "before_header": f"IPVS entries of {RS1}", "after_header": f"IPVS entries of {RS1}",
        "before": f"TCP 192.0.2.10:443 -> {RS1}:443 weight 2\nTCP 192.0.2.10:80 -> {RS1}:80 weight 1\n",
        "after": f"TCP 192.0.2.10:443 -> {RS1}:443 weight 0\nTCP 192.0.2.10:80 -> {RS1}:80 weight 0\n"}]


def test_wait_for_all_also_waits_for_the_inactive_ones(run_module: RunModule, fake: Any) -> None:
    _kernel, _timer = fake([(1, 4), (0, 2), (0, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "wait_for": "all"})
    # the first poll after the change still sees 2 inactive ones
    assert result["left"] == {"active": 0, "inactive": 0} and result["waited"] == 1.0


def test_a_drained_server_is_a_no_op(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(0, 0)])
    kernel.table["192.0.2.10:80"][f"{RS1}:80"][0] = 0
    kernel.table["192.0.2.10:443"][f"{RS1}:443"][0] = 0
    result = run_module(ipvs_drain, {"real_server": RS1})
    assert result["changed"] is False and kernel.restores == [] and result["commands"] == []


def test_timeout_fails_reports_what_is_left_and_keeps_the_server(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(3, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent", "timeout": 5, "poll_interval": 2})
    assert result["failed"] is True and result["parameter"] == "timeout"
    assert result["msg"].startswith(f"{RS1} still has 3 active and 0 inactive connections after 5 s: "
                                    f"TCP 192.0.2.10:443 -> {RS1}:443 (0/0), TCP 192.0.2.10:80 -> {RS1}:80 (3/0)")
    assert "was not removed" in result["msg"]
    assert result["left"] == {"active": 3, "inactive": 0} and result["timed_out"] is True and result["waited"] == 5.0
    assert f"{RS1}:80" in kernel.table["192.0.2.10:80"]  # not removed
    assert kernel.table["192.0.2.10:80"][f"{RS1}:80"][0] == 0  # but drained


def test_absent_removes_after_the_drain(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(1, 0), (0, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent"})
    assert result["changed"] is True and result["removed"] is True
    assert kernel.restores[-1] == (f"-d -t 192.0.2.10:443 -r {RS1}:443\n-d -t 192.0.2.10:80 -r {RS1}:80\n")
    assert all(not server.startswith(RS1) for service in kernel.table.values() for server in service)
    again = run_module(ipvs_drain, {"real_server": RS1, "state": "absent"})
    assert again["changed"] is False and again["removed"] is False


def test_absent_warns_when_it_removes_a_server_with_inactive_entries_left(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(1, 3), (0, 3)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent"})
    assert result["removed"] is True and result["left"] == {"active": 0, "inactive": 3}
    assert kernel.warnings == [f"{RS1} is removed with 3 inactive connection entries left: until they expire the "
                               "kernel drops the SYN of a new connection that reuses the client port of one "
                               "(net.ipv4.vs.expire_nodest_conn=0); wait_for=all waits for them"]
    kernel, _timer = fake([(1, 3), (0, 3), (0, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent", "wait_for": "all"})
    assert result["removed"] is True and result["left"] == {"active": 0, "inactive": 0} and kernel.warnings == []


def test_absent_without_fail_on_timeout_warns_and_cuts(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(2, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent", "timeout": 1, "fail_on_timeout": False})
    assert not result.get("failed") and result["removed"] is True and result["timed_out"] is True
    assert any("removing it cuts them" in warning for warning in kernel.warnings)
    assert f"{RS1}:80" not in kernel.table["192.0.2.10:80"]


def test_active_restores_the_weight(run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(0, 0)])
    kernel.table["192.0.2.10:80"][f"{RS1}:80"][0] = 0
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "active", "weight": 2, "port": 80})
    assert result["changed"] is True and timer.sleeps == []
    assert kernel.restores == [f"-e -t 192.0.2.10:80 -r {RS1}:80 -g -w 2 -x 50 -y 10\n"]
    assert kernel.table["192.0.2.10:443"][f"{RS1}:443"][0] == 2  # port 443 untouched (already 2 anyway)


def test_check_mode_predicts_without_touching_or_waiting(run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(3, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent"}, check=True)
    assert result["changed"] is True and result["removed"] is True and kernel.restores == [] and timer.sleeps == []
    assert result["commands"][-2:] == [f"-d -t 192.0.2.10:443 -r {RS1}:443", f"-d -t 192.0.2.10:80 -r {RS1}:80"]
    assert result["left"] == {"active": 3, "inactive": 0}


def test_persistent_service_warns_about_templates(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(0, 0)], persistent=True)
    run_module(ipvs_drain, {"real_server": RS1})
    assert any("expire_quiescent_template=1" in warning for warning in kernel.warnings)


@pytest.mark.parametrize(("args", "parameter", "message"), [
    ({"real_server": "10.0.0.300"}, "real_server",
     "real_server: is not a valid IPv4 or IPv6 address (got '10.0.0.300')"),
    ({"real_server": "10.0.0.9"}, "real_server", "real_server: 10.0.0.9 is in no virtual service of the table"),
    ({"real_server": RS1, "state": "active"}, "weight", "weight: needed with state=active"),
    ({"real_server": RS1, "weight": 3}, "weight", "weight: only with state=active (got weight=3 with state=drained)"),
    ({"real_server": RS1, "state": "active", "weight": 70000}, "weight", "weight: must be from 1 to 65535 (got 70000)"),
    ({"real_server": RS1, "timeout": -1}, "timeout", "timeout: must be from 0 to 86400 (got -1.0)"),
    ({"real_server": RS1, "poll_interval": 0}, "poll_interval", "poll_interval: must be from 0.1 to 60 (got 0.0)"),
    ({"real_server": RS1, "port": 0}, "port", "port: must be from 1 to 65535 (got 0)"),
])
def test_bad_input_names_the_parameter_and_changes_nothing(
        run_module: RunModule, fake: Any, args: dict[str, Any], parameter: str, message: str) -> None:
    kernel, _timer = fake([(3, 0)])
    result = run_module(ipvs_drain, args)
    assert result["failed"] is True and result["parameter"] == parameter
    assert result["msg"].startswith(message)
    assert kernel.restores == []


def _rs1_weight(weight: int) -> Any:
    def change(table: dict[str, dict[str, list[int]]]) -> None:
        for service in table.values():
            for server, fields in service.items():
                if server.startswith(RS1 + ":"):
                    fields[0] = weight
    return change


def _rs1_removed(table: dict[str, dict[str, list[int]]]) -> None:
    for service in table.values():
        for server in [server for server in service if server.startswith(RS1 + ":")]:
            del service[server]


def test_keepalived_owner_waits_for_its_weight_then_for_the_connections_and_writes_nothing(
        run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(3, 0), (3, 0), (3, 0), (1, 0), (0, 2)])
    kernel.owner_changes[3] = _rs1_weight(0)  # the third listing sees keepalived's weight 0
    result = run_module(ipvs_drain, {"real_server": RS1, "table_owner": "keepalived", "poll_interval": 1})
    assert not result.get("failed") and result["changed"] is False
    assert kernel.restores == [] and result["commands"] == []
    assert timer.sleeps == [1, 1, 1, 1] and result["waited"] == 4.0
    assert result["left"] == {"active": 0, "inactive": 2} and [s["weight"] for s in result["services"]] == [0, 0]


def test_keepalived_owner_absent_waits_until_the_server_is_gone(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(0, 1)])
    kernel.owner_changes[2] = _rs1_removed
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "absent", "table_owner": "keepalived"})
    assert not result.get("failed") and result["removed"] is True and kernel.restores == []
    assert result["waited"] == 1.0


def test_keepalived_owner_that_never_applies_fails_on_the_timeout(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(0, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "active", "weight": 3, "table_owner": "keepalived",
                                     "timeout": 3})
    assert result["failed"] is True and result["parameter"] == "timeout"
    assert result["msg"].startswith("timeout: keepalived has not set weight 3 within 3 s")
    assert kernel.restores == []


def test_keepalived_owner_timeout_of_the_connections_fails_and_reports_them(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(2, 0)])
    kernel.owner_changes[1] = _rs1_weight(0)
    result = run_module(ipvs_drain, {"real_server": RS1, "table_owner": "keepalived", "timeout": 2})
    assert result["failed"] is True and result["parameter"] == "timeout"
    assert result["msg"].startswith(f"{RS1} still has 2 active and 0 inactive connections after 2 s")
    assert result["left"] == {"active": 2, "inactive": 0} and kernel.restores == []


def test_keepalived_owner_server_out_of_the_table_warns(run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(0, 0)])
    _rs1_removed(kernel.table)
    result = run_module(ipvs_drain, {"real_server": RS1, "table_owner": "keepalived"})
    assert not result.get("failed") and result["changed"] is False and timer.sleeps == []
    assert any("health check fails" in warning for warning in kernel.warnings)


def test_keepalived_owner_check_mode_neither_waits_nor_writes(run_module: RunModule, fake: Any) -> None:
    kernel, timer = fake([(3, 0)])
    result = run_module(ipvs_drain, {"real_server": RS1, "table_owner": "keepalived"}, check=True)
    assert result["changed"] is False and timer.sleeps == [] and kernel.restores == []
    assert [s["weight"] for s in result["services"]] == [0, 0] and result["left"] == {"active": 3, "inactive": 0}


def test_keepalived_owner_active_waits_until_the_server_is_back(run_module: RunModule, fake: Any) -> None:
    kernel, _timer = fake([(0, 0)])
    _rs1_removed(kernel.table)

    def back(table: dict[str, dict[str, list[int]]]) -> None:
        table["192.0.2.10:80"][f"{RS1}:80"] = [2, 0, 0]
    kernel.owner_changes[3] = back
    result = run_module(ipvs_drain, {"real_server": RS1, "state": "active", "weight": 2, "table_owner": "keepalived"})
    assert not result.get("failed") and result["waited"] == 2.0 and kernel.restores == []
    assert [s["weight"] for s in result["services"]] == [2]
