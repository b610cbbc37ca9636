"""Reading a sysctl.d file back, for the tests (the modules only write these files)."""

from __future__ import annotations


def normalise_key(key: str) -> str:
    """sysctl.d accepts 'a.b.c' and 'a/b/c'; in the slash form dots belong to names.  Return the dotted form."""
    key = key.strip()
    first_dot, first_slash = key.find("."), key.find("/")
    if first_slash != -1 and (first_dot == -1 or first_slash < first_dot):
        return ".".join(part.replace(".", "/") for part in key.split("/"))
    return key


def parse_sysctl_file(text: str) -> dict[str, str]:
    """``key = value`` pairs of a sysctl.d file, keys in dotted form; the last assignment wins."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().lstrip("-")  # '-key' only means: ignore failures when applying
        result[normalise_key(key)] = value.strip()
    return result
