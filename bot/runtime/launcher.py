"""`dealer-assistant run`: prepare, start Rasa, the action server and the gateway, supervise them.

One foreground command: progress while preparing, the URLs once everything answers, every log line
prefixed with its process, and a clean stop of all processes on Ctrl-C or when one of them dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.runtime import paths
from bot.runtime.model import ensure_model, rasa_process_env
from bot.runtime.rasa_config import is_loopback, rasa_environment, write_endpoints
from crm_bridge import migrate
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import DealerData, load_dealer_data
from crm_bridge.logsafe import redact
from crm_bridge.settings import PROJECT_ROOT, Settings

COLOURS = {"rasa": "35", "actions": "36", "gateway": "33"}
READY_TIMEOUT = 300.0
STOP_TIMEOUT = 15.0


@dataclass
class Service:
    name: str
    argv: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None


def load_data(settings: Settings, path: Path | None = None) -> DealerData:
    """Validate the dealership data file and load it into the database; returns the data."""
    data = load_dealer_data(path or settings.dealer_data_path)
    engine = build_engine(settings.effective_database_url)
    try:
        with transaction(build_session_factory(engine)) as session:
            load_dealer_data_into(session, data)
    finally:
        engine.dispose()
    return data


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def prepare(settings: Settings) -> Path:
    """Migrations, model and endpoints; returns the model path."""
    say(f"database: applying migrations ({_safe_url(settings.effective_database_url)})")
    migrate.upgrade(settings.effective_database_url)
    say(f"dealership data: loading {settings.dealer_data_path}")
    load_data(settings)
    say("model: checking the cache")
    started = time.monotonic()
    model, trained = ensure_model(settings)
    if trained:
        say(f"model: trained in {time.monotonic() - started:.0f} s -> {model}")
    else:
        say(f"model: up to date ({model})")
    return model


def services(settings: Settings, model: Path, host: str = "127.0.0.1") -> list[Service]:
    token = settings.effective_rasa_token()
    endpoints = write_endpoints(settings)
    rasa_env = rasa_process_env(rasa_environment(settings, host))
    if is_loopback(host):
        rasa_env.pop("DA_REST_TOKEN", None)  # only the launcher decides; none on loopback
    python = sys.executable
    return [
        Service(
            "rasa",
            [
                str(paths.RASA_BIN),
                "run",
                "--enable-api",
                f"--auth-token={token}",  # a token may begin with "-": keep it one argument
                "--model",
                str(model),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(paths.CREDENTIALS),
                "--interface",
                host,
                "--port",
                str(settings.rasa_port),
                "--cors",
                "*",
            ],
            f"http://127.0.0.1:{settings.rasa_port}/",
            rasa_env,
        ),
        Service(
            "actions",
            # only Rasa calls it: loopback whatever `run --host` says, unless ACTIONS_HOST is set
            [python, "-m", "actions", "--port", str(settings.actions_port)],
            f"http://127.0.0.1:{settings.actions_port}/health",
        ),
        Service(
            "gateway",
            [python, "-m", "bot.gateway", "--host", host, "--port", str(settings.gateway_port)],
            f"http://127.0.0.1:{settings.gateway_port}/healthz",
        ),
    ]


async def _pump(service: Service, stream: asyncio.StreamReader, width: int) -> None:
    colour = COLOURS.get(service.name, "0")
    prefix = (
        f"\x1b[{colour}m{service.name:>{width}} |\x1b[0m "
        if sys.stdout.isatty()
        else (f"{service.name:>{width}} | ")
    )
    while line := await stream.readline():
        # Rasa's lines too: no phone number, e-mail address or URL secret reaches the terminal
        sys.stdout.write(prefix + redact(line.decode("utf-8", "replace").rstrip()) + "\n")
        sys.stdout.flush()


async def _wait_ready(service: Service, client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    assert service.process is not None
    while time.monotonic() < deadline:
        if service.process.returncode is not None:
            raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(service.ready_url, timeout=2)
            if response.status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{service.name} did not answer at {service.ready_url} in time")


async def _all_ready(specs: list[Service], client: httpx.AsyncClient) -> None:
    await asyncio.gather(*(_wait_ready(spec, client) for spec in specs))


async def _stop(running: list[Service]) -> None:
    alive = [s for s in running if s.process and s.process.returncode is None]
    for service in alive:
        assert service.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGTERM)
    for service in alive:
        assert service.process is not None
        try:
            await asyncio.wait_for(service.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            await service.process.wait()


async def supervise(
    specs: list[Service], on_ready: Callable[[], None], stop: asyncio.Event | None = None
) -> int:
    """Start ``specs``; returns 0 after a requested stop, 1 when a process died or never came up."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    width = max(len(s.name) for s in specs)
    pumps: list[asyncio.Task[None]] = []
    exit_code = 0
    try:
        for spec in specs:
            spec.process = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=PROJECT_ROOT,
                env=spec.env or None,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # we forward signals ourselves and stop in order
            )
            assert spec.process.stdout is not None
            pumps.append(asyncio.create_task(_pump(spec, spec.process.stdout, width)))
        exits = {
            asyncio.create_task(spec.process.wait()): spec  # type: ignore[union-attr]
            for spec in specs
        }
        stopped = asyncio.create_task(stop.wait())
        async with httpx.AsyncClient() as client:
            ready = asyncio.create_task(_all_ready(specs, client))
            done, _ = await asyncio.wait(
                {ready, stopped, *exits}, return_when=asyncio.FIRST_COMPLETED
            )
            if ready in done and ready.exception() is None:
                on_ready()
                done, _ = await asyncio.wait({stopped, *exits}, return_when=asyncio.FIRST_COMPLETED)
            elif ready in done:
                say(f"start-up failed: {ready.exception()}")
                exit_code = 1
            else:
                ready.cancel()
        for task in done:
            if task in exits:
                spec = exits[task]
                say(f"{spec.name} exited with code {task.result()}; stopping everything")
                exit_code = 1
        if stopped in done:
            say("stopping")
    finally:
        await _stop(specs)
        for pump in pumps:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pump, 5)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say("stopped")
    return exit_code


def run(settings: Settings, host: str = "127.0.0.1") -> int:
    """Prepare and run the whole assistant in the foreground."""
    started = time.monotonic()
    model = prepare(settings)
    specs = services(settings, model, host)
    rest_token_note = ""
    if not is_loopback(host):
        say(
            f"REST channel: Rasa listens beyond loopback ({host}), so every message needs"
            " 'Authorization: Bearer <token>' with the token in REST_TOKEN or var/rest_token"
        )
        rest_token_note = "  (token: REST_TOKEN or var/rest_token)"  # noqa: S105 (where it is)
    say("starting rasa, actions and gateway")

    def on_ready() -> None:
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
        say(f"ready in {time.monotonic() - started:.1f} s")
        print(
            f"\n  web chat     http://{shown}:{settings.gateway_port}/\n"
            f"  Rasa API     http://{shown}:{settings.rasa_port}/"
            "  (token: RASA_TOKEN or var/rasa_token)\n"
            f"  REST channel http://{shown}:{settings.rasa_port}/webhooks/rest/webhook"
            f"{rest_token_note}\n"
            f"  actions      http://{settings.actions_host}:{settings.actions_port}/health"
            "  (token: ACTIONS_TOKEN or var/actions_token)\n"
            "\n  Ctrl-C stops everything.\n",
            flush=True,
        )

    return asyncio.run(supervise(specs, on_ready))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
