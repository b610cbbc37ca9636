"""One keep-alive HTTP connection through the VIP: a request every second for SECONDS.

Usage: python3 keepalive_client.py VIP SECONDS FIRST_ANSWER_FILE
Writes the first answer ("<nodename> <rip>") to FIRST_ANSWER_FILE as soon as it has it, then prints JSON:
the answers, the local ports used (one port: the connection was never re-opened) and the failures.
"""

import http.client
import json
import re
import sys
import time

vip, seconds, first_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection(vip, 80, timeout=10)
answers, ports, failures = [], [], []
end = time.monotonic() + seconds
while True:
    try:
        conn.request("GET", "/", headers={"Connection": "keep-alive"})
        page = conn.getresponse().read().decode("utf-8", "replace")
        ports.append(conn.sock.getsockname()[1])
        found = re.search(r'<p id="realserver">([^<]*)</p>', page)
        answers.append(found.group(1).strip() if found else "unrecognised page")
    except (OSError, http.client.HTTPException) as exc:
        failures.append(repr(exc))
        break
    if len(answers) == 1:
        with open(first_file, "w", encoding="utf-8") as handle:
            handle.write(answers[0])
    if time.monotonic() >= end:
        break
    time.sleep(1)
conn.close()
print(json.dumps({"answers": answers, "ports": sorted(set(ports)), "failures": failures}))
