"""arp_probe on a real kernel: the module in one namespace (the director), a neighbour on the veth's other end."""

from __future__ import annotations

VIP = "198.51.100.150"
DIRECTOR_IP = "198.51.100.10"
FAST = {"count": 3, "timeout": 1}


def mac(ns, device: str) -> str:
    return ns.ip_json("link", "show", "dev", device)[0]["address"]


def neighbours(ns) -> list[tuple[str, str]]:
    """IPv4 neighbour entries (address, MAC) of a namespace."""
    return [(n["dst"], n.get("lladdr", "")) for n in ns.ip_json("-4", "neigh", "show")]


def probe(netns, address: str = VIP, check: bool = False, **args):
    result = netns.run_module("arp_probe", {"address": address, "device": "eth0", **FAST, **args}, check=check)
    assert not result.get("failed"), result
    assert result["changed"] is False
    return result


def test_neighbour_holding_the_address_answers_and_learns_nothing(netns, peer) -> None:
    peer.sh("ip", "addr", "add", f"{VIP}/24", "dev", "eth1")
    result = probe(netns)
    assert result["answered"] is True
    assert result["answers"] == [{"mac": mac(peer, "eth1"), "ip": VIP}]  # three requests, one entry
    assert result["device"] == "eth0" and result["device_mac"] == mac(netns, "eth0")
    assert (result["address"], result["source"], result["sent"]) == (VIP, "0.0.0.0", 3)
    # the DAD probe (sender 0.0.0.0) leaves no neighbour entry on either side
    assert neighbours(peer) == [] and neighbours(netns) == []
    assert probe(netns, check=True)["answers"] == result["answers"]


def test_source_makes_an_ordinary_request(netns, peer) -> None:
    peer.sh("ip", "addr", "add", f"{VIP}/24", "dev", "eth1")
    result = probe(netns, source=DIRECTOR_IP)
    assert result["answered"] is True and result["source"] == DIRECTOR_IP
    # as the documentation warns: the answering host learnt the sender's address
    assert (DIRECTOR_IP, mac(netns, "eth0")) in neighbours(peer)


def test_real_server_reachable_from_the_director_address(netns, peer) -> None:
    result = probe(netns, address="198.51.100.20", source=DIRECTOR_IP, count=1)
    assert result["answers"] == [{"mac": mac(peer, "eth1"), "ip": "198.51.100.20"}]


def test_several_addresses_in_one_probe(netns, peer) -> None:
    """The director's pre-flight asks for every real server at once: answers are kept apart per address."""
    peer.sh("ip", "addr", "add", "198.51.100.21/24", "dev", "eth1")
    addresses = ["198.51.100.20", "198.51.100.99", "198.51.100.21", "198.51.100.20"]
    result = netns.run_module("arp_probe", {"addresses": addresses, "device": "eth0", "source": DIRECTOR_IP,
                                            "count": 2, "timeout": 1})
    assert not result.get("failed"), result
    peer_mac = mac(peer, "eth1")
    assert result["results"] == [
        {"address": "198.51.100.20", "answered": True, "answers": [{"mac": peer_mac, "ip": "198.51.100.20"}]},
        {"address": "198.51.100.99", "answered": False, "answers": []},
        {"address": "198.51.100.21", "answered": True, "answers": [{"mac": peer_mac, "ip": "198.51.100.21"}]},
    ]
    assert result["sent"] == 2 and "answered" not in result and "address" not in result
    both = netns.run_module("arp_probe", {"address": VIP, "addresses": [VIP], "device": "eth0"})
    assert both["failed"] and "mutually exclusive" in both["msg"]
    neither = netns.run_module("arp_probe", {"device": "eth0"})
    assert neither["failed"] and "one of the following is required: address, addresses" in neither["msg"]


def test_nobody_holds_the_address(netns, peer) -> None:
    result = probe(netns)
    assert result["answered"] is False and result["answers"] == []


def test_director_own_vip_is_not_an_answer(netns, peer) -> None:
    """After the role put the VIP on the director's NIC, a re-run of the pre-flight check still passes."""
    netns.sh("ip", "addr", "add", f"{VIP}/24", "dev", "eth0", "label", "eth0:8")
    assert probe(netns)["answered"] is False


def test_real_server_hidden_vip_answers_only_without_arp_suppression(netns, peer, tmp_path) -> None:
    """The DR real server: VIP on lo. PITFALLS 1: arp_ignore/arp_announce on lo alone change nothing."""
    peer.sh("ip", "addr", "add", f"{VIP}/32", "dev", "lo", "label", "lo:3")
    assert probe(netns)["answers"] == [{"mac": mac(peer, "eth1"), "ip": VIP}]  # arp_ignore=0: it answers

    for key, value in (("arp_ignore", 1), ("arp_announce", 2)):
        peer.sh("sh", "-c", f"echo {value} > /proc/sys/net/ipv4/conf/lo/{key}")
    assert probe(netns)["answered"] is True  # still answers: the setting counts on eth1 and all

    args = {"interfaces": ["eth1"], "persist": False, "path": str(tmp_path / "x.conf")}
    applied = peer.run_module("lvs_sysctl_arp", args)
    assert applied["effective"]["eth1"] == {"arp_ignore": 1, "arp_announce": 2}, applied
    assert probe(netns)["answered"] is False
    # the real server still answers for its own address on eth1
    assert probe(netns, address="198.51.100.20", count=1)["answered"] is True
    # the director's pre-flight: one probe from its own address for the VIP and the real server
    both = netns.run_module("arp_probe", {"addresses": [VIP, "198.51.100.20"], "device": "eth0",
                                          "source": DIRECTOR_IP, **FAST})
    assert [(entry["address"], entry["answered"]) for entry in both["results"]] == [
        (VIP, False), ("198.51.100.20", True)], both


def test_errors_name_the_parameter(netns) -> None:
    cases = [
        ({"device": "eth7"}, "device: no such interface: 'eth7'"),
        ({"device": "lo"}, "device: 'lo' is not an Ethernet device (hardware type 772)"),
        ({"address": "2001:db8::150"}, "address: '2001:db8::150' is an IPv6 address"),
        ({"source": "198.51.100.300"}, "source: '198.51.100.300' is not an IPv4 address"),
    ]
    for args, message in cases:
        result = netns.run_module("arp_probe", {"address": VIP, "device": "eth0", **FAST, **args})
        assert result.get("failed") and result["msg"].startswith(message), (args, result)


def test_device_down(netns) -> None:
    netns.sh("ip", "link", "set", "eth0", "down")
    result = netns.run_module("arp_probe", {"address": VIP, "device": "eth0", **FAST})
    assert result.get("failed") and result["msg"] == "device: 'eth0' is down", result


def test_vip_holder_with_arp_ignore_2_answers_both_probes(netns, peer) -> None:
    """arp_ignore=2 (senders of its own subnet only) still answers the pre-flight's request and a DAD probe."""
    peer.sh("ip", "addr", "add", f"{VIP}/24", "dev", "eth1")
    peer.sh("sh", "-c", "echo 2 > /proc/sys/net/ipv4/conf/eth1/arp_ignore")
    sourced = netns.run_module("arp_probe", {"addresses": [VIP], "device": "eth0", "source": DIRECTOR_IP, **FAST})
    assert sourced["results"][0]["answered"] is True, sourced
    assert probe(netns)["answered"] is True  # the kernel lets a 0.0.0.0 sender through arp_ignore=2
