"""One record per operation: every table of the operations is derived from core.operations'
SPECS, none is written by hand anywhere else, and a new record is all a new operation needs
for them."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from habot.core import operations
from habot.core.catalogue import HaCommand
from habot.core.grammar import SUMMARY, USAGE, Sub
from habot.core.operations import SPECS, Operation, tables_of
from habot.core.preflight import _RULES

HABOT = Path(__file__).resolve().parents[1] / "habot"


def test_each_operation_has_one_record_and_every_table_comes_from_the_records() -> None:
    """Each operation is described once, and each table holds what the records say."""
    assert [s.operation for s in SPECS] == list(Operation)
    for spec in SPECS:
        assert operations.COMMANDS[spec.operation] is spec.command
        assert operations.CONSEQUENCE[spec.operation] == spec.consequence
        assert (spec.operation in operations.SECRET_OUTPUT) is spec.secret_output
        assert (spec.operation in operations.ROLE_NEUTRAL) is spec.role_neutral
        assert (spec.operation in operations.SCHEDULABLE) is spec.schedulable
        assert (spec.operation in operations.TYPED_BY_DEFAULT) is spec.typed_by_default
        sub = Sub(spec.operation.value)
        assert USAGE[sub] == f"{spec.operation.value} {spec.args}"
        assert SUMMARY[sub] == spec.summary
    assert set(_RULES) | {Operation.MAKE_STANDALONE} == set(Operation)  # its node is named


def test_no_table_of_operations_is_written_by_hand_elsewhere() -> None:
    """No module lists operations one by one in a dict, set, list or tuple — but the
    preflight rules (code, one per operation)."""
    found = []
    for path in HABOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", [])
            named = [i for i in items if isinstance(i, ast.Attribute)
                     and isinstance(i.value, ast.Name) and i.value.id == "Operation"]  # fmt: skip
            if len(named) >= 2:
                found.append(f"{path.relative_to(HABOT)}:{node.lineno}")
    assert found == [f"core/preflight.py:{_rules_line()}"]


def _rules_line() -> int:
    source = (HABOT / "core" / "preflight.py").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(source, 1) if line.startswith("_RULES = {"))


def test_a_new_record_is_all_the_tables_need() -> None:
    """A record for an invented operation shows up in every table derived from it."""
    invented = replace(SPECS[0], command=HaCommand.STATUS, secret_output=True,
                       role_neutral=True, typed_by_default=True)  # fmt: skip
    derived = tables_of((*SPECS[1:], invented))
    assert derived.commands[invented.operation] is HaCommand.STATUS
    assert derived.consequence[invented.operation] == invented.consequence
    for held in (derived.secret_output, derived.role_neutral, derived.schedulable,
                 derived.typed_by_default):  # fmt: skip
        assert invented.operation in held
    assert tables_of(SPECS) == operations.TABLES
