"""A full disk is refused before a run writes anything: ``newsflow run`` into a warehouse on a
small tmpfs (mounted by the test; the suite runs as root) exits 3 with one line naming the
stage and the cause, and leaves the filesystem as it found it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.tasks.warehouse.warehouse import MIN_FREE_BYTES
from tests.test_local_faults import _one_error_line, _run


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A tmpfs with less free space than a run needs."""
    mount = tmp_path / "disk"
    mount.mkdir()
    size_kib = MIN_FREE_BYTES // 1024 // 4
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_run_on_a_nearly_full_disk_is_refused_before_writing(prefect_harness, small_disk):
    line = _one_error_line(_run(small_disk.parent, str(small_disk / "news.duckdb")))
    assert "the run failed at open the warehouse" in line, line
    assert "MiB free where the warehouse lives" in line and str(small_disk) in line, line
    assert list(small_disk.iterdir()) == []  # nothing written
