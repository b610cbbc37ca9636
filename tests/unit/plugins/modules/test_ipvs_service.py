"""ipvs_service main() against a small fake kernel table driven through a fake ipvsadm binary."""

from __future__ import annotations

import errno
import ipaddress
import os
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from ansible.module_utils import basic
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.dr.plugins.module_utils import ipvsadm
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    add_service_line,
    delete_service_line,
    edit_service_line,
    server_line,
)
from ansible_collections.lvs.dr.plugins.modules import ipvs_info, ipvs_service

if TYPE_CHECKING:
    from ansible_collections.lvs.dr.tests.unit.plugins.modules.conftest import RunModule

BIN = "/usr/sbin/ipvsadm"


def _hostport(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _sep, port = text[1:].partition("]:")
        return host, int(port)
    host, _sep, port = text.rpartition(":")
    return host, int(port)


class FakeKernel:
    """Services keyed by their ipvsadm selector; renders ipvsadm 1.31 listings; applies -R lines."""

    SWITCH: ClassVar[dict[str, str]] = {"-t": "TCP", "-u": "UDP", "--sctp-service": "SCTP"}
    FWD: ClassVar[dict[str, str]] = {"-g": "Route", "-m": "Masq", "-i": "Tunnel"}

    def __init__(self, ipvs: bool = True) -> None:
        self.ipvs = ipvs
        self.services: dict[tuple[str, ...], dict[str, Any]] = {}
        self.calls: list[list[str]] = []
        self.restores: list[str] = []
        self.use_proc = True  # False: /proc/net/ip_vs cannot be read

    # ---- fake binary
    def __call__(self, _module: Any, cmd: list[str], data: str | None = None, environ_update: Any = None,
                 **_kw: Any) -> tuple[int, str, str]:
        assert cmd[0] == BIN and environ_update["LANG"] == "C"
        argv = cmd[1:]
        self.calls.append(argv)
        if not self.ipvs:
            return 2, "", ("Can't initialize ipvs: Protocol not available\n"
                           "Are you sure that IP Virtual Server is built in the kernel or as module?\n")
        if argv == ["-R"]:
            self.restores.append(data or "")
            for line in (data or "").splitlines():
                if not line.split():
                    continue  # ipvsadm skips blank lines
                err = self.apply(line.split())
                if err:
                    return 0, "", err + "\n"  # like ipvsadm: error printed, batch goes on
            return 0, "", ""
        if argv == ["-S", "-n"]:
            return 0, self.save(), ""
        assert argv[:2] == ["-L", "-n"]
        return 0, self.listing("--thresholds" in argv), ""

    def selector(self, words: list[str]) -> tuple[tuple[str, ...], list[str]]:
        if words[0] == "-f":
            if len(words) > 2 and words[2] == "-6":
                return ("-f", words[1], "-6"), words[3:]
            return ("-f", words[1]), words[2:]
        return (words[0], words[1]), words[2:]

    def apply(self, words: list[str]) -> str:
        cmd, rest = words[0], words[1:]
        key, opts = self.selector(rest)
        values: dict[str, str] = {}
        i = 0
        while i < len(opts):
            if opts[i] in ("-g", "-m", "-i", "-o"):
                values[opts[i]] = ""
                i += 1
            else:
                values[opts[i]] = opts[i + 1]
                i += 2
        svc = self.services.get(key)
        if cmd in ("-A", "-E"):
            if (cmd == "-A") == (svc is not None):
                return "Service already exists" if svc else "No such service"
            new = {"s": values.get("-s", "wlc"), "p": values.get("-p"), "M": values.get("-M"),
                   "b": values.get("-b"), "pe": values.get("--pe"), "o": "-o" in values,
                   "dests": svc["dests"] if svc else {}, "stats": svc["stats"] if svc else [0] * 5}
            self.services[key] = new
            return ""
        if svc is None:
            return "No such service"
        if cmd == "-D":
            del self.services[key]
            return ""
        dest = values["-r"]
        if cmd == "-d":
            return "" if svc["dests"].pop(dest, None) else "No such destination"
        fwd = next((self.FWD[s] for s in ("-g", "-m", "-i") if s in values), "Route")
        entry = {"fwd": fwd, "w": int(values.get("-w", 1)), "x": int(values.get("-x", 0)),
                 "y": int(values.get("-y", 0))}
        if (cmd == "-a") == (dest in svc["dests"]):
            return "Destination already exists" if cmd == "-a" else "No such destination"
        svc["dests"][dest] = entry
        return ""

    def _label(self, key: tuple[str, ...]) -> str:
        if key[0] == "-f":
            return f"FWM  {key[1]}" + (" IPv6" if len(key) > 2 else "")
        return "%-4s %s" % (self.SWITCH[key[0]], key[1])  # noqa: UP031 -- ipvsadm's printf format

    def listing(self, thresholds: bool) -> str:
        out = "IP Virtual Server version 1.2.1 (size=4096)\n"
        if thresholds:
            out += "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n" % (  # noqa: UP031
                "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
        else:
            out += ("Prot LocalAddress:Port Scheduler Flags\n"
                    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
        for key in sorted(self.services):
            svc = self.services[key]
            line = f"{self._label(key)} {svc['s']}"
            if svc["b"]:
                line += f" ({svc['b']})"
            if svc["p"]:
                line += f" persistent {svc['p']}"
                if svc["M"]:
                    line += f" mask {svc['M']}"
            if svc["o"]:
                line += " ops"
            out += line + "\n"
            for dest in sorted(svc["dests"]):
                d = svc["dests"][dest]
                if thresholds:
                    out += "  -> %-28s %-10u %-10u %-10u %-10u\n" % (dest, d["x"], d["y"], 0, 0)  # noqa: UP031
                else:
                    out += "  -> %-28s %-7s %-6d %-10u %-10u\n" % (dest, d["fwd"], d["w"], 0, 0)  # noqa: UP031
        return out

    @staticmethod
    def _proc_hostport(text: str) -> str:
        host, port = _hostport(text)
        address = ipaddress.ip_address(host)
        if address.version == 6:
            return f"[{address.exploded}]:{port:04X}"
        return f"{int(address):08X}:{port:04X}"

    def proc(self) -> str:
        """/proc/net/ip_vs as ip_vs_info_seq_show() writes it (no thresholds, real servers newest first)."""
        if not self.ipvs:
            return ""
        out = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
               "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
        for key in sorted(self.services):
            svc = self.services[key]
            if key[0] == "-f":
                out += f"FWM  {int(key[1]):08X} {svc['s']} \n"
            else:
                out += f"{self.SWITCH[key[0]]}  {self._proc_hostport(key[1])} {svc['s']}  \n"
            for dest in reversed(list(svc["dests"])):
                d = svc["dests"][dest]
                out += f"  -> {self._proc_hostport(dest)}      {d['fwd']:<7} {d['w']:<6} 0          0\n"
        return out

    def save(self) -> str:
        out = ""
        for key in sorted(self.services):
            svc = self.services[key]
            sel = " ".join(key)
            out += f"-A {sel} -s {svc['s']}" + (f" -p {svc['p']}" if svc["p"] else "") + "\n"
            for dest in sorted(svc["dests"]):
                d = svc["dests"][dest]
                sw = {"Route": "-g", "Masq": "-m", "Tunnel": "-i"}[d["fwd"]]
                out += f"-a {sel} -r {dest} {sw} -w {d['w']}\n"
        return out


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    fake = FakeKernel()

    def run_command(self: Any, cmd: list[str], **kw: Any) -> tuple[int, str, str]:
        return fake(self, cmd, **kw)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: BIN)
    monkeypatch.setattr(ipvsadm, "read_proc_ip_vs", lambda _path: fake.proc() if fake.use_proc else None)
    return fake


WEB = {"address": "192.168.206.150", "port": 80, "scheduler": "rr",
       "real_servers": [{"address": "192.168.206.128"}, {"address": "192.168.206.129"}]}


def test_create_then_idempotent(run_module: RunModule, kernel: FakeKernel) -> None:
    first = run_module(ipvs_service, WEB)
    assert first["changed"] is True
    assert first["commands"] == ["-A -t 192.168.206.150:80 -s rr",
                                 "-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1",
                                 "-a -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 1"]
    assert [c for c in kernel.calls if c == ["-R"]] == [["-R"]]  # one batch
    assert first["services"] == [{
        "protocol": "tcp", "address": "192.168.206.150", "port": 80, "family": "ipv4", "scheduler": "rr",
        "scheduler_flags": [], "persistence_timeout": None, "persistence_netmask": None, "state": "present",
        "real_servers": [
            {"address": f"192.168.206.{n}", "port": 80, "forwarding": "dr", "weight": 1, "upper_threshold": 0,
             "lower_threshold": 0} for n in (128, 129)]}]
    second = run_module(ipvs_service, WEB)
    assert second["changed"] is False and second["commands"] == []
    assert second["services"] == []  # return_services=changed (default): nothing changed, nothing listed
    every = run_module(ipvs_service, dict(WEB, return_services="all"))
    assert every["changed"] is False and every["services"] == first["services"]


def test_check_mode_predicts_exactly_and_changes_nothing(run_module: RunModule, kernel: FakeKernel) -> None:
    run_module(ipvs_service, WEB)
    change = dict(WEB, scheduler="wrr", real_servers=[{"address": "192.168.206.128", "weight": 3}])
    predicted = run_module(ipvs_service, change, check=True, diff=True)
    assert kernel.services[("-t", "192.168.206.150:80")]["s"] == "rr"
    assert len(kernel.restores) == 1
    real = run_module(ipvs_service, change, diff=True)
    for field in ("changed", "commands", "diff", "services"):
        assert predicted[field] == real[field], field
    assert real["commands"] == ["-E -t 192.168.206.150:80 -s wrr",
                                "-d -t 192.168.206.150:80 -r 192.168.206.129:80",
                                "-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 3"]


def test_a_scheduler_change_is_reported_and_warned_about(
    run_module: RunModule, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda _module, msg: warnings.append(msg))
    first = run_module(ipvs_service, WEB)
    assert first["scheduler_changes"] == [] and warnings == []  # a new service has no scheduler to change
    weight_only = run_module(ipvs_service, dict(WEB, real_servers=[{"address": "192.168.206.128", "weight": 3}]))
    assert weight_only["changed"] and weight_only["scheduler_changes"] == [] and warnings == []
    change = dict(WEB, scheduler="wrr")
    predicted = run_module(ipvs_service, change, check=True)
    real = run_module(ipvs_service, change)
    expected = [{"service": {"protocol": "tcp", "address": "192.168.206.150", "port": 80, "family": "ipv4"},
                 "rule": "-t 192.168.206.150:80", "before": "rr", "after": "wrr"}]
    assert predicted["scheduler_changes"] == real["scheduler_changes"] == expected
    assert warnings[0].startswith("the scheduler of -t 192.168.206.150:80 would change from rr to wrr: ")
    assert warnings[1].startswith("the scheduler of -t 192.168.206.150:80 changed from rr to wrr: ")
    assert "a new connection arriving in between is refused" in warnings[1]
    assert run_module(ipvs_service, change)["scheduler_changes"] == [] and len(warnings) == 2


def test_diff_rendered_only_when_asked(
    run_module: RunModule, kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    rendered: list[int] = []
    real_diff_texts = ipvs_service.diff_texts

    def counting(result: Any) -> tuple[str, str]:
        rendered.append(len(result.after))
        return real_diff_texts(result)

    monkeypatch.setattr(ipvs_service, "diff_texts", counting)
    change = dict(WEB, scheduler="wrr", real_servers=[{"address": "192.168.206.128", "weight": 3}])
    run_module(ipvs_service, WEB)
    predicted = run_module(ipvs_service, change, check=True)
    real = run_module(ipvs_service, change)
    assert rendered == [] and "diff" not in predicted and "diff" not in real
    # without diff mode, check mode still predicts the real run exactly
    for field in ("changed", "commands", "services"):
        assert predicted[field] == real[field], field
    assert real["commands"] == ["-E -t 192.168.206.150:80 -s wrr",
                                "-d -t 192.168.206.150:80 -r 192.168.206.129:80",
                                "-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 3"]
    saved = run_module(ipvs_service, dict(WEB, save=True, save_path=str(tmp_path / "rules")))
    assert rendered == [] and "diff" not in saved and saved["saved"] is True
    shown = run_module(ipvs_service, change, diff=True)
    assert rendered == [1] and shown["diff"][0]["before"] != shown["diff"][0]["after"]


def test_services_return_lists_changed_services_only(run_module: RunModule, kernel: FakeKernel) -> None:
    keep = dict(WEB, port=81)
    edit = dict(WEB, port=82)
    gone = dict(WEB, port=83, scheduler="wlc", real_servers=[{"address": "192.168.206.130", "weight": 4}])
    run_module(ipvs_service, {"services": [keep, edit, gone]})
    request = {"services": [
        keep,
        dict(edit, scheduler="wrr"),
        {"address": "192.168.206.150", "port": 83, "state": "absent"},
        {"address": "192.168.206.150", "port": 84, "state": "absent"},  # absent already: never listed
        dict(WEB, port=85),
    ]}
    predicted = run_module(ipvs_service, request, check=True)
    result = run_module(ipvs_service, request)
    assert predicted["services"] == result["services"]
    assert [(s["port"], s["state"]) for s in result["services"]] == [(82, "present"), (83, "absent"),
                                                                     (85, "present")]
    edited, removed, added = result["services"]
    assert edited["scheduler"] == "wrr"  # as it is after the run
    assert removed["scheduler"] == "wlc" and removed["real_servers"][0]["weight"] == 4  # as it was
    assert added["real_servers"][1]["address"] == "192.168.206.129"
    # all: every service of the task that exists, and the removed one, in request order
    request["services"][2] = dict(gone, state="absent")
    listed = run_module(ipvs_service, dict(request, return_services="all"))
    assert listed["changed"] is False
    assert [(s["port"], s["state"]) for s in listed["services"]] == [(81, "present"), (82, "present"),
                                                                     (85, "present")]
    assert listed["services"][1] == edited and listed["services"][2] == added
    restored = run_module(ipvs_service, {"services": [gone], "return_services": "all"})
    assert restored["services"] == [dict(removed, state="present")]
    assert run_module(ipvs_service, {"services": [dict(gone, state="absent")], "return_services": "all"})["services"] \
        == [removed]


def test_in_place_edit_keeps_service_object(run_module: RunModule, kernel: FakeKernel) -> None:
    run_module(ipvs_service, WEB)
    svc = kernel.services[("-t", "192.168.206.150:80")]
    svc["stats"] = [5, 50, 0, 3000, 0]
    run_module(ipvs_service, dict(WEB, scheduler="wlc"))
    assert kernel.services[("-t", "192.168.206.150:80")]["stats"] == [5, 50, 0, 3000, 0]
    assert not any(line.startswith("-D") for batch in kernel.restores for line in batch.splitlines())


def test_diff_content(run_module: RunModule, kernel: FakeKernel) -> None:
    result = run_module(ipvs_service, WEB, diff=True)
    assert [entry["before_header"] for entry in result["diff"]] == ["ipvs table (managed services)"]
    assert result["diff"][0]["before"] == ""
    assert result["diff"][0]["after"] == ("-A -t 192.168.206.150:80 -s rr\n"
                                          "-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1\n"
                                          "-a -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 1\n")
    gone = run_module(ipvs_service, dict(WEB, state="absent"), diff=True)
    assert gone["diff"][0]["after"] == "" and gone["diff"][0]["before"] == result["diff"][0]["after"]
    assert gone["commands"] == ["-D -t 192.168.206.150:80"]


def test_absent_removes_only_target(run_module: RunModule, kernel: FakeKernel) -> None:
    kernel.apply(["-A", "-t", "10.9.9.9:25", "-s", "rr"])
    run_module(ipvs_service, WEB)
    run_module(ipvs_service, dict(WEB, state="absent"))
    assert list(kernel.services) == [("-t", "10.9.9.9:25")]


def test_bulk_services_fixed_number_of_calls(run_module: RunModule, kernel: FakeKernel) -> None:
    services = [{"address": f"10.1.{i // 200}.{i % 200 + 1}", "port": 80, "scheduler": "rr",
                 "real_servers": [{"address": "10.2.0.1"}, {"address": "10.2.0.2"}]} for i in range(300)]
    result = run_module(ipvs_service, {"services": services})
    assert result["changed"] and len(result["commands"]) == 900
    # one ipvsadm listing per read (weights from /proc/net/ip_vs): read, restore, verifying read
    assert [call[:3] for call in kernel.calls] == [["-L", "-n", "--thresholds"], ["-R"], ["-L", "-n", "--thresholds"]]
    # the 300 entries are not echoed back in invocation; a short list is (Ansible's default)
    assert result["invocation"]["module_args"]["services"] == "(300 entries, not echoed back)"
    assert result["invocation"]["module_args"]["return_services"] == "changed"
    kernel.calls.clear()
    again = run_module(ipvs_service, {"services": services})
    assert again["changed"] is False and len(kernel.calls) == 1
    assert "invocation" not in run_module(ipvs_service, {"services": services[:100]})
    bad = [dict(service) for service in services]
    bad[250] = dict(bad[250], real_servers=[{"address": "10.2.0.1"}, {"address": "10.2.0.2", "weight": -1}])
    failed = run_module(ipvs_service, {"services": bad})
    assert failed["failed"] and failed["parameter"] == "services[250].real_servers[1].weight"
    assert failed["invocation"]["module_args"]["services"] == "(300 entries, not echoed back)"


@pytest.mark.parametrize("use_proc", [True, False])
def test_weights_and_forwarding_read_with_or_without_proc(
    run_module: RunModule, kernel: FakeKernel, use_proc: bool
) -> None:
    kernel.use_proc = use_proc
    web = dict(WEB, real_servers=[{"address": "192.168.206.128", "weight": 3, "upper_threshold": 50},
                                  {"address": "192.168.206.129", "forwarding": "tunnel", "weight": 0}])
    assert run_module(ipvs_service, web)["changed"]
    kernel.calls.clear()
    assert run_module(ipvs_service, web)["changed"] is False
    assert len(kernel.calls) == (1 if use_proc else 2)
    kernel.services[("-t", "192.168.206.150:80")]["dests"]["192.168.206.129:80"]["w"] = 1  # changed by hand
    result = run_module(ipvs_service, web)
    assert result["commands"] == ["-e -t 192.168.206.150:80 -r 192.168.206.129:80 -i -w 0"]


def test_thresholds_compared(run_module: RunModule, kernel: FakeKernel) -> None:
    spec = dict(WEB, real_servers=[{"address": "192.168.206.128", "upper_threshold": 100, "lower_threshold": 10}])
    run_module(ipvs_service, spec)
    assert run_module(ipvs_service, spec)["changed"] is False
    servers = [{"address": "192.168.206.128", "upper_threshold": 200}]
    changed = run_module(ipvs_service, dict(spec, real_servers=servers))
    assert changed["commands"] == ["-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1 -x 200"]


def test_validation_error_wins_over_missing_ipvsadm(
    run_module: RunModule, monkeypatch: pytest.MonkeyPatch, kernel: FakeKernel
) -> None:
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda *_a, **_k: None)
    bad = run_module(ipvs_service, dict(WEB, real_servers=[{"address": "192.168.206.128", "weight": 70000}]))
    assert bad["failed"] and bad["msg"].startswith("real_servers[0].weight:") and "70000" in bad["msg"]
    missing = run_module(ipvs_service, WEB)
    assert missing["failed"] and "ipvsadm was not found" in missing["msg"]
    assert kernel.calls == []


def test_validation_error_wins_over_missing_ipvs(run_module: RunModule, kernel: FakeKernel) -> None:
    kernel.ipvs = False
    bad = run_module(ipvs_service, {"services": [WEB, dict(WEB, scheduler="fastest", port=81)]})
    assert bad["msg"].startswith("services[1].scheduler:") and "'fastest'" in bad["msg"]
    assert kernel.calls == []
    unavailable = run_module(ipvs_service, WEB)
    assert unavailable["failed"] and "no usable IPVS" in unavailable["msg"]


def test_unknown_option_in_a_services_entry_fails_before_ipvsadm(run_module: RunModule, kernel: FakeKernel) -> None:
    typo = dict(WEB, port=81, real_servers=[{"address": "10.0.0.2", "wieght": 2}])
    bad = run_module(ipvs_service, {"services": [WEB, typo]})
    assert bad["failed"] and bad["msg"].startswith("services[1].real_servers[0]: unsupported option(s) wieght")
    assert kernel.calls == []


ARGUMENT_SPEC_ERRORS = [
    (dict(WEB, return_services="some"), "return_services"),
    ({"fwmark": 5, "address": "10.0.0.1", "port": 80}, "mutually exclusive"),
    ({"scheduler": "rr"}, "one of the following is required"),
]


@pytest.mark.parametrize(("args", "message"), ARGUMENT_SPEC_ERRORS)
def test_argument_spec_errors(run_module: RunModule, kernel: FakeKernel, args: dict[str, Any], message: str) -> None:
    bad = run_module(ipvs_service, args)
    assert bad["failed"] and message in bad["msg"]
    assert kernel.calls == []


def test_kernel_error_in_batch_fails(run_module: RunModule, kernel: FakeKernel) -> None:
    run_module(ipvs_service, WEB)
    del kernel.services[("-t", "192.168.206.150:80")]["dests"]["192.168.206.129:80"]
    orig = kernel.apply

    def flaky(words: list[str]) -> str:
        return "Memory allocation problem" if words[0] == "-a" else orig(words)

    kernel.apply = flaky  # type: ignore[method-assign]
    result = run_module(ipvs_service, WEB)
    assert result["failed"] and "Memory allocation problem" in result["msg"]


def test_save_writes_only_when_different(run_module: RunModule, kernel: FakeKernel, tmp_path: Any) -> None:
    path = tmp_path / "ipvsadm.rules"
    first = run_module(ipvs_service, dict(WEB, save=True, save_path=str(path)), diff=True)
    assert first["saved"] is True and path.read_text() == kernel.save()
    assert first["diff"][1]["after"] == kernel.save()
    second = run_module(ipvs_service, dict(WEB, save=True, save_path=str(path)))
    assert second["changed"] is False and second["saved"] is False
    path.write_text("# stale\n")
    third = run_module(ipvs_service, dict(WEB, save=True, save_path=str(path)), check=True)
    assert third["changed"] is True and third["saved"] is True and path.read_text() == "# stale\n"


BAD_SAVE_PATHS = [
    ("missing/rules", "directory {tmp}/missing does not exist"),
    ("a-file/rules", "{tmp}/a-file is not a directory"),
    ("a-dir", "is a directory, expected a file name"),
    ("read-only/rules", "directory {tmp}/read-only is not writable"),
]


@pytest.mark.parametrize(("where", "reason"), BAD_SAVE_PATHS)
@pytest.mark.parametrize("check", [False, True])
def test_bad_save_path_fails_before_anything_runs(
    run_module: RunModule, kernel: FakeKernel, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, where: str,
    reason: str, check: bool,
) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "read-only").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda path, mode: not str(path).endswith("read-only") and real_access(path, mode))
    path = str(tmp_path / where)
    bad = run_module(ipvs_service, dict(WEB, save=True, save_path=path), check=check)
    assert bad["failed"] and bad["parameter"] == "save_path"
    assert bad["msg"] == f"save_path: {reason.format(tmp=tmp_path)} (got {path!r})"
    assert kernel.calls == [] and kernel.restores == [] and kernel.services == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir", "a-file", "read-only"]
    assert list((tmp_path / "a-dir").iterdir()) == [] and list((tmp_path / "read-only").iterdir()) == []


