"""Start the real Rasa server (trained model) and the real action server as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import column, create_engine, select, table

from bot.runtime.launcher import load_data, services
from bot.runtime.model import ensure_model
from crm_bridge import migrate
from crm_bridge.settings import PROJECT_ROOT, Settings

# The tests and the simulator talk at machine speed: unless their settings name an allowance (as
# test_doors does, to test the limit), Rasa's per-sender rate limit is one no script reaches.
HARNESS_MESSAGES_PER_MINUTE = 600
# Rasa's SQL tracker store, as far as the tests read it.
_EVENTS = table("events", column("sender_id"), column("data"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same Settings."""
    values = {
        "VAR_DIR": str(settings.var_dir),
        "DATABASE_URL": settings.effective_database_url,
        "TRACKER_STORE_URL": settings.effective_tracker_store_url,
        "RASA_PORT": str(settings.rasa_port),
        "ACTIONS_PORT": str(settings.actions_port),
        "GATEWAY_PORT": str(settings.gateway_port),
        "DEALER_NAME": settings.dealer_name,
        "DEALER_NAME_EN": settings.dealer_name_en,
        "DEALER_TIMEZONE": settings.dealer_timezone,
        "DEALER_DATA": str(settings.dealer_data or ""),
        "MODEL_CACHE_DIR": str(settings.model_cache_dir),
        "REDIS_URL": settings.redis_url or "",
        "RABBITMQ_URL": settings.rabbitmq_url or "",
        "TWILIO_API_BASE_URL": settings.twilio_api_base_url,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid or "",
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token or "",
        "TWILIO_FROM_NUMBER": settings.twilio_from_number or "",
        "PHONE_PUBLIC_URL": settings.phone_public_url or "",
        "PHONE_LANGUAGE": settings.phone_language,
        "MAX_ACTIVE_BOOKINGS": str(settings.max_active_bookings),
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token or "",
        "TELEGRAM_API_BASE_URL": settings.telegram_api_base_url,
        "TELEGRAM_WEBHOOK_URL": settings.telegram_webhook_url or "",
        "TELEGRAM_WEBHOOK_SECRET": settings.telegram_webhook_secret or "",
        "TELEGRAM_SALES_CHAT_ID": str(settings.telegram_sales_chat_id or ""),
        "HANDOFF_CLAIM_MINUTES": str(settings.handoff_claim_minutes),
        "HANDOFF_REPLY_MINUTES": str(settings.handoff_reply_minutes),
    }
    return {key: value for key, value in values.items() if value}


@dataclass
class Stack:
    settings: Settings
    token: str
    logs: Path
    # The running servers by name ("rasa", "actions", "gateway"), and how to start each again.
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launch: dict[str, Callable[[], subprocess.Popen[bytes]]] = field(default_factory=dict)
    ready_urls: dict[str, str] = field(default_factory=dict)

    def stop(self, name: str) -> None:
        """Stop one server, as an operator or a crash would (SIGTERM, then SIGKILL)."""
        process = self.processes[name]
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start(self, name: str, timeout: float = 240) -> None:
        """Start a stopped server again and wait until it answers."""
        self.processes[name] = self.launch[name]()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited during start-up:\n" + self.log_tail())
            with suppress(httpx.HTTPError):
                if httpx.get(self.ready_urls[name], timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not come up:\n" + self.log_tail())

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    def say(self, sender: str, text: str, **extra: Any) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, **extra},
            timeout=60,
        )
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies

    def parse(self, text: str) -> dict[str, Any]:
        """What the NLU makes of ``text`` (``/model/parse``)."""
        response = httpx.post(
            f"{self.rasa_url}/model/parse", params={"token": self.token}, json={"text": text},
            timeout=30,
        )  # fmt: skip
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def texts(self, sender: str, text: str) -> list[str]:
        return [reply.get("text", "") for reply in self.say(sender, text)]

    def transcript(self, *senders: str) -> list[str]:
        """The stored events (JSON) of these conversations in Rasa's tracker store."""
        engine = create_engine(self.settings.effective_tracker_store_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(_EVENTS.c.data).where(_EVENTS.c.sender_id.in_(senders))
                )
                return [str(data) for data in rows.scalars()]
        finally:
            engine.dispose()

    def log_tail(self, lines: int = 60) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            out.append(f"--- {path.name}")
            out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)


