"""The core stays pure: no module of ``hls_operators/core`` reaches a service, a process or the disk.

That is what lets the ladder, commands, playlists and verification rules be unit-tested as plain
functions, and what ARCHITECTURE.md promises: arrows go from the edges to the core, never back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "plugins" / "hls_operators" / "core"

# Services, processes and the disk, and every layer of the package above the core.
FORBIDDEN_MODULES = (
    "airflow",
    "boto3",
    "botocore",
    "psycopg2",
    "requests",
    "subprocess",
    "os",
    "shutil",
    "tempfile",
    "socket",
)
FORBIDDEN_PACKAGE_LAYERS = (
    "edges",
    "media",
    "steps",
    "maintenance",
    "operators",
    "run_operators",
    "hooks",
    "settings",
    "storage_setup",
)
# Path and file methods that read or write the filesystem.
FILESYSTEM_CALLS = {
    "open",
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
    "stat",
    "lstat",
    "exists",
    "is_file",
    "is_dir",
    "iterdir",
    "glob",
    "rglob",
    "mkdir",
    "rmdir",
    "unlink",
    "rename",
    "replace",
    "touch",
    "resolve",
    "samefile",
}


def impurities(source: str, filename: str) -> list[str]:
    """What in one module's source reaches outside the core."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + (
                [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "hls_operators" else []
            )
        for name in names:
            parts = name.split(".")
            if parts[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno} imports {name}")
            if parts[0] == "hls_operators" and len(parts) > 1 and parts[1] in FORBIDDEN_PACKAGE_LAYERS:
                found.append(f"{filename}:{node.lineno} imports {name}, a layer above the core")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            # replace() is str's (two arguments) and datetime's (keywords) too: Path.replace takes one target.
            if called in FILESYSTEM_CALLS and not (called == "replace" and (len(node.args) != 1 or node.keywords)):
                found.append(f"{filename}:{node.lineno} calls {called}()")
    return found


def core_modules() -> list[Path]:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 12, f"only {len(modules)} core modules found: the check would pass vacuously"
    return modules


def test_no_core_module_imports_a_service_a_process_an_upper_layer_or_touches_the_disk():
    found = [problem for path in core_modules() for problem in impurities(path.read_text(), path.name)]
    assert found == []


def test_the_check_catches_each_kind_of_impurity():
    assert impurities("import airflow\n", "x.py") == ["x.py:1 imports airflow"]
    assert impurities("from botocore.exceptions import ClientError\n", "x.py") == ["x.py:1 imports botocore.exceptions"]
    assert impurities("from hls_operators.edges.storage import ObjectStore\n", "x.py")
    assert impurities("from hls_operators import steps\n", "x.py")
    assert impurities("def size(path):\n    return path.stat().st_size\n", "x.py") == ["x.py:2 calls stat()"]
    assert impurities("with open('f') as f:\n    pass\n", "x.py") == ["x.py:1 calls open()"]
    assert impurities("text = 'a-b'.replace('-', '')\nfrom hls_operators.core import ladder\n", "x.py") == []
    assert impurities("moment = moment.replace(tzinfo=None)\n", "x.py") == []
    assert impurities("path.replace(target)\n", "x.py") == ["x.py:1 calls replace()"]


def test_importing_the_core_loads_no_service_client():
    """Also through the standard library or a third-party package the core might import one day."""
    names = [f"hls_operators.core.{path.stem}" for path in core_modules() if path.stem != "__init__"]
    script = f"import json, sys\nfor name in {names!r}:\n    __import__(name)\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "plugins")},
    )
    loaded = {name.split(".")[0] for name in json.loads(completed.stdout)}
    assert loaded.isdisjoint({"airflow", "boto3", "botocore", "psycopg2", "requests"})
