"""Start-up time and idle memory of `dealer-assistant run` (cached model), and optionally the
time of `make test` in a fresh clone. Prints the figures and writes them to docs/benchmarks.md.

    .venv/bin/python bench/startup.py              # time to ready, RSS of each process
    .venv/bin/python bench/startup.py --make-test  # also cold and warm `make test`, fresh clone
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import RESULTS, write_section

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"rasa": "rasa run", "actions": "-m actions", "gateway": "-m bot.gateway"}


def descendants(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return children + [g for c in children for g in descendants(c)]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_run(idle_seconds: float) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "VAR_DIR": var}
        subprocess.run([str(ROOT / ".venv/bin/dealer-assistant"), "train"], env=env, check=True)
        started = time.monotonic()
        launcher = subprocess.Popen(
            [str(ROOT / ".venv/bin/dealer-assistant"), "run"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert launcher.stdout is not None
        ready = None
        for line in launcher.stdout:
            if re.search(r"==> ready in ([\d.]+) s", line):
                ready = time.monotonic() - started
                break
        if ready is None:
            raise SystemExit("dealer-assistant run never became ready")
        time.sleep(idle_seconds)
        memory: dict[str, float] = {"launcher": rss_mib(launcher.pid)}
        for pid in descendants(launcher.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for name, marker in NAMES.items():
                if marker in cmdline:
                    memory[name] = memory.get(name, 0.0) + rss_mib(pid)
        stop_started = time.monotonic()
        launcher.send_signal(signal.SIGINT)
        launcher.communicate(timeout=60)
        stopped = time.monotonic() - stop_started
    figures = {
        "`make run` ready (cached model), s": f"{ready:.1f}",
        "Ctrl-C to all stopped, s": f"{stopped:.1f}",
    }
    figures.update({f"RSS idle, {name}, MiB": f"{mib:.0f}" for name, mib in memory.items()})
    return figures


def measure_make_test() -> dict[str, str]:
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        shared = ROOT.parent / "shared"
        if shared.exists() and not (Path(tmp) / "shared").exists():
            (Path(tmp) / "shared").symlink_to(shared)
        caches = Path(tmp) / "caches"
        env = {
            **os.environ,
            "MODEL_CACHE_DIR": str(caches / "models"),
            "UV_CACHE_DIR": str(caches / "uv"),
        }
        labels = ("cold (fresh clone, empty model and package caches)", "warm (same clone again)")
        for label in labels:
            started = time.monotonic()
            log = RESULTS.parent / "make-test.log"
            with log.open("w") as out:
                done = subprocess.run(["make", "test"], cwd=clone, env=env, stdout=out, stderr=out)
            if done.returncode != 0:
                raise SystemExit(f"make test failed in the fresh clone; see {log}")
            figures[f"`make test` {label}, s"] = f"{time.monotonic() - started:.0f}"
        shutil.rmtree(caches, ignore_errors=True)
    return figures


def write(figures: dict[str, str], command: str) -> None:
    write_section(
        f"## Start-up, memory and test-suite time\n\nMeasured with `{command}` on "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores.\n\n| figure | value |\n| --- | --- |\n"
        + "".join(f"| {key} | {value} |\n" for key, value in figures.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--make-test", action="store_true")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before reading RSS")
    args = parser.parse_args()
    figures = {}
    if args.make_test:
        figures.update(measure_make_test())
    figures.update(measure_run(args.idle))
    for key, value in figures.items():
        print(f"{key}: {value}")
    write(figures, "python bench/startup.py" + (" --make-test" if args.make_test else ""))


if __name__ == "__main__":
    sys.exit(main())