def open_every_day(settings: Settings) -> Path:
    """The demo dealership without its holidays, in the stack's var/: the tests book "明天" and
    must pass on any date, the day before a holiday included."""
    data = yaml.safe_load(settings.dealer_data_path.read_text(encoding="utf-8"))
    data["dealer"]["holidays"] = []
    path = settings.var_dir / "dealer_data.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def running_stack(
    settings: Settings, timeout: float = 240, with_gateway: bool = False
) -> Iterator[Stack]:
    """Rasa and the action server (and the gateway if asked), started as `make run` starts them."""
    if "sender_messages_per_minute" not in settings.model_fields_set:
        update = {"sender_messages_per_minute": HARNESS_MESSAGES_PER_MINUTE}
        settings = settings.model_copy(update=update)
    if "dealer_data" not in settings.model_fields_set:
        settings = settings.model_copy(update={"dealer_data": open_every_day(settings)})
    migrate.upgrade(settings.effective_database_url)
    load_data(settings)
    model, _ = ensure_model(settings)
    wanted = {"rasa", "actions"} | ({"gateway"} if with_gateway else set())
    specs = [s for s in services(settings, model) if s.name in wanted]
    logs = settings.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "RASA_"))}
    base_env.update(settings_env(settings))
    stack = Stack(settings, settings.effective_rasa_token(), logs)
    for spec in specs:
        env = {**base_env, **{k: v for k, v in spec.env.items() if k.startswith("DA_")}}
        if spec.env:  # Rasa: its own PYTHONPATH and quiet TF, plus the DA_* variables
            env.update({k: spec.env[k] for k in ("PYTHONPATH", "RASA_TELEMETRY_ENABLED")})

        def launch(spec: Any = spec, env: dict[str, str] = env) -> subprocess.Popen[bytes]:
            log = (logs / f"{spec.name}.log").open("ab")
            return subprocess.Popen(
                spec.argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

        stack.launch[spec.name] = launch
        stack.ready_urls[spec.name] = spec.ready_url
    try:
        for spec in specs:
            stack.processes[spec.name] = stack.launch[spec.name]()
        deadline = time.monotonic() + timeout
        for spec in specs:
            while True:
                if any(p.poll() is not None for p in stack.processes.values()):
                    raise RuntimeError("a server exited during start-up:\n" + stack.log_tail())
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{spec.name} did not come up:\n" + stack.log_tail())
                with suppress(httpx.HTTPError):
                    if httpx.get(spec.ready_url, timeout=2).status_code == 200:
                        break
                time.sleep(0.5)
        yield stack
    finally:
        for process in stack.processes.values():
            process.terminate()
        for process in stack.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def stack_in(folder: Path, with_gateway: bool = False, **overrides: Any) -> Iterator[Stack]:
    """The stack on free ports with its settings and databases in ``folder``."""
    from tests.conftest import make_settings

    ports = {"rasa_port": free_port(), "actions_port": free_port(), "gateway_port": free_port()}
    settings = make_settings(folder, **{**ports, **overrides})
    with running_stack(settings, with_gateway=with_gateway) as stack:
        yield stack


def telegram_settings(folder: Path, bot_api: str, token: str, **overrides: Any) -> Settings:
    """Settings on free ports with Telegram in webhook mode against a Bot API at ``bot_api``."""
    from tests.conftest import make_settings

    return make_settings(
        folder,
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        telegram_bot_token=token,
        telegram_api_base_url=bot_api,
        telegram_webhook_url="https://dealer.example/telegram/webhook",
        **overrides,
    )


CLI = str(Path(sys.executable).parent / "dealer-assistant")


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`dealer-assistant ARGS` on the stack's databases and var/, as the dealership runs it."""
    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **settings_env(stack.settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def export(stack: Stack, what: str) -> list[dict[str, Any]]:
    """`dealer-assistant leads|bookings export --format json`, as a dealership's CRM calls it."""
    result = cli(stack, what, "export", "--format", "json")
    assert result.returncode == 0, result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records
