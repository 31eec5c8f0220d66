"""The layout's rules, checked on the code itself (README "Development" has them as a table).

- import-linter's contracts in pyproject.toml: the layers, DuckDB only in the warehouse package,
  argparse and rich only in the CLI;
- no ``print`` outside the CLI package (flows and stages report through logging, progress
  and their return values);
- no module imports another module's private (``_underscore``) names;
- vulture finds no dead code at the confidence pyproject.toml records.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.architecture import ROOT, lint_imports, mirror

PRODUCTION = [ROOT / "newsflow", ROOT / "flows", ROOT / "tasks", ROOT / "schemas"]


def _modules() -> list[Path]:
    paths = (p for folder in PRODUCTION for p in folder.rglob("*.py"))
    return [p for p in paths if "__pycache__" not in p.parts]


def test_import_contracts_hold(tmp_path):
    result = lint_imports(mirror(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_stage_importing_duckdb_breaks_the_contract(tmp_path):
    root = mirror(tmp_path)
    (root / "newsflow" / "tasks" / "extract" / "sneaky.py").write_text("import duckdb\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "DuckDB is opened only by the warehouse package BROKEN" in result.stdout
    assert "newsflow.tasks.extract.sneaky -> duckdb" in result.stdout


def test_nothing_prints_outside_the_cli():
    cli = ROOT / "newsflow" / "cli"
    offenders = []
    for path in _modules():
        if cli in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("newsflow"):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and alias.name != "_quiet":  # the package's own start-up hook
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
    assert offenders == []


def test_vulture_finds_no_dead_code():
    # Paths, confidence and the names only a framework calls: [tool.vulture] in pyproject.toml.
    result = subprocess.run(
        [sys.executable, "-m", "vulture"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
