"""ansible-playbook with every module call answered by a recorder instead of the host.

Usage: ansible_recorder.py HOSTS_JSON LOG_JSONL <ansible-playbook arguments>

Everything that runs on the controller is the real ansible-core: playbook
and role loading, argument-spec validation, include_vars, variable
precedence, templating of every module argument, ``when``/``loop``,
register, handlers, and the controller-side action plugins (``template``
renders its file, ``package``/``service`` pick dnf/apt/systemd from the
facts). Only the last step -- shipping a module to the host and running it
-- is replaced: ``ActionBase._execute_module`` writes one JSON line per call
(host, task, module, arguments, check mode) to LOG_JSONL and answers

* ``setup`` with the host's ``facts`` from HOSTS_JSON (so a Debian
  controller can stand for an EL 9 host),
* ``lvs.dr.service_info`` from the host's ``services`` (in ``service_facts``'
  shape: ``{"firewalld.service": {"state": "running", "status": "enabled"}}``),
* ``stat`` (and the ``file`` peek of a diff) with "does not exist",
* ``ansible.posix.selinux`` with ``reboot_required`` for ``state=disabled``,
* ``lvs.dr.ipvs_info`` (the director's pre-flight) with a kernel that has
  IPVS and every scheduler but the host's ``missing_schedulers``,
* ``lvs.dr.arp_probe`` from the host's ``arp`` map (address -> answered),
  else a healthy segment: nobody answers for the first address asked (the
  director's pre-flight asks for the VIP first), every other address (the
  real servers) answers,
* ``lvs.dr.config_files`` with every file created (its ``files`` result),
* ``lvs.dr.ipvs_drain`` with the real server in one service, drained (or
  removed, or back at its weight) at once,
* any module named in the host's ``answers`` map (module -> result) with
  that result (a read-only playbook's ``command`` output, ``slurp``ed file,
  live IPVS table),
* anything else with ``changed: true``.

So no module runs on this machine and nothing on it changes. What this
cannot show is whether dnf, firewalld or SELinux would accept the calls on
a real EL host.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ansible.plugins.action import ActionBase

HOSTS: dict[str, dict[str, Any]] = {}
LOG = ""
PREFIXES = ("ansible.legacy.", "ansible.builtin.")


def _short(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _service(name: str, services: dict[str, Any]) -> dict[str, Any]:
    unit = name if "." in name else f"{name}.service"
    known = services.get(unit)
    if known is None:
        return {"name": name, "manager": "systemd", "present": False, "active": False, "enabled": None,
                "state": "absent"}
    running = known.get("state") == "running"
    return {"name": name, "manager": known.get("source", "systemd"), "present": True, "active": running,
            "enabled": known.get("status") == "enabled", "state": "running" if running else "stopped"}


def _answer(module: str, args: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
    if module in host.get("answers", {}):
        return host["answers"][module]
    if module in ("setup", "gather_facts"):
        facts = {f"ansible_{key}": value for key, value in host.get("facts", {}).items()}
        return {"changed": False, "ansible_facts": facts}
    if module == "lvs.dr.service_info":
        return {"changed": False, "manager": "systemd",
                "services": {name: _service(name, host.get("services", {})) for name in args.get("names", [])}}
    if module == "stat":
        return {"changed": False, "stat": {"exists": False}}
    if module == "file" and args.get("_diff_peek"):
        return {"changed": False, "state": "absent"}
    if module == "ansible.posix.selinux":
        return {"changed": True, "reboot_required": args.get("state") == "disabled"}
    if module == "lvs.dr.ipvs_info":
        schedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"]
        missing = host.get("missing_schedulers", [])
        present = [name for name in schedulers if name not in missing]
        return {"changed": False, "services": [], "kernel": {
            "release": "recorded", "ipvs_present": True, "ipvs_available": True,
            "modules_index": host.get("modules_index", True),
            "schedulers": {"available": present, "loaded": present, "loadable": [], "missing": missing,
                           "unknown": []}}}
    if module == "lvs.dr.config_files":
        files = [{"path": entry["path"], "changed": True, "created": True, "content_changed": True, "attributes": []}
                 for entry in args.get("files", [])]
        return {"changed": True, "files": files}
    if module == "lvs.dr.arp_probe":
        results = []
        for index, address in enumerate([args["address"]] if args.get("address") else args.get("addresses", [])):
            answered = bool(host.get("arp", {}).get(address, index > 0))
            results.append({"address": address, "answered": answered,
                            "answers": [{"mac": "00:0c:29:00:00:99", "ip": address}] if answered else []})
        return {"changed": False, "results": results, **(results[0] if args.get("address") else {})}
    if module == "lvs.dr.ipvs_drain":
        weight = args.get("weight") if args.get("state") == "active" else 0
        services = [{"entry": f"TCP 192.0.2.1:80 -> {args['real_server']}:80", "weight": weight,
                     "active_connections": 0, "inactive_connections": 0, "persistent": False}]
        return {"changed": True, "services": services, "waited": 0.0, "timed_out": False,
                "left": {"active": 0, "inactive": 0}, "removed": args.get("state") == "absent", "commands": []}
    return {"changed": True}


def _execute_module(self: ActionBase, module_name: str | None = None, module_args: dict[str, Any] | None = None,
                    task_vars: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
    module = _short(module_name or self._task.action)
    args = dict(self._task.args if module_args is None else module_args)
    host = (task_vars or {}).get("inventory_hostname") or self._play_context.remote_addr
    entry = {
        "host": host,
        "task": self._task.get_name(),
        "module": module,
        "args": args,
        "check_mode": bool(self._task.check_mode),
    }
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, default=str, sort_keys=True) + "\n")
    return _answer(module, args, HOSTS.get(host, {}))


def main() -> int:
    global LOG  # set once, before the workers fork
    hosts_file, LOG, *args = sys.argv[1:]
    with open(hosts_file, encoding="utf-8") as handle:
        HOSTS.update(json.load(handle))
    ActionBase._execute_module = _execute_module  # workers are forked from here and inherit it
    from ansible.cli.playbook import main as playbook_main  # noqa: PLC0415 - after the patch

    sys.argv = ["ansible-playbook", *args]
    return playbook_main() or 0


if __name__ == "__main__":
    sys.exit(main())