def test_save_check_mode_prediction_matches_real_run(run_module: RunModule, kernel: FakeKernel, tmp_path: Any) -> None:
    path = tmp_path / "rules"
    # the fake lists in string order; pick a foreign service whose libipvs order is the same
    kernel.apply(["-A", "-t", "192.168.206.10:25", "-s", "rr"])
    args = dict(WEB, save=True, save_path=str(path))
    predicted = run_module(ipvs_service, args, check=True, diff=True)
    real = run_module(ipvs_service, args, diff=True)
    assert predicted["diff"] == real["diff"] and predicted["changed"] == real["changed"]


def test_ipvs_info(run_module: RunModule, kernel: FakeKernel) -> None:
    run_module(ipvs_service, WEB)
    info = run_module(ipvs_info, {"stats": False, "rate": False})
    assert info["changed"] is False and info["version"] == "1.2.1"
    assert info["services"][0]["real_servers"][0]["forwarding"] == "dr"
    one = run_module(ipvs_info, {"service": {"address": "192.168.206.151", "port": 80}, "stats": False, "rate": False})
    assert one["services"] == []
    bad = run_module(ipvs_info, {"service": {"address": "10.0.0.999", "port": 80}})
    assert bad["failed"] and bad["msg"].startswith("service.address:")


def test_ipv6_and_fwmark_services_read_through_proc(run_module: RunModule, kernel: FakeKernel) -> None:
    services = [
        {"address": "2001:db8::150", "port": 80, "scheduler": "wrr",
         "real_servers": [{"address": "2001:db8::128", "weight": 5}, {"address": "2001:db8::129"}]},
        {"fwmark": 10, "scheduler": "lc", "real_servers": [{"address": "192.0.2.128", "weight": 2}]},
        {"fwmark": 20, "family": "ipv6", "real_servers": [{"address": "2001:db8::128", "weight": 0}]},
    ]
    assert run_module(ipvs_service, {"services": services})["changed"]
    kernel.calls.clear()
    assert run_module(ipvs_service, {"services": services})["changed"] is False
    assert kernel.calls == [["-L", "-n", "--thresholds"]]  # /proc/net/ip_vs agreed: no second listing


