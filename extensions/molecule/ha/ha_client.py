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

Prints JSON; times are the node's clock (seconds since the epoch), which every container on the engine
shares: requests, failed, first_failed/last_failed (start times), longest_gap (the longest time between
two answers, and when it began), each failed request's start time and kind (failed_at: [time, refused /
reset / timeout / other]), samples of the errors,
the real servers that answered, and the transfer (bytes, expected, complete, error, start, end).
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
PAGE = re.compile(r'<p id="realserver">(\S+)')
lock = threading.Lock()
# (start, end, ok) of every request
requests: list = []
samples: list = []
servers: dict = {}
transfer: dict = {}


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


if os.path.exists(STOP):  # left by an earlier run
    os.remove(STOP)
threads = [threading.Thread(target=new_connections) for _ in range(3)]
if TRANSFER:
    threads.append(threading.Thread(target=long_transfer))
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

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
    "failed_at": [[round(r[0], 3), r[3]] for r in failed[:2000]],
    "samples": samples, "servers": servers, "transfer": transfer,
}))
