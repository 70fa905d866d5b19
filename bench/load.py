"""Load benchmark: simultaneous buyers against the whole stack and against the stock Rasa starter.

    .venv/bin/python bench/load.py                       # 50 buyers, writes docs/benchmarks.md
    .venv/bin/python bench/load.py --buyers 20 --rounds 1 --no-write
    .venv/bin/python bench/load.py --starter /tmp/starter  # keep the trained starter for next time
    .venv/bin/python bench/load.py --py-spy /tmp/profile   # also sample Rasa and the action server

Starts, in a temporary folder and on free loopback ports, the project's stack as `make run` starts
it (Rasa with the cached model and the action server, through `bot.runtime.launcher`), and the assistant
that `rasa init --no-prompt` creates (trained into the temporary folder with the project's
`.venv-rasa/bin/rasa`, served by `rasa run --enable-api`, without an action server: it has no
custom actions). Then, in the same run, it drives simultaneous buyers through the REST channel
(`POST /webhooks/rest/webhook`) against each in turn: every buyer holds its own conversation
(a sender id of its own), waits for each answer before saying the next turn and starts a new
conversation once its script is said. Each pass has a warm-up and a measured window bounded by a
duration and a number of messages; passes alternate between the two servers (stack, stock, stack,
...) so that both see the same machine. Figures: messages per second, latency percentiles, errors,
CPU time per message of each server process, and the ratio stack/stock; printed and written to
docs/benchmarks.md. Only loopback addresses are used; every pass stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report import write_section  # noqa: E402

from bot.runtime.launcher import load_data, services, supervise  # noqa: E402
from bot.runtime.model import ensure_model  # noqa: E402
from bot.runtime.paths import RASA_BIN  # noqa: E402
from crm_bridge import migrate  # noqa: E402
from crm_bridge.settings import Settings  # noqa: E402
from tests.integration.stack import free_port, settings_env  # noqa: E402

HEADING = "## Load: 50 simultaneous buyers"
WEBHOOK = "/webhooks/rest/webhook"

# What buyers of the dealership say, in both languages: a greeting, a price question, a question
# about a model, a recommendation by need, a test-drive request and the answers the booking form
# asks for. {phone} is a number of the buyer's own.
STACK_SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("你好", "Q5L多少钱", "Q7是几座的", "80万以内的7座SUV有哪些", "我想预约试驾Q7",
     "明天下午三点", "同意", "张伟"),
    ("hello", "how much is the A6L", "what is the range of the Q4 e-tron",
     "recommend me an electric SUV under 500k", "I'd like to test drive the Q4 e-tron",
     "next friday at 3pm", "yes, I agree", "Michael Chen"),
    ("您好", "A6L什么价格", "Q7怎么样", "预算40万左右，推荐一款轿车", "想预约试驾",
     "A6L", "这周六上午", "同意"),
    ("hi there", "what's the price of the Q5L", "how many seats does the Q7 have",
     "which car would you recommend for a family of seven", "can I book a test drive",
     "the Q7", "tomorrow at 10am", "yes"),
    ("你好", "Q3多少钱", "我叫李娜，电话{phone}，想看Q3，预算25万", "同意", "两周内吧",
     "贷款", "没有", "谢谢"),
)  # fmt: skip
# The starter's own intents: greet, mood, affirm/deny, bot challenge, goodbye.
STOCK_SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("hello", "I am sad", "no", "are you a bot?", "hi", "great", "yes", "bye"),
    ("hey", "I'm great", "are you a human?", "good morning", "I am very sad", "yes", "good evening",
     "see you later"),
    ("hi", "very unhappy", "not really", "am I talking to a bot?", "hello there", "amazing",
     "indeed", "goodbye"),
)  # fmt: skip


@dataclass
class Target:
    name: str
    url: str
    scripts: tuple[tuple[str, ...], ...]
    pids: dict[str, int] = field(default_factory=dict)  # server processes, for CPU time


@dataclass
class Pass:
    """What one pass of buyers against one server measured."""

    latencies: list[float] = field(default_factory=list)  # seconds, answered messages
    errors: int = 0
    unanswered: int = 0  # HTTP 200 with no reply at all
    conversations: int = 0
    elapsed: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    answered_in_pass: int = 0  # warm-up included, for CPU time per message
    cpu: dict[str, float] = field(default_factory=dict)  # seconds per process over the pass
    rates: list[float] = field(default_factory=list)  # messages/s of each pass

    def add(self, other: Pass) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.unanswered += other.unanswered
        self.conversations += other.conversations
        self.elapsed += other.elapsed
        self.error_samples += other.error_samples[: 5 - len(self.error_samples)]
        self.answered_in_pass += other.answered_in_pass
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds
        self.rates += other.rates or [other.rate]

    @property
    def messages(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def cpu_ms_per_message(self, name: str) -> float:
        return self.cpu.get(name, 0.0) / max(self.answered_in_pass, 1) * 1000

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def phone_of(buyer: int, conversation: int) -> str:
    return f"139{(buyer * 1000 + conversation) % 100_000_000:08d}"


async def drive(
    target: Target,
    buyers: int,
    turns: int,
    warmup: float,
    duration: float,
    max_messages: int,
    tag: str = "load",
) -> Pass:
    """``buyers`` simultaneous conversations for ``warmup`` + ``duration`` seconds.

    The buyers talk from the start; what is answered in the ``duration`` seconds after the warm-up
    is measured, so the measured window sees conversations at every stage, as in steady use. No
    buyer sends more once ``max_messages`` messages are sent in all.
    """
    result = Pass()
    sent = 0
    limits = httpx.Limits(max_connections=buyers, max_keepalive_connections=buyers)
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=target.url, limits=limits, timeout=120) as client:
        measured_from = time.monotonic() + warmup
        deadline = measured_from + duration

        async def buyer(number: int) -> None:
            nonlocal sent
            conversation = 0
            while True:
                script = target.scripts[(number + conversation) % len(target.scripts)]
                sender = f"{tag}-{run}-{number}-{conversation}"
                for turn in range(turns):
                    if time.monotonic() >= deadline or sent >= max_messages:
                        return
                    sent += 1
                    text = script[turn % len(script)].format(phone=phone_of(number, conversation))
                    began = time.monotonic()
                    try:
                        response = await client.post(
                            WEBHOOK, json={"sender": sender, "message": text}
                        )
                        response.raise_for_status()
                        replies = response.json()
                        failure = None
                    except (httpx.HTTPError, ValueError) as error:
                        failure = f"{text!r}: {error!r}"
                    answered = time.monotonic()
                    result.answered_in_pass += failure is None
                    if not measured_from <= answered <= deadline:
                        continue
                    result.conversations += turn == 0
                    if failure is not None:
                        result.errors += 1
                        if len(result.error_samples) < 5:
                            result.error_samples.append(failure)
                        continue
                    result.latencies.append(answered - began)
                    if not replies:
                        result.unanswered += 1
                conversation += 1

        cpu_before = {name: cpu_seconds(pid) for name, pid in target.pids.items()}
        await asyncio.gather(*(buyer(n) for n in range(buyers)))
        result.elapsed = max(0.0, min(time.monotonic(), deadline) - measured_from)
        result.cpu = {
            name: cpu_seconds(pid) - cpu_before[name] for name, pid in target.pids.items()
        }
    return result


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the servers ----------------------------------------------------------------------------------


async def wait_until_up(url: str, process: asyncio.subprocess.Process, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s")


def stock_env() -> dict[str, str]:
    """The starter runs as `rasa init` leaves it: no project settings, only quiet and offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "TF_", "OMP_"))}
    env.update(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    return env


def init_starter(folder: Path, log: Path) -> Path:
    """`rasa init --no-prompt` into ``folder`` (which trains it) unless it already holds a model."""
    models = folder / "models"
    if not (models.is_dir() and any(models.glob("*.tar.gz"))):
        folder.mkdir(parents=True, exist_ok=True)
        say(f"stock: rasa init --no-prompt --init-dir {folder} (trains the starter)")
        with log.open("ab") as out:
            subprocess.run(
                [str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(folder)],
                cwd=folder, env=stock_env(), stdout=out, stderr=subprocess.STDOUT, check=True,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
    return max(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


@contextlib.asynccontextmanager
async def stock_server(folder: Path, log: Path) -> AsyncIterator[Target]:
    model = await asyncio.to_thread(init_starter, folder, log)
    port = free_port()
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            str(RASA_BIN), "run", "--enable-api", "--model", str(model),
            "--interface", "127.0.0.1", "--port", str(port),
            cwd=folder, env=stock_env(), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/", process, 300)
        yield Target("stock", f"http://127.0.0.1:{port}", STOCK_SCRIPTS, {"stock": process.pid})
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


@contextlib.asynccontextmanager
async def stack_server(settings: Settings, log: Path) -> AsyncIterator[Target]:
    """Rasa and the action server started by `bot.runtime.launcher.supervise`, as `make run` does."""
    migrate.upgrade(settings.effective_database_url)
    load_data(settings)
    say("stack: model (from the cache, trained if missing)")
    model, _ = await asyncio.to_thread(ensure_model, settings)
    specs = [s for s in services(settings, model) if s.name != "gateway"]
    ready, stop = asyncio.Event(), asyncio.Event()
    # supervise prints its children's output: into the log, not between the figures.
    with log.open("w") as out, contextlib.redirect_stdout(out):
        supervisor = asyncio.create_task(supervise(specs, ready.set, stop))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({supervisor, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if not ready.is_set():
            raise RuntimeError(f"the stack did not start; see {log}")
        try:
            pids = {s.name: s.process.pid for s in specs if s.process is not None}
            yield Target("stack", settings.effective_rasa_url, STACK_SCRIPTS, pids)
        finally:
            stop.set()
            await supervisor


# --- profiling ------------------------------------------------------------------------------------


def py_spy() -> str | None:
    for candidate in (ROOT / ".venv-rasa" / "bin" / "py-spy", ROOT / ".venv" / "bin" / "py-spy"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("py-spy")


async def profile_after(delay: float, pids: dict[str, int], folder: Path, seconds: float) -> None:
    """py-spy on each process for the measured window: collapsed stacks, idle frames left out."""
    binary = py_spy()
    if binary is None:
        raise SystemExit("--py-spy: py-spy is not installed (pip install py-spy into a venv)")
    await asyncio.sleep(delay)
    profiles = []
    for name, pid in pids.items():
        argv = [binary, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
                "--duration", str(int(seconds)), "--nonblocking",
                "--output", str(folder / f"{name}.txt")]  # fmt: skip
        profiles.append(
            await asyncio.create_subprocess_exec(
                *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    for profile in profiles:
        await profile.wait()


# --- report ---------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def row(name: str, result: Pass) -> str:
    cpu = " + ".join(
        f"{process} {result.cpu_ms_per_message(process):.0f}" for process in result.cpu
    )
    rounds = ", ".join(f"{rate:.1f}" for rate in result.rates)
    return (
        f"| {name} | **{result.rate:.1f}** ({rounds}) | {result.percentile(0.5):.0f} | "
        f"{result.percentile(0.9):.0f} | {result.percentile(0.95):.0f} | "
        f"{result.percentile(0.99):.0f} | {result.errors} | {result.unanswered} | "
        f"{len(result.latencies)} | {cpu} |"
    )


def report(results: dict[str, Pass], args: argparse.Namespace, loads: Sequence[str]) -> str:
    stack, stock = results["stack"], results["stock"]
    ratio = stack.rate / stock.rate if stock.rate else float("nan")
    command = " ".join([".venv/bin/python bench/load.py", *sys.argv[1:]])
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured with `{command}` on {time.strftime('%Y-%m-%d %H:%M')}, {machine()}, "
            f"load average (1/5/15 min) {loads[0]} before and {loads[-1]} after (the machine "
            "is shared: figures move with what else runs, the ratio of one run much less). "
            f"{args.buyers} buyers at once, each saying its conversation's {args.turns} turns "
            "one after the other without pause, then starting a new conversation, over the REST "
            f"channel on loopback; after a {args.first_warmup:.0f} s warm-up pass on each server, "
            f"{args.rounds} round(s) of {args.warmup:.0f} s warm-up and "
            f"{args.duration:.0f} s measured (at most {args.messages} messages) on each server, "
            "in the order stack, stock. **stack**: Rasa with the project's model and the action "
            "server, as `make run` starts them (SQLite tracker store and dealership database). "
            "**stock**: the assistant of `rasa init --no-prompt` (same Rasa, in-memory tracker "
            "store, no action server).",
            "",
            "| server | messages/s (each round) | p50 ms | p90 ms | p95 ms | p99 ms | errors | "
            "no reply | answered | CPU ms per message |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            row("stack", stack),
            row("stock", stock),
            "",
            f"Throughput ratio stack/stock: **{ratio:.2f}** (target ≥ 0.6).",
            "",
        ]
    )


# --- main -----------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Pass]:
    var = work / "var"
    values = {
        "var_dir": var, "rasa_port": free_port(), "actions_port": free_port(),
        "gateway_port": free_port(), "database_url": None, "tracker_store_url": None,
        "redis_url": None, "rabbitmq_url": None, "rasa_token": None,
    }  # fmt: skip
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]
    # The action server reads its settings from the environment, like under `make run`.
    for key in ("DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL", "RABBITMQ_URL", "RASA_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(settings_env(settings))
    logs = work / "logs"
    logs.mkdir(parents=True)
    starter = args.starter or work / "starter"
    results = {"stack": Pass(), "stock": Pass()}
    say(f"logs in {logs}")
    async with contextlib.AsyncExitStack() as servers:
        stack, stock = await asyncio.gather(
            servers.enter_async_context(stack_server(settings, logs / "stack.log")),
            servers.enter_async_context(stock_server(starter, logs / "stock.log")),
        )
        targets = {"stack": stack, "stock": stock}
        for name, target in targets.items():
            # TensorFlow traces its functions for each new input shape on first use: the first
            # minute of a fresh server is slower than what it does from then on.
            say(f"{name}: warm-up pass, {args.first_warmup:.0f} s")
            await drive(target, args.buyers, args.turns, args.first_warmup, 0, args.messages)
        for round_number in range(1, args.rounds + 1):
            for name, target in targets.items():
                say(
                    f"{name}: round {round_number}, {args.buyers} buyers, {args.warmup:.0f} s "
                    f"warm-up + {args.duration:.0f} s (load {load_average()})"
                )
                profiling = None
                if args.py_spy and name == "stack":
                    folder = args.py_spy / f"round{round_number}"
                    folder.mkdir(parents=True, exist_ok=True)
                    profiling = asyncio.create_task(
                        profile_after(args.warmup, stack.pids, folder, args.duration)
                    )
                result = await drive(
                    target, args.buyers, args.turns, args.warmup, args.duration, args.messages
                )
                if profiling is not None:
                    await profiling
                say(
                    f"{name}: {result.rate:.1f} messages/s, p50 {result.percentile(0.5):.0f} ms, "
                    f"p95 {result.percentile(0.95):.0f} ms, {result.errors} errors"
                )
                for sample in result.error_samples:
                    say(f"  error: {sample}")
                if any(cpu_seconds(pid) == 0.0 for pid in target.pids.values()):
                    raise RuntimeError(f"a {name} server process is gone; see the logs in {logs}")
                results[name].add(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=50, help="simultaneous buyers (50)")
    parser.add_argument("--turns", type=int, default=8, help="turns per conversation (8)")
    parser.add_argument("--duration", type=float, default=30, help="measured s per pass (30)")
    parser.add_argument("--messages", type=int, default=20_000, help="at most, per pass")
    parser.add_argument("--warmup", type=float, default=10, help="warm-up s per pass (10)")
    parser.add_argument(
        "--first-warmup", type=float, default=30, help="s of warm-up before round 1 (30)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes on each, alternating (3)")
    parser.add_argument("--starter", type=Path, help="keep the `rasa init` project here")
    parser.add_argument("--py-spy", type=Path, help="write py-spy profiles of the stack here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    if args.py_spy:
        args.py_spy = args.py_spy.resolve()
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    loads = [load_average()]
    try:
        results = asyncio.run(measure(args, work))
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    loads.append(load_average())
    section = report(results, args, loads)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
