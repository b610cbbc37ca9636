"""Bounded load through the VIP, counted: new connections and long keep-alive ones.

Usage: python3 load_client.py VIP SECONDS STOP_FILE

Until SECONDS have passed or STOP_FILE exists:
* 3 workers each make one request per new TCP connection, back to back (20 ms apart);
* 2 workers each hold a keep-alive connection for 8 s (a request every 0.5 s), close it and open the next.
A request that gets no complete 200 answer counts as failed; a keep-alive connection that fails or is
closed by the far end before its 8 s counts as broken. Prints JSON: the counts, the first failures, the
real servers that answered (the page names them), the failures by kind and the epoch seconds each one
happened at (the first 200), each failure as [epoch seconds, "failed" or "keepalive_broken", kind, epoch
seconds its request started] (failure_events, the first 400), and the outage: the longest time without a
successful new-connection request (outage_s, from the start to the end of the run) and the time from the
first to the last failed one (failing_s).
"""

import http.client
import json
import os
import re
import sys
import threading
import time

VIP, SECONDS, STOP = sys.argv[1], float(sys.argv[2]), sys.argv[3]
END = time.monotonic() + SECONDS
PAGE = re.compile(r'<p id="realserver">(\S+)')
lock = threading.Lock()
counts = {"requests": 0, "failed": 0, "keepalive_connections": 0, "keepalive_broken": 0, "keepalive_requests": 0}
servers: dict = {}
samples: list = []
# monotonic times: the last successful new-connection request, the first and last failed one
times = {"start": time.monotonic(), "last_ok": time.monotonic(), "gap": 0.0, "first_failed": 0.0, "last_failed": 0.0}
kinds: dict = {}
failure_times: list = []
failure_events: list = []


def running() -> bool:
    return time.monotonic() < END and not os.path.exists(STOP)


def succeeded() -> None:
    with lock:
        now = time.monotonic()
        times["gap"] = max(times["gap"], now - times["last_ok"])
        times["last_ok"] = now


def count(what: str, error: str = "", started: float = 0.0) -> None:
    with lock:
        counts[what] += 1
        if what == "failed":
            times["last_failed"] = time.monotonic()
            times["first_failed"] = times["first_failed"] or times["last_failed"]
        if error and len(samples) < 5:
            samples.append(f"{time.strftime('%H:%M:%S')} {what}: {error}")
        if error:
            kind = error.split("(", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
            now = round(time.time(), 3)
            if len(failure_times) < 200:
                failure_times.append(now)
            if len(failure_events) < 400:
                failure_events.append([now, what, kind, round(started, 3)])


def ask(conn: http.client.HTTPConnection, headers: dict) -> int:
    """One request; the local port it went out from."""
    conn.request("GET", "/", headers=headers)
    port = conn.sock.getsockname()[1]
    reply = conn.getresponse()
    page = reply.read().decode("utf-8", "replace")
    if reply.status != 200:
        raise OSError(f"HTTP {reply.status}")
    found = PAGE.search(page)
    name = found.group(1) if found else "?"
    with lock:
        servers[name] = servers.get(name, 0) + 1
    return port


def new_connections() -> None:
    while running():
        conn = http.client.HTTPConnection(VIP, 80, timeout=5)
        started = time.time()
        try:
            ask(conn, {"Connection": "close"})
            count("requests")
            succeeded()
        except (OSError, http.client.HTTPException) as exc:
            count("requests")
            count("failed", repr(exc), started)
        finally:
            conn.close()
        time.sleep(0.02)


def keepalive() -> None:
    while running():
        conn = http.client.HTTPConnection(VIP, 80, timeout=5)
        count("keepalive_connections")
        opened = time.monotonic()
        port = None
        started = time.time()
        try:
            while running() and time.monotonic() - opened < 8:
                started = time.time()
                used = ask(conn, {"Connection": "keep-alive"})
                count("keepalive_requests")
                if port is not None and used != port:
                    raise OSError("the far end closed the connection (the next request opened another)")
                port = used
                time.sleep(0.5)
        except (OSError, http.client.HTTPException) as exc:
            count("keepalive_broken", repr(exc), started)
        finally:
            conn.close()


threads = [threading.Thread(target=new_connections) for _ in range(3)]
threads += [threading.Thread(target=keepalive) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
outage = max(times["gap"], time.monotonic() - times["last_ok"])
failing = times["last_failed"] - times["first_failed"]
print(json.dumps(dict(counts, servers=servers, samples=samples, errors=kinds, failure_times=failure_times,
                      failure_events=failure_events,
                      outage_s=round(outage, 2), failing_s=round(failing, 2))))
