"""Every validation rule of ipvs_service/ipvs_info input: the message names the parameter and the value."""

from __future__ import annotations

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import SCHEDULERS
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import (
    ValidationError,
    validate_request,
    validate_save_path,
    validate_service,
    validate_service_key,
)

VIP = {"address": "192.168.206.150", "port": 80}


def svc(**extra):
    data = dict(VIP)
    data.update(extra)
    return data


# (id, params for validate_request, expected parameter, text expected in the message)
BAD = [
    ("bad-address", {"address": "192.168.206.300", "port": 80}, "address", "'192.168.206.300'"),
    ("hostname", {"address": "vip.example.com", "port": 80}, "address", "'vip.example.com'"),
    ("cidr-address", {"address": "192.168.206.150/32", "port": 80}, "address", "192.168.206.150/32"),
    ("port-high", svc(port=65536), "port", "65536"),
    ("port-zero-not-persistent", svc(port=0), "port", "(got 0)"),
    ("port-negative", svc(port=-1), "port", "-1"),
    ("no-port", {"address": "192.168.206.150"}, "port", "required"),
    ("nothing", {}, "address", "required"),
    ("protocol", svc(protocol="icmp"), "protocol", "'icmp'"),
    ("scheduler", svc(scheduler="fastest"), "scheduler", "'fastest'"),
    ("flag-unknown", svc(scheduler="sh", scheduler_flags=["sh-turbo"]), "scheduler_flags[0]", "'sh-turbo'"),
    ("flag-wrong-sched", svc(scheduler="rr", scheduler_flags=["sh-port"]), "scheduler_flags[0]", "'sh-port'"),
    ("flag-mh-on-sh", svc(scheduler="sh", scheduler_flags=["sh-port", "mh-port"]), "scheduler_flags[1]", "'mh-port'"),
    ("fwmark-and-address", {"fwmark": 5, "address": "192.168.206.150"}, "address", "cannot be combined with fwmark"),
    ("fwmark-and-port", {"fwmark": 5, "port": 80}, "port", "(got 80)"),
    ("fwmark-and-protocol", {"fwmark": 5, "protocol": "udp"}, "protocol", "'udp'"),
    ("fwmark-zero", {"fwmark": 0}, "fwmark", "(got 0)"),
    ("fwmark-huge", {"fwmark": 2**32}, "fwmark", str(2**32)),
    ("family-bad", {"fwmark": 5, "family": "ipx"}, "family", "'ipx'"),
    ("family-without-fwmark", svc(family="ipv6"), "family", "'ipv6'"),
    ("timeout-zero", svc(persistence_timeout=0), "persistence_timeout", "(got 0)"),
    ("timeout-huge", svc(persistence_timeout=86400 * 31 + 1), "persistence_timeout", "2678401"),
    ("mask-without-timeout", svc(persistence_netmask="255.255.255.0"), "persistence_netmask", "requires"),
    ("mask-v4-noncontiguous", svc(persistence_timeout=60, persistence_netmask="255.0.255.0"), "persistence_netmask",
     "'255.0.255.0'"),
    ("mask-v4-prefix", svc(persistence_timeout=60, persistence_netmask="24"), "persistence_netmask", "'24'"),
    ("mask-v6-range", {"address": "2001:db8::1", "port": 80, "persistence_timeout": 60, "persistence_netmask": "129"},
     "persistence_netmask", "'129'"),
    ("state", svc(state="gone"), "state", "'gone'"),
    ("rs-no-address", svc(real_servers=[{"weight": 1}]), "real_servers[0].address", "required"),
    ("rs-bad-address", svc(real_servers=[{"address": "10.0.0.256"}]), "real_servers[0].address", "'10.0.0.256'"),
    ("rs-mixed-family", svc(real_servers=[{"address": "2001:db8::2"}]), "real_servers[0].address", "'2001:db8::2'"),
    ("rs-weight-high", svc(real_servers=[{"address": "10.0.0.2", "weight": 65536}]), "real_servers[0].weight", "65536"),
    ("rs-weight-negative", svc(real_servers=[{"address": "10.0.0.2", "weight": -1}]), "real_servers[0].weight", "-1"),
    ("rs-upper-high", svc(real_servers=[{"address": "10.0.0.2", "upper_threshold": 70000}]),
     "real_servers[0].upper_threshold", "70000"),
    ("rs-lower-high", svc(real_servers=[{"address": "10.0.0.2", "lower_threshold": 65536}]),
     "real_servers[0].lower_threshold", "65536"),
    ("rs-lower-above-upper", svc(real_servers=[{"address": "10.0.0.2", "upper_threshold": 10, "lower_threshold": 20}]),
     "real_servers[0].lower_threshold", "(got 20)"),
    ("rs-forwarding", svc(real_servers=[{"address": "10.0.0.2", "forwarding": "route"}]),
     "real_servers[0].forwarding", "'route'"),
    ("rs-dr-other-port", svc(real_servers=[{"address": "10.0.0.2", "port": 8080}]), "real_servers[0].port", "8080"),
    ("rs-port-high", svc(real_servers=[{"address": "10.0.0.2", "forwarding": "nat", "port": 70000}]),
     "real_servers[0].port", "70000"),
    ("rs-duplicate", svc(real_servers=[{"address": "10.0.0.2"}, {"address": "10.0.0.3"}, {"address": "10.0.0.2"}]),
     "real_servers[2]", "duplicates real_servers[0]"),
    ("rs-duplicate-v6-spelling", {"address": "2001:db8::1", "port": 80,
                                  "real_servers": [{"address": "2001:db8::2"}, {"address": "2001:DB8:0::2"}]},
     "real_servers[1]", "'2001:DB8:0::2'"),
    ("rs-not-dict", svc(real_servers=["10.0.0.2"]), "real_servers[0]", "'10.0.0.2'"),
    ("services-dup", {"services": [svc(), {"address": "192.168.206.150", "port": 80, "scheduler": "rr"}]},
     "services[1]", "duplicates services[0]"),
    ("services-nested-weight", {"services": [svc(), svc(port=81, real_servers=[
        {"address": "10.0.0.1"}, {"address": "10.0.0.2", "weight": 99999}])]},
     "services[1].real_servers[1].weight", "99999"),
    ("services-nested-fwmark-address", {"services": [{"fwmark": 3, "address": "10.0.0.1"}]}, "services[0].address",
     "'10.0.0.1'"),
    ("services-with-single", {"services": [svc()], "address": "10.0.0.1"}, "address", "cannot be combined"),
    ("services-not-list", {"services": "x"}, "services", "'x'"),
    ("weight-bool", svc(real_servers=[{"address": "10.0.0.2", "weight": True}]), "real_servers[0].weight", "True"),
    ("services-unknown-option", {"services": [svc(), svc(port=81, schedular="rr")]}, "services[1]",
     "unsupported option(s) schedular"),
    ("services-nested-unknown-option", {"services": [svc(real_servers=[{"address": "10.0.0.2", "wieght": 2}])]},
     "services[0].real_servers[0]", "unsupported option(s) wieght"),
    ("services-nested-not-dict", {"services": [svc(), "10.0.0.1:80"]}, "services[1]", "'10.0.0.1:80'"),
    ("services-nested-port-text", {"services": [svc(port="http")]}, "services[0].port", "'http'"),
    ("services-nested-flags-not-list", {"services": [svc(scheduler="sh", scheduler_flags=5)]},
     "services[0].scheduler_flags", "(got 5)"),
]


