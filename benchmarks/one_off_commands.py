"""Wall time of one-off commands: the first ``newsflow run`` on a machine and the next ones.

    python benchmarks/one_off_commands.py            # 3 runs after the first
    python benchmarks/one_off_commands.py --runs 5 --mode temporary

1. Serves the bundled demo site on a free loopback port (this process, a thread).
2. Writes the demo's config for it into a fresh folder, with a fresh ``$PREFECT_HOME`` and no
   ``PREFECT_API_URL``.
3. Times ``newsflow run`` as a user runs it (a new process each time, wall clock from spawn to
   exit): the first run starts the local Prefect server and ingests the site; the later ones
   find every feed unchanged (304) and reuse the server.
4. Stops the local server it started.

``--mode temporary`` (``NEWSFLOW_PREFECT_SERVER=temporary``) times the opt-out instead: every
command starts and stops a server of its own. Prints one line per run and the load average,
since on a shared machine the wall times move with it, and the CPU seconds of each command
(the part of its wall time no load can add to).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsflow.demo.config import demo_config  # noqa: E402
from newsflow.demo.server import start_demo_site  # noqa: E402
from newsflow.ops.prefect_server import stop_local_server  # noqa: E402
from newsflow.schemas.config_toml import write_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs after the first")
    parser.add_argument("--mode", choices=("shared", "temporary"), default="shared")
    args = parser.parse_args()

    site = start_demo_site(0)
    with tempfile.TemporaryDirectory(prefix="newsflow-one-off-") as tmp:
        folder = Path(tmp)
        home = folder / "prefect-home"
        write_config(demo_config(site.base_url, db="newsflow.duckdb"), folder / "newsflow.toml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env.update(PREFECT_HOME=str(home), NEWSFLOW_PREFECT_SERVER=args.mode)
        newsflow = [sys.executable, "-m", "newsflow.cli.main", "run", "--json"]
        try:
            for n in range(args.runs + 1):
                cpu_before = _children_cpu_s()
                started = time.perf_counter()
                done = subprocess.run(
                    newsflow, cwd=folder, env=env, capture_output=True, text=True, check=False
                )
                wall = time.perf_counter() - started
                cpu = _children_cpu_s() - cpu_before
                if done.returncode != 0:
                    raise SystemExit(f"run {n} exited {done.returncode}: {done.stderr[-2000:]}")
                summary = json.loads(done.stdout)
                what = "first" if n == 0 else "again"
                print(
                    f"{what:>5} run: {wall:6.2f} s wall, {cpu:5.2f} s CPU, "
                    f"{summary['elapsed_s']:5.2f} s in the "
                    f"flow, {summary['loaded']['new']} new articles, "
                    f"{summary['pages_fetched']} pages fetched; load average "
                    f"{os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        finally:
            stop_local_server(force=True, home=home)
            site.stop()


def _children_cpu_s() -> float:
    """User + system CPU of the waited-for children so far: the command's own cost, which the
    load of a shared machine does not inflate as it does the wall time (the local server,
    not a child of the command, is not in it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
