"""Map a load's failures to the steps that ran under it: which step lost what.

Usage: python3 zero_loss_steps.py < INPUT.json   (prints JSON)

INPUT: {"offset": S, "blocks": [{"name": ..., "load": LOAD, "steps": [STEP, ...]}, ...]}
* LOAD is what ../default/load_client.py printed (its failure_events: [epoch, "failed" or
  "keepalive_broken", kind, epoch its request started]), on the load client's clock;
* STEP is {"name", "start", "end"} with epoch seconds on the load client's clock, or with the
  "start"/"end" strings of ansible.builtin.command ("%Y-%m-%d %H:%M:%S.%f", local time) of a command
  run on the controller, then shifted by offset (the load client's clock minus the controller's).

A failure belongs to the last step that started before its request did (so a step owns the time
until the next one starts: the settling after it, and the reads between steps); one whose request
started before the first step belongs to "before the first step". Output: per block, per step its
window, failed requests, broken keep-alive connections, their kinds, and how many of them started
after the step's end (after: the settling, or a read between steps).
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any


def epoch(value: Any, offset: float) -> float:
    """A step's start or end on the load client's clock."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp() + offset


def block_figures(block: dict[str, Any], offset: float) -> dict[str, Any]:
    steps = [{"name": str(step["name"]), "start": epoch(step["start"], offset),
              "end": epoch(step["end"], offset)} for step in block["steps"]]
    steps.sort(key=lambda step: step["start"])
    rows = [{"name": "before the first step", "start": None, "end": None}, *steps]
    for row in rows:
        row.update(failed=0, keepalive_broken=0, kinds={}, after_end=0, times=[])
    for event in block["load"].get("failure_events", []):
        seen, what, kind = float(event[0]), str(event[1]), str(event[2])
        started = float(event[3]) if len(event) > 3 and event[3] else seen - 5.0
        owner = rows[0]
        for row in steps:
            if row["start"] <= started:
                owner = row
        owner[what] = owner.get(what, 0) + 1
        owner["kinds"][kind] = owner["kinds"].get(kind, 0) + 1
        owner["times"].append(round(seen, 3))
        if owner["end"] is not None and started > owner["end"]:
            owner["after_end"] += 1
    for row in rows:
        if row["start"] is not None:
            row["seconds"] = round(row["end"] - row["start"], 1)
            row["start"] = round(row["start"], 3)
            row["end"] = round(row["end"], 3)
    load = block["load"]
    totals = {key: load.get(key) for key in ("requests", "failed", "keepalive_connections", "keepalive_broken")}
    return {"name": block["name"], "totals": totals, "steps": rows}


def lines(figures: list[dict[str, Any]]) -> list[str]:
    out = []
    for block in figures:
        totals = block["totals"]
        out.append(f"{block['name']}: {totals['failed']} failed of {totals['requests']} requests, "
                   f"{totals['keepalive_broken']} broken of {totals['keepalive_connections']} keep-alive")
        for row in block["steps"]:
            if row["start"] is None and not (row["failed"] or row["keepalive_broken"]):
                continue
            window = "" if row["start"] is None else (
                f" [{datetime.datetime.fromtimestamp(row['start'], datetime.timezone.utc):%H:%M:%S}"
                f" +{row['seconds']} s]")
            kinds = ", ".join(f"{kind} {number}" for kind, number in sorted(row["kinds"].items()))
            out.append(f"  {row['name']}{window}: {row['failed']} failed, {row['keepalive_broken']} broken"
                       + (f" ({kinds}; {row['after_end']} after its end)" if kinds else ""))
    return out


def main() -> None:
    data = json.load(sys.stdin)
    offset = float(data.get("offset", 0.0))
    figures = [block_figures(block, offset) for block in data["blocks"]]
    print(json.dumps({"blocks": figures, "lines": lines(figures)}))


if __name__ == "__main__":
    main()
