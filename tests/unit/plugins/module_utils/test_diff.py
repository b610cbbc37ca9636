"""The one diff shape: a list of header/before/after entries."""

from __future__ import annotations

from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector


def test_entries_keep_order_and_shape() -> None:
    diff = DiffCollector()
    diff.add("ipvs table", "a\n", "b\n")
    diff.add("/etc/x", "same\n", "same\n")
    assert diff.entries == [
        {"before_header": "ipvs table", "after_header": "ipvs table", "before": "a\n", "after": "b\n"},
        {"before_header": "/etc/x", "after_header": "/etc/x", "before": "same\n", "after": "same\n"},
    ]
    assert diff.changed


def test_unchanged_and_empty() -> None:
    diff = DiffCollector()
    assert not diff.changed
    assert diff.report({}, diff_mode=True) == {"diff": []}
    diff.add("f", "x", "x")
    assert not diff.changed


def test_report_only_in_diff_mode() -> None:
    diff = DiffCollector()
    diff.add("f", "x", "y")
    assert diff.report({"changed": True}, diff_mode=False) == {"changed": True}
    result = diff.report({"changed": True}, diff_mode=True)
    assert result["diff"][0]["after"] == "y"
    result["diff"][0]["after"] = "mutated"
    assert diff.entries[0]["after"] == "y"


def test_after_header_may_differ() -> None:
    diff = DiffCollector()
    diff.add("/etc/x (absent)", "", "new\n", after_header="/etc/x")
    assert diff.entries == [{"before_header": "/etc/x (absent)", "after_header": "/etc/x", "before": "",
                             "after": "new\n"}]
