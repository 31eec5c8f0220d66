"""The package as Python sees it, for tools that read the code from the file system.

The build maps the design card's top-level folders (``flows/``, ``tasks/``, ``schemas/``,
``expectations/``) into the ``newsflow`` package. Import-graph tools such as import-linter
find a package's modules by walking its folder, so they would see ``newsflow/`` without
``newsflow.flows`` and the rest. :func:`mirror` lays out the package as installed, as a tree
of symbolic links to the checkout's own files, so the tools read the real code.

Run ``python tests/architecture.py`` to check the import-linter contracts of pyproject.toml
from the command line (the suite does the same in tests/test_architecture.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Folder in the checkout → subpackage of ``newsflow`` (as in pyproject.toml's package-dir).
MAPPED = {"flows": "flows", "tasks": "tasks", "schemas": "schemas", "expectations": "expectations"}


def mirror(target: Path) -> Path:
    """Lay ``newsflow`` out under ``target`` (file by file, as links) and return ``target``."""
    package = target / "newsflow"
    _link_tree(ROOT / "newsflow", package)
    for folder, name in MAPPED.items():
        _link_tree(ROOT / folder, package / name)
    return target


def _link_tree(source: Path, dest: Path) -> None:
    for path in source.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        link = dest / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)


def lint_imports(python_path: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package laid out at ``python_path``, with pyproject's contracts.

    Runs outside the checkout so that the checkout's own ``newsflow/`` folder is not the one
    imported."""
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    run_cli = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    command = [sys.executable, "-c", run_cli, "--no-cache", str(ROOT / "pyproject.toml")]
    return subprocess.run(
        command, cwd=python_path, env=env, capture_output=True, text=True, timeout=300
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        result = lint_imports(mirror(Path(tmp)))
        sys.stdout.write(result.stdout + result.stderr)
        sys.exit(result.returncode)