def line_of(operation: nl.Operation) -> str:
    """The ipvsadm -R line that does what a netlink operation does."""
    item = operation.item
    if operation.command == nl.CMD_NEW_SERVICE:
        return add_service_line(item)  # type: ignore[arg-type]
    if operation.command == nl.CMD_SET_SERVICE:
        return edit_service_line(item)  # type: ignore[arg-type]
    if operation.command == nl.CMD_DEL_SERVICE:
        return delete_service_line(operation.key)
    switch = {nl.CMD_NEW_DEST: "-a", nl.CMD_SET_DEST: "-e", nl.CMD_DEL_DEST: "-d"}[operation.command]
    return server_line(switch, operation.key, item)  # type: ignore[arg-type]


@pytest.fixture
def netlink(monkeypatch: pytest.MonkeyPatch, kernel: FakeKernel) -> list[str]:
    """The fake kernel also answers the netlink writes; what they did, as lines."""
    done: list[str] = []
    meaning = {"Service already exists": errno.EEXIST, "No such service": errno.ESRCH,
               "Destination already exists": errno.EEXIST, "No such destination": errno.ENOENT}

    def write(operations: list[nl.Operation]) -> list[nl.Failure]:
        failures = []
        for index, operation in enumerate(operations):
            line = line_of(operation)
            done.append(line)
            error = kernel.apply(line.split())
            if error:
                failures.append(nl.Failure(index, meaning.get(error, errno.ENOMEM)))
        return failures

    monkeypatch.setattr(ipvsadm, "write_direct", write)
    return done


