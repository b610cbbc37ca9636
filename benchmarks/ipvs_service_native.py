#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's own CPU time on this machine, without a kernel: ``lvs.dr.ipvs_service`` no-op at N services.

Usage (from the repository root, after ``make collection``)::

    PYTHONPATH=.cache/collections .venv/bin/python benchmarks/ipvs_service_native.py [--services 10000] [--profile]

``main()`` of the module runs in this process against the unit tests' ``FakeKernel`` (ipvsadm listings and
/proc/net/ip_vs rendered once and cached, so ipvsadm itself costs nothing), with the arguments as AnsiballZ
hands them over (JSON, legacy profile) and ``exit_json`` replaced by a capture (the result's serialisation is not
counted). It prints the process CPU time of the no-op (best of ``--repeat``) and of its parts (validate_request,
parse_listing, parse_proc_ip_vs, plan), and the "list floor": ``AnsibleModule`` with the same argument spec and
list, which any module taking the list pays. Imports are excluded. ``--profile`` adds a cProfile listing.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit" / "plugins" / "modules"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ansible.module_utils import basic  # noqa: E402
from ansible_collections.lvs.dr.plugins.module_utils import ipvsadm  # noqa: E402
from ansible_collections.lvs.dr.plugins.modules import ipvs_service  # noqa: E402
from ipvs_service import services  # noqa: E402  (the benchmark's own workload)
from test_ipvs_service import BIN, FakeKernel  # noqa: E402


class Exited(Exception):
    pass


def harness(kernel: FakeKernel) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], dict[tuple[str, ...], str]]:
    """run(args) -> result of one main(); the cache of listings (filled by the caller)."""
    result: dict[str, Any] = {}
    cache: dict[tuple[str, ...], str] = {}

    def exit_json(_module: Any, **kwargs: Any) -> None:
        result.update(kwargs)
        raise Exited

    def fail_json(_module: Any, **kwargs: Any) -> None:
        result.update(kwargs, failed=True)
        raise Exited

    def run_command(module: Any, cmd: list[str], **kwargs: Any) -> tuple[int, str, str]:
        if tuple(cmd) in cache:
            return 0, cache[tuple(cmd)], ""
        return kernel(module, cmd, **kwargs)

    basic.AnsibleModule.exit_json = exit_json  # type: ignore[method-assign,assignment]
    basic.AnsibleModule.fail_json = fail_json  # type: ignore[method-assign,assignment]
    basic.AnsibleModule.get_bin_path = lambda *_a, **_k: BIN  # type: ignore[method-assign]
    basic.AnsibleModule.run_command = run_command  # type: ignore[method-assign,assignment]

    def run(args: dict[str, Any]) -> dict[str, Any]:
        result.clear()
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()  # type: ignore[attr-defined]
        basic._ANSIBLE_PROFILE = "legacy"  # type: ignore[attr-defined]
        with contextlib.suppress(Exited, SystemExit):
            ipvs_service.main()
        return dict(result)

    return run, cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    svcs = services(args.services)
    kernel = FakeKernel()
    proc = {"text": ""}
    ipvsadm.read_proc_ip_vs = lambda _path: proc["text"]  # type: ignore[assignment]
    # the fake kernel only: never read or write the IPVS table of the machine running this
    ipvsadm.read_direct = lambda: None  # type: ignore[assignment]
    ipvsadm.write_direct = lambda _operations: None  # type: ignore[assignment]
    run, cache = harness(kernel)
    if not run({"services": svcs}).get("changed"):
        raise SystemExit("from empty did not change the fake table")
    proc["text"] = kernel.proc()
    for extra in (["--thresholds"], []):
        cmd = [BIN, "-L", "-n", *extra]
        cache[tuple(cmd)] = kernel(None, cmd, environ_update={"LANG": "C"})[1]

    parts: dict[str, float] = {}
    for owner, name in ((ipvs_service, "validate_request"), (ipvsadm, "parse_listing"),
                        (ipvsadm, "parse_proc_ip_vs"), (ipvs_service, "plan")):
        setattr(owner, name, timed(getattr(owner, name), name, parts))

    best: tuple[float, dict[str, float]] = (float("inf"), {})
    for _ in range(args.repeat):
        parts.clear()
        start = time.process_time()
        if run({"services": svcs}).get("changed") is not False:
            raise SystemExit("the re-run was not a no-op")
        best = min(best, (time.process_time() - start, dict(parts)), key=lambda pair: pair[0])
    floor = min(list_floor(svcs) for _ in range(args.repeat))
    print(f"N={args.services}: no-op {best[0]:.3f} s CPU (" + ", ".join(f"{k} {v:.3f}" for k, v in best[1].items())
          + f"); list floor (AnsibleModule with the list, GC off) {floor:.3f} s; the module's own "
          f"{best[0] - floor:.3f} s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run({"services": svcs})
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumtime").print_stats(30)
        print(out.getvalue())
    return 0


def timed(function: Callable[..., Any], name: str, parts: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            parts[name] = parts.get(name, 0.0) + time.process_time() - start
    return wrapper


def list_floor(svcs: list[dict[str, Any]]) -> float:
    """CPU seconds of AnsibleModule with ipvs_service's spec and the list, as the module's main() builds it."""
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": {"services": svcs}}).encode()  # type: ignore[attr-defined]
    gc.disable()
    try:
        start = time.process_time()
        module = ipvs_service.build_module()
        ipvs_service.abridged_invocation(module.params)
        return time.process_time() - start
    finally:
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
