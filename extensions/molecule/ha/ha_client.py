"""Bounded load through the VIP with a timestamp on every request, for measuring outages.

Usage: python3 ha_client.py VIP SECONDS STOP_FILE [TRANSFER_PATH TRANSFER_RATE]

Until SECONDS have passed or STOP_FILE exists, 3 workers each make one request per new TCP connection,
back to back (20 ms apart), each with a 5 s timeout (as load_client.py of the default scenario): a request
that gets no complete 200 answer in time counts as failed. A SYN lost to a director that has gone is sent
again by the kernel (after 1 s, then 3 s), so a short failover delays requests rather than failing them:
the outage is measured as the longest time without any answer (longest_gap).
With TRANSFER_PATH, one more connection downloads http://VIP/TRANSFER_PATH at TRANSFER_RATE bytes per
second (a small receive buffer, so the real server sends only as fast as the client reads): a long
transfer that is open across whatever happens meanwhile.
One more thread meters the node's own stalls: it sleeps 50 ms at a time, and a sleep that takes STALL
(0.5) s longer than asked means this process did not run meanwhile (under software emulation the whole
guest, every container on it, stops now and then): such a stall, not a dead server, is what can make a
request time out while nothing failed.

Prints JSON; times are the node's clock (seconds since the epoch), which every container on the engine
shares: requests, failed, first_failed/last_failed (start times), longest_gap (the longest time between
two answers, and when it began), each failed request's start time, kind and the longest stall it
overlapped (failed_at: [time, refused / reset / timeout / other, seconds]), samples of the errors,
the real servers that answered, the transfer (bytes, expected, complete, error, start, end), and the
stalls ([start, seconds] of each) with the longest.
"""

import http.client
import json
import os
import re
import socket
import sys
import threading
import time

VIP, SECONDS, STOP = sys.argv[1], float(sys.argv[2]), sys.argv[3]
TRANSFER = sys.argv[4] if len(sys.argv) > 4 else ""
RATE = int(sys.argv[5]) if len(sys.argv) > 5 else 262144
END = time.monotonic() + SECONDS
STALL = 0.5
PAGE = re.compile(r'<p id="realserver">(\S+)')
lock = threading.Lock()
# (start, end, ok) of every request
requests: list = []
samples: list = []
servers: dict = {}
transfer: dict = {}
stalls: list = []


def running() -> bool:
    return time.monotonic() < END and not os.path.exists(STOP)


def new_connections() -> None:
    while running():
        start = time.time()
        conn = http.client.HTTPConnection(VIP, 80, timeout=5)
        ok = False
        kind = ""
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            reply = conn.getresponse()
            page = reply.read().decode("utf-8", "replace")
            if reply.status != 200:
                raise OSError(f"HTTP {reply.status}")
            found = PAGE.search(page)
            ok = True
            with lock:
                name = found.group(1) if found else "?"
                servers[name] = servers.get(name, 0) + 1
        except (OSError, http.client.HTTPException) as exc:
            kind = ("refused" if isinstance(exc, ConnectionRefusedError) else
                    "reset" if isinstance(exc, ConnectionResetError) else
                    "timeout" if isinstance(exc, TimeoutError) else "other")
            with lock:
                if len(samples) < 5:
                    samples.append(f"{start:.3f} {exc!r}")
        finally:
            conn.close()
        with lock:
            requests.append((start, time.time(), ok, kind))
        time.sleep(0.02)


def long_transfer() -> None:
    """One slow download; its counters are filled in as it goes."""
    transfer.update(path=TRANSFER, bytes=0, expected=None, complete=False, error="", start=time.time(), end=None)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(10)
    try:
        sock.connect((VIP, 80))
        sock.sendall(f"GET /{TRANSFER} HTTP/1.1\r\nHost: {VIP}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("closed before the headers")
            head += chunk
        header, body = head.split(b"\r\n\r\n", 1)
        length = re.search(rb"(?im)^content-length:\s*(\d+)", header)
        transfer["expected"] = int(length.group(1)) if length else None
        transfer["bytes"] = len(body)
        step = max(1024, RATE // 10)
        while True:
            chunk = sock.recv(step)
            if not chunk:
                break
            transfer["bytes"] += len(chunk)
            time.sleep(len(chunk) / RATE)
        transfer["complete"] = transfer["bytes"] == transfer["expected"]
        if not transfer["complete"]:
            transfer["error"] = f"closed after {transfer['bytes']} of {transfer['expected']} bytes"
    except OSError as exc:
        transfer["error"] = repr(exc)
    finally:
        sock.close()
        transfer["end"] = time.time()


def stall_meter() -> None:
    """[wall time, seconds] of every time this process did not run for STALL seconds or more."""
    while running():
        wall, before = time.time(), time.monotonic()
        time.sleep(0.05)
        late = time.monotonic() - before - 0.05
        if late >= STALL:
            with lock:
                stalls.append([round(wall, 3), round(late, 2)])


if os.path.exists(STOP):  # left by an earlier run
    os.remove(STOP)
threads = [threading.Thread(target=new_connections) for _ in range(3)] + [threading.Thread(target=stall_meter)]
if TRANSFER:
    threads.append(threading.Thread(target=long_transfer))
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()



def stalled(start: float, end: float) -> float:
    """The longest stall that overlapped [start, end] (0.0: none)."""
    return max((seconds for at, seconds in stalls if at < end and at + seconds + 0.05 > start), default=0.0)


requests.sort()
failed = [r for r in requests if not r[2]]
answers = sorted(r[1] for r in requests if r[2])
gaps = [(later - earlier, earlier) for earlier, later in zip(answers, answers[1:])] or [(0.0, None)]
gap, gap_start = max(gaps)
print(json.dumps({
    "requests": len(requests), "failed": len(failed),
    "first_failed": failed[0][0] if failed else None, "last_failed": failed[-1][0] if failed else None,
    "first": requests[0][0] if requests else None, "last": requests[-1][1] if requests else None,
    "last_answer": answers[-1] if answers else None,
    "longest_gap": round(gap, 2), "longest_gap_start": gap_start,
    "failed_at": [[round(r[0], 3), r[3], stalled(r[0], r[1])] for r in failed[:2000]],
    "samples": samples, "servers": servers, "transfer": transfer,
    "stalls": stalls[:200], "longest_stall": max((s[1] for s in stalls), default=0.0),
}))
