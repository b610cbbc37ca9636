"""The nftables rules file the roles render, checked by nft and loaded into throwaway network namespaces.

Traffic goes only between two namespaces made here (documentation
addresses 198.51.100.0/24), with connect timeouts of one second.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from roles_harness import DEB_VIP, FIREWALLD_RUNNING, FIREWALLD_STOPPED, lab_hosts

NFT = shutil.which("nft")
pytestmark = pytest.mark.skipif(NFT is None, reason="nft is not installed (Debian package nftables)")

SERVER = "198.51.100.1"
CLIENT = "198.51.100.2"
# Echo server on the given ports (all addresses); answers each line, stops by itself after 60 s.
ECHO = """
import socket, sys, threading, time
def echo(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                return
            conn.sendall(data)
def serve(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
for port in sys.argv[1:]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", int(port)))
    sock.listen()
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""
# One TCP connection kept open; each input line is sent and its echo printed ("timeout" if none in 2 s).
CLIENT_SESSION = """
import socket, sys
try:
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
except OSError as exc:
    print("refused", exc, flush=True)
    sys.exit(1)
print("connected", flush=True)
for line in sys.stdin:
    try:
        sock.sendall(line.encode())
        print(sock.recv(1024).decode().strip(), flush=True)
    except OSError:
        print("timeout", flush=True)
"""
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()"


def rendered(run, host: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{host}.nft"
    path.write_text(run.files(host)["/etc/lvs-dr.nft"]["content"])
    return path


def nft_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NFT, "-c", "-f", str(path)], capture_output=True, text=True, check=False)


def test_every_rendered_rules_file_passes_nft_check(el9, deb, run_site, tmp_path) -> None:
    el9_nftables = run_site(lab_hosts("el9", FIREWALLD_STOPPED), "ansible_port=2222")
    files = {
        "el9 director (firewalld + notrack)": rendered(el9, "director", tmp_path / "a"),
        "el9 real server (nftables)": rendered(el9_nftables, "rs1", tmp_path / "b"),
        "debian director": rendered(deb, "director", tmp_path / "c"),
        "debian real server": rendered(deb, "rs1", tmp_path / "d"),
    }
    for name, path in files.items():
        result = nft_check(path)
        if result.returncode != 0 and "Operation not permitted" in result.stderr:
            pytest.skip("nft -c needs CAP_NET_ADMIN here")
        assert result.returncode == 0, f"{name}: {result.stderr}"
    # The operator's SSH port, not a hard-coded 22, stays open.
    assert "tcp dport { 2222 } accept" in files["el9 real server (nftables)"].read_text()


def test_nft_check_rejects_a_broken_file(tmp_path) -> None:
    """The template's validate command is a real check: a syntax error fails it."""
    path = tmp_path / "broken.nft"
    path.write_text("table inet lvs_dr {\n\tchain input {\n\t\ttcp dport eighty accept\n\t}\n}\n")
    assert nft_check(path).returncode != 0


@pytest.fixture
def pair(netns):
    """(server, client) namespaces joined by a veth pair: server 198.51.100.1, client 198.51.100.2."""
    server, client = netns("srv"), netns("cli")
    server.run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", client.name)
    client.run("ip", "link", "set", "peer0", "name", "eth0")
    for ns, address in ((server, SERVER), (client, CLIENT)):
        ns.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
        ns.run("ip", "link", "set", "eth0", "up")
    return server, client


def start_echo(server, *ports: int):
    proc = server.popen("python3", "-c", ECHO, *map(str, ports))
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def reachable(client, address: str, port: int) -> bool:
    return client.run("python3", "-c", CONNECT, address, str(port), check=False).returncode == 0


def test_realserver_table_admits_only_its_port_and_ssh_and_keeps_open_connections(deb, pair, tmp_path) -> None:
    server, client = pair
    rules = rendered(deb, "rs1", tmp_path)
    server.run("nft", "add", "table", "ip", "someone_else")
    server.run("nft", "add", "chain", "ip", "someone_else", "input",
               "{ type filter hook input priority 10; policy accept; }")
    # Someone else's stateful rule: connection tracking is active before our table comes. (Without any
    # ct rule a namespace tracks nothing, and a connection to a port we do not open, made before our
    # first load, cannot be told from a new one: it is cut. SSH and the service ports are accepted in
    # every state, so the operator's session and the service are not.)
    server.run("nft", "add", "rule", "ip", "someone_else", "input", "ct", "state", "new", "counter")
    theirs = server.run("nft", "-s", "list", "table", "ip", "someone_else").stdout
    echo = start_echo(server, 22, 80, 8080)
    session = client.popen("python3", "-c", CLIENT_SESSION, SERVER, "8080")
    try:
        assert session.stdout.readline().strip() == "connected"  # opened before our table exists

        server.run("nft", "-f", str(rules))
        assert reachable(client, SERVER, 80)
        assert reachable(client, SERVER, 22)
        assert not reachable(client, SERVER, 8080)  # dropped: a new connection to a port we do not serve
        session.stdin.write("still there\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "still there"  # established traffic kept

        # Loading again replaces the table atomically: same rules once, the open connection still works.
        first = server.run("nft", "list", "table", "inet", "lvs_dr").stdout
        server.run("nft", "-f", str(rules))
        assert server.run("nft", "list", "table", "inet", "lvs_dr").stdout == first
        session.stdin.write("after reload\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "after reload"

        tables = server.run("nft", "list", "tables").stdout.split("\n")
        assert sorted(t for t in tables if t) == ["table inet lvs_dr", "table ip someone_else"]
        assert server.run("nft", "-s", "list", "table", "ip", "someone_else").stdout == theirs

        # What lvs-dr-firewall.service's ExecStop does: only our table goes.
        server.run("nft", "delete", "table", "inet", "lvs_dr")
        assert server.run("nft", "-s", "list", "table", "ip", "someone_else").stdout == theirs
        assert reachable(client, SERVER, 8080)
    finally:
        session.kill()
        echo.kill()


def test_director_table_admits_the_service_only_at_the_vip_and_skips_conntrack(deb, pair, tmp_path) -> None:
    server, client = pair
    server.run("ip", "addr", "add", f"{DEB_VIP}/24", "dev", "eth0")  # the director's VIP on its NIC
    server.run("nft", "-f", str(rendered(deb, "director", tmp_path)))
    echo = start_echo(server, 22, 80, 8080)
    try:
        assert reachable(client, DEB_VIP, 80)
        assert not reachable(client, SERVER, 80)  # the port only at the VIP
        assert not reachable(client, DEB_VIP, 8080)
        assert reachable(client, SERVER, 22)
    finally:
        echo.kill()
    ruleset = server.run("nft", "list", "chain", "inet", "lvs_dr", "prerouting").stdout
    assert f"ip daddr {DEB_VIP} tcp dport 80 notrack" in ruleset
    listing = server.run("cat", "/proc/net/nf_conntrack", check=False)
    if listing.returncode != 0:
        return  # kernel without the conntrack proc file: the rule above is all we can see
    # Original direction of each tracked connection. The echo server's own replies are tracked on
    # output (here the "director" answers itself; a real one never replies), the clients' packets not.
    originals = {match.groups() for match in re.finditer(r"^\S+\s+\d+ tcp\s+\d+ \d+ \S+ src=(\S+) dst=(\S+) "
                                                         r"sport=\d+ dport=(\d+)", listing.stdout, re.M)}
    assert (CLIENT, SERVER, "22") in originals  # tracked as usual
    assert (CLIENT, DEB_VIP, "80") not in originals  # notrack


def test_every_kind_of_virtual_service_maps_to_its_rule(run_site, tmp_path) -> None:
    """UDP, IPv6, all-ports (port 0), firewall-mark (ports from director_firewall_ports) and absent services."""
    rs = [{"address": "198.51.100.11"}]
    services = [
        {"protocol": "udp", "address": DEB_VIP, "port": 53, "real_servers": rs},
        {"address": "2001:db8::150", "port": 80, "real_servers": [{"address": "2001:db8::11"}]},
        {"address": DEB_VIP, "port": 0, "persistence_timeout": 300, "real_servers": rs},
        {"fwmark": 7, "real_servers": rs},
        {"address": DEB_VIP, "port": 8080, "state": "absent", "real_servers": rs},
    ]
    extra = {"director_services": services, "director_vip": DEB_VIP,
             "director_firewall_ports": [{"port": 443}, {"port": 4443, "protocol": "udp", "address": DEB_VIP}]}
    run = run_site(lab_hosts("debian12"), json.dumps(extra))
    assert run.rc == 0 and run.failures() == {}, run.stderr[-2000:]
    path = rendered(run, "director", tmp_path)
    text = path.read_text()
    preamble = {"ct state established,related accept", 'iif "lo" accept', "meta l4proto { icmp, ipv6-icmp } accept",
                "ip6 saddr fe80::/10 udp dport 546 accept", "tcp dport { 22 } accept"}
    accepted = sorted(line.strip() for line in text.splitlines()
                      if line.strip().endswith(" accept") and line.strip() not in preamble)
    assert accepted == sorted([
        f"ip daddr {DEB_VIP} udp dport 53 accept",
        "ip6 daddr 2001:db8::150 tcp dport 80 accept",
        f"ip daddr {DEB_VIP} meta l4proto tcp accept",
        "tcp dport 443 accept",
        f"ip daddr {DEB_VIP} udp dport 4443 accept",
    ])
    assert "8080" not in text  # an absent service opens nothing
    untracked = sorted(line.strip() for line in text.splitlines() if line.strip().endswith(" notrack"))
    assert untracked == sorted([
        f"ip daddr {DEB_VIP} udp dport 53 notrack",
        "ip6 daddr 2001:db8::150 tcp dport 80 notrack",
        f"ip daddr {DEB_VIP} meta l4proto tcp notrack",
        f"ip daddr {DEB_VIP} udp dport 4443 notrack",
    ])
    result = nft_check(path)
    if "Operation not permitted" not in result.stderr:
        assert result.returncode == 0, result.stderr
    # The same services with firewalld (EL 9): one port/protocol each, every address; port 0 is the whole range.
    el9 = run_site(lab_hosts("el9", FIREWALLD_RUNNING), json.dumps(extra))
    assert el9.rc == 0 and el9.failures() == {}, el9.stderr[-2000:]
    opened = sorted(args["port"] for module, args in el9.modules("director") if module == "ansible.posix.firewalld")
    assert opened == ["1-65535/tcp", "443/tcp", "4443/udp", "53/udp", "80/tcp"]
