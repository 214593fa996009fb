"""Security hygiene that holds for the code as written: no shell, only parameterized SQL."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "plugins").rglob("*.py")) + sorted((REPO / "dags").rglob("*.py"))


def calls(name: str):
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    yield path.relative_to(REPO), node


def test_no_process_is_started_through_a_shell():
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "shell":
                raise AssertionError(f"{path}: shell= is used")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"system", "popen"}
                and getattr(node.value, "id", "") == "os"
            ):
                raise AssertionError(f"{path}: os.{node.attr}")
    started = [*calls("run"), *calls("Popen")]
    assert started, "the process-starting calls were not found: the check would pass vacuously"
    for path, node in started:
        assert not isinstance(node.args[0], (ast.Constant, ast.JoinedStr)), (
            f"{path}:{node.lineno} passes a string command"
        )


def test_sql_is_never_built_from_strings():
    executed = list(calls("execute"))
    assert len(executed) >= 10
    for path, node in executed:
        statement = node.args[0]
        assert not isinstance(statement, (ast.JoinedStr, ast.BinOp, ast.Constant)) or (
            isinstance(statement, ast.Constant) and "%s" in statement.value and len(node.args) == 2
        ), f"{path}:{node.lineno}: SQL built from strings"
        if isinstance(statement, ast.Call) and isinstance(statement.func, ast.Attribute):
            assert statement.func.attr != "format", f"{path}:{node.lineno}: str.format in SQL"


def test_sql_files_only_use_named_parameters():
    for path in (REPO / "include" / "sql").glob("*.sql"):
        text = path.read_text()
        assert re.findall(r"%(?!\(\w+\)s)", text) == [], f"{path.name}: a % that is not a %(name)s placeholder"
        assert not re.search(r"\{\w+\}", text), f"{path.name}: looks like a format template"


def test_no_module_of_the_pipeline_is_named_like_one_of_pythons_own():
    """A plugin module named ``codecs.py`` once shadowed the standard library's in the Celery
    cluster's dag-processor (which failed at start on ``codecs.register_error``): Airflow's
    processes do not all see plugins/ the way the tests' imports do."""
    ours = {path.stem for path in SOURCES} - {"__init__"}
    assert not ours & set(sys.stdlib_module_names)
