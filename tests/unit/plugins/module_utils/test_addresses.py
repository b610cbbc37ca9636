"""Address helpers: canonical text, rejection of what is not a plain IP literal."""

from __future__ import annotations

import ipaddress

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.addresses import (
    address_sort_key,
    ip_family,
    normalize_ip,
    split_host_port,
)


@pytest.mark.parametrize(("text", "canonical"), [
    ("192.0.2.1", "192.0.2.1"),
    (" 192.0.2.1 ", "192.0.2.1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),
    ("[2001:db8::1]", "2001:db8::1"),
])
def test_normalize_ip(text: str, canonical: str) -> None:
    assert normalize_ip(text) == canonical
    assert normalize_ip(text) == canonical  # the cached answer is the same


@pytest.mark.parametrize("value", [None, 5, "", "  ", "192.0.2.300", "192.0.2.0/24", "fe80::1%eth0", "host"])
def test_normalize_ip_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        normalize_ip(value)
    with pytest.raises(ValueError):  # also when asked again (errors are not cached as answers)
        normalize_ip(value)


def test_split_host_port() -> None:
    assert split_host_port("[2001:DB8::1]:80") == ("2001:db8::1", 80)
    assert split_host_port("192.0.2.1:8080") == ("192.0.2.1", 8080)
    assert split_host_port("2001:db8::1") == ("2001:db8::1", None)


@pytest.mark.parametrize("text", [
    "0.0.0.0", "255.255.255.255", "10.0.0.1", "1.22.199.249", "198.19.117.82", "256.0.0.1", "01.2.3.4",
    "1.2.3.04", "1.2.3", "1.2.3.4.5", "1.2.3.4\n", "1.2.3.4 ", "1..3.4", "\u0661.2.3.4", "1.2.3.\u00b2", "+1.2.3.4",
    "192.0.2.1:80", "::ffff:1.2.3.4",
])
def test_dotted_quad_fast_path_agrees_with_ipaddress(text: str) -> None:
    try:
        expected: object = str(ipaddress.ip_address(text.strip()))
        family: object = "ipv6" if ":" in str(expected) else "ipv4"
    except ValueError:
        expected = family = ValueError
    for function, want in ((normalize_ip, expected), (ip_family, family)):
        if want is ValueError:
            with pytest.raises(ValueError):
                function(text)
        else:
            assert function(text) == want


@pytest.mark.parametrize("address", ["192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::", "::ffff:192.0.2.1",
                                     "fe80::1", "2001:db8::"])
def test_address_sort_key_is_the_family_and_the_number(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert address_sort_key(address) == (ip.version, int(ip))