def test_changes_go_over_netlink_when_it_answers(run_module: RunModule, kernel: FakeKernel, netlink: list[str]) -> None:
    first = run_module(ipvs_service, WEB)
    assert first["changed"] is True and first["applied_with"] == "netlink"
    assert netlink == first["commands"]  # each operation is its line
    assert ["-R"] not in kernel.calls
    edited = dict(WEB, scheduler="wrr", real_servers=[{"address": "192.168.206.128", "weight": 3},
                                                      {"address": "192.168.206.130"}])
    second = run_module(ipvs_service, edited)
    assert second["commands"] == ["-E -t 192.168.206.150:80 -s wrr",
                                  "-d -t 192.168.206.150:80 -r 192.168.206.129:80",
                                  "-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 3",
                                  "-a -t 192.168.206.150:80 -r 192.168.206.130:80 -g -w 1"]
    assert netlink[3:] == second["commands"]
    again = run_module(ipvs_service, edited)
    assert again["changed"] is False and "applied_with" not in again
    gone = run_module(ipvs_service, dict(WEB, state="absent"))
    assert gone["commands"] == netlink[-1:] == ["-D -t 192.168.206.150:80"]
    assert kernel.services == {}


def test_changes_go_to_ipvsadm_when_netlink_cannot_be_used(run_module: RunModule, kernel: FakeKernel) -> None:
    result = run_module(ipvs_service, WEB)
    assert result["applied_with"] == "ipvsadm -R"
    assert ["-R"] in kernel.calls