@pytest.mark.parametrize(("params", "parameter", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_names_parameter_and_value(params, parameter, fragment):
    with pytest.raises(ValidationError) as err:
        validate_request(params)
    assert err.value.parameter == parameter
    message = str(err.value)
    assert message.startswith(parameter + ":")
    assert fragment in message


def test_many_bad_cases():
    assert len(BAD) >= 40


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_kernel_scheduler_accepted(scheduler):
    entry = validate_service(svc(scheduler=scheduler))
    assert entry.service.scheduler == scheduler


@pytest.mark.parametrize(
    ("scheduler", "flags"),
    [("sh", ["sh-port", "sh-fallback"]), ("mh", ["mh-fallback", "mh-port"]), ("rr", ["flag-1"]),
     ("wlc", ["flag-3", "flag-2"])],
)
def test_scheduler_flags_normalised(scheduler, flags):
    entry = validate_service(svc(scheduler=scheduler, scheduler_flags=flags))
    assert entry.service.scheduler_flags == tuple(sorted(flags))


def test_services_entries_take_text_numbers_and_defaults_like_the_top_level():
    """The services entries are checked here alone (no Ansible suboption pass): same coercions and defaults."""
    (entry,) = validate_request({"services": [{"address": "192.168.206.150", "port": "80", "scheduler": "sh",
                                               "scheduler_flags": "sh-port,sh-fallback",
                                               "persistence_timeout": "300",
                                               "real_servers": [{"address": "10.0.0.2", "weight": "3"},
                                                                {"address": "10.0.0.3"}]}]})
    service = entry.service
    assert (service.key.port, service.persistence_timeout) == (80, 300)
    assert service.scheduler_flags == ("sh-fallback", "sh-port")
    assert [(rs.weight, rs.upper_threshold, rs.lower_threshold, rs.forwarding) for rs in service.real_servers] == [
        (3, 0, 0, "dr"), (1, 0, 0, "dr")]


def test_defaults_and_normalisation():
    entry = validate_service({"address": "2001:DB8:0::150", "port": "443",
                              "real_servers": [{"address": "2001:db8::0:128"}]})
    svc_ = entry.service
    assert entry.state == "present"
    assert svc_.key.address == "2001:db8::150" and svc_.key.port == 443 and svc_.key.family == "ipv6"
    assert svc_.scheduler == "wlc" and svc_.persistence_timeout is None
    rs = svc_.real_servers[0]
    assert (rs.address, rs.port, rs.forwarding, rs.weight) == ("2001:db8::128", 443, "dr", 1)


def test_nat_port_and_fwmark_port():
    nat = validate_service(svc(real_servers=[{"address": "10.0.0.2", "forwarding": "nat", "port": 8080},
                                             {"address": "10.0.0.3", "forwarding": "nat"}])).service
    assert [rs.port for rs in nat.real_servers] == [8080, 80]
    fw = validate_service({"fwmark": 7, "family": "ipv6", "real_servers": [{"address": "2001:db8::2"}]}).service
    assert fw.key.family == "ipv6" and fw.real_servers[0].port == 0


def test_tunnel_may_mix_families():
    entry = validate_service(svc(real_servers=[{"address": "2001:db8::2", "forwarding": "tunnel"}]))
    assert entry.service.real_servers[0].address == "2001:db8::2"


def test_persistence_netmasks():
    v4 = validate_service(svc(persistence_timeout=300, persistence_netmask="255.255.255.0")).service
    assert v4.persistence_netmask == "255.255.255.0"
    v6 = validate_service({"address": "2001:db8::1", "port": 80, "persistence_timeout": 60,
                           "persistence_netmask": "/64"}).service
    assert v6.persistence_netmask == "64"
    port_zero = validate_service(svc(port=0, persistence_timeout=60)).service
    assert port_zero.key.port == 0


def test_absent_only_needs_the_key():
    entry = validate_service(svc(state="absent", scheduler="bogus"))
    assert entry.state == "absent"


def test_services_inherit_top_level_state():
    entries = validate_request({"services": [svc(), svc(port=81, state="present")], "state": "absent"})
    assert [e.state for e in entries] == ["absent", "present"]
    assert [e.parameter for e in entries] == ["services[0]", "services[1]"]


def test_service_key_for_info_filter():
    key = validate_service_key({"fwmark": 9, "family": "ipv6"}, "service")
    assert key.rule() == "-f 9 -6"
    with pytest.raises(ValidationError, match=r"^service\.port: .*70000"):
        validate_service_key({"address": "10.0.0.1", "port": 70000}, "service")


@pytest.mark.parametrize("path", ["relative/file", "/etc/"])
def test_save_path(path):
    with pytest.raises(ValidationError, match="save_path"):
        validate_save_path(path)
    assert validate_save_path("/etc/ipvsadm.rules") == "/etc/ipvsadm.rules"
