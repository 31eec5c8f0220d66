"""A full disk is refused before a run writes anything: ``newsflow run`` into a warehouse on a
small tmpfs exits 3 with one line naming the stage and the cause, and leaves the filesystem as
it found it.

The tmpfs is mounted in a mount namespace of the run's own (``unshare``), so the test needs no
root and leaves no mount behind, whatever happens to it: as root ``unshare -m``; otherwise
``unshare -rm``, a user namespace in which the caller may mount a tmpfs. The run, and the look
at what it left on the disk, both happen inside that namespace: the mount is seen nowhere else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsflow.tasks.warehouse.warehouse import MIN_FREE_BYTES
from tests.run_helpers import one_error_line, run_newsflow

# sh -c script; arguments: tmpfs size, mount point, listing file, then the command to run there.
# After the command it lists the disk into the listing file (outside the tmpfs, so visible to
# the test) and exits with the command's code; 97 and 98 say the mount or the listing failed.
ON_SMALL_DISK = """
mount -t tmpfs -o "size=$1" tmpfs "$2" || exit 97
disk=$2 listing=$3
shift 3
"$@"
code=$?
ls -A "$disk" > "$listing" || exit 98
exit $code
"""


@dataclass(frozen=True)
class SmallDisk:
    mount: Path  # the mount point (a tmpfs only inside the namespace)
    listing: Path  # what was on the disk after the command, one name a line
    prefix: list[str]  # put in front of a command line to run it with the disk mounted


@pytest.fixture
def small_disk(tmp_path) -> Iterator[SmallDisk]:
    """A tmpfs with less free space than a run needs, for one command."""
    mount = tmp_path / "disk"
    mount.mkdir()
    size = f"{MIN_FREE_BYTES // 1024 // 4}k"
    root = os.geteuid() == 0
    unshare = ["unshare", "-m"] if root else ["unshare", "-rm"]
    disk = SmallDisk(
        mount,
        tmp_path / "disk.listing",
        [
            *unshare,
            "sh",
            "-c",
            ON_SMALL_DISK,
            "sh",
            size,
            str(mount),
            str(tmp_path / "disk.listing"),
        ],
    )
    probe = (
        subprocess.run([*disk.prefix, "true"], capture_output=True, text=True)
        if shutil.which("unshare")
        else None
    )
    if probe is None or probe.returncode != 0:
        why = "no unshare command" if probe is None else probe.stderr.strip()
        if root:  # CI runs as root, where the mount must work
            pytest.fail(f"cannot mount a tmpfs in a mount namespace as root: {why}")
        # The suite's one skip, for a missing system component: without root, mounting the small
        # disk needs unprivileged user namespaces, which some hosts switch off (CI runs as root,
        # where this fails instead of skipping).
        pytest.skip(
            "needs a tmpfs: not root, and this machine gives no user namespace that may "
            f"mount one (unshare -rm: {why})"
        )
    disk.listing.unlink()
    yield disk


def test_a_run_on_a_nearly_full_disk_is_refused_before_writing(prefect_harness, small_disk):
    done = run_newsflow(
        small_disk.mount.parent, str(small_disk.mount / "news.duckdb"), prefix=small_disk.prefix
    )
    line = one_error_line(done)
    assert "the run failed at open the warehouse" in line, line
    assert "MiB free where the warehouse lives" in line and str(small_disk.mount) in line, line
    assert small_disk.listing.read_text() == ""  # nothing written