def test_check_mode_sends_nothing(run_module: RunModule, kernel: FakeKernel, netlink: list[str]) -> None:
    result = run_module(ipvs_service, WEB, check=True)
    assert result["changed"] is True and "applied_with" not in result
    assert netlink == [] and kernel.services == {}


def test_refused_netlink_changes_are_named(run_module: RunModule, kernel: FakeKernel, netlink: list[str]) -> None:
    run_module(ipvs_service, WEB)
    del kernel.services[("-t", "192.168.206.150:80")]["dests"]["192.168.206.129:80"]
    orig = kernel.apply

    def flaky(words: list[str]) -> str:
        return "Memory allocation problem" if words[0] == "-a" else orig(words)

    kernel.apply = flaky  # type: ignore[method-assign]
    result = run_module(ipvs_service, dict(WEB, real_servers=[*WEB["real_servers"], {"address": "192.168.206.131"}]))
    assert result["failed"]
    assert result["msg"] == (
        "the kernel refused 2 of the 2 changes (the others were applied): "
        "-a -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 1: Cannot allocate memory (ENOMEM); "
        "-a -t 192.168.206.150:80 -r 192.168.206.131:80 -g -w 1: Cannot allocate memory (ENOMEM)")
    assert result["commands"] == netlink[-2:]


def test_at_most_ten_refused_changes_are_named(run_module: RunModule, kernel: FakeKernel, netlink: list[str]) -> None:
    kernel.apply = lambda _words: "Memory allocation problem"  # type: ignore[method-assign]
    services = [dict(WEB, port=port) for port in range(1000, 1012)]
    result = run_module(ipvs_service, {"services": services})
    assert result["failed"] and result["msg"].startswith("the kernel refused 36 of the 36 changes")
    assert result["msg"].count("(ENOMEM)") == 10 and result["msg"].endswith("; and 26 more")
