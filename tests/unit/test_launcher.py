"""The process supervisor, with real child processes."""

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from bot.runtime.launcher import Service, services, supervise
from crm_bridge.settings import Settings
from tests.conftest import make_settings

SERVER = """
import http.server, sys, time
delay = float(sys.argv[2])
time.sleep(delay)
print("serving", flush=True)
handler = http.server.SimpleHTTPRequestHandler
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server(name: str, tmp_path: Path, delay: float = 0.0) -> Service:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    port = free_port()
    return Service(
        name, [sys.executable, str(script), str(port), str(delay)], f"http://127.0.0.1:{port}/"
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_ready_then_clean_stop(tmp_path: Path) -> None:
    specs = [server("one", tmp_path), server("two", tmp_path, delay=1.0)]
    stop = asyncio.Event()
    became_ready: list[bool] = []

    def on_ready() -> None:
        became_ready.append(True)
        stop.set()

    code = await asyncio.wait_for(supervise(specs, on_ready, stop), 60)
    assert code == 0
    assert became_ready == [True]
    for spec in specs:
        assert spec.process is not None
        assert spec.process.returncode is not None
        assert not alive(spec.process.pid)


async def test_one_process_dying_stops_everything(tmp_path: Path) -> None:
    survivor = server("survivor", tmp_path)
    exits = "import time; time.sleep(2); raise SystemExit(3)"
    dies = Service("dies", [sys.executable, "-c", exits], "http://127.0.0.1:9/")
    code = await asyncio.wait_for(supervise([survivor, dies], lambda: None), 60)
    assert code == 1
    assert survivor.process is not None
    assert not alive(survivor.process.pid)


async def test_dying_after_ready_stops_everything(tmp_path: Path) -> None:
    victim = server("victim", tmp_path)
    other = server("other", tmp_path)

    def on_ready() -> None:
        assert victim.process is not None
        victim.process.kill()

    code = await asyncio.wait_for(supervise([victim, other], on_ready), 60)
    assert code == 1
    assert other.process is not None
    assert not alive(other.process.pid)


async def test_log_lines_are_prefixed(tmp_path: Path, capfd: object) -> None:
    spec = server("named", tmp_path)
    stop = asyncio.Event()
    await asyncio.wait_for(supervise([spec], stop.set, stop), 60)
    out, _ = capfd.readouterr()  # type: ignore[attr-defined]
    assert "named | serving" in out


def test_a_token_beginning_with_a_dash_stays_one_argument(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_token="-starts-with-a-dash")
    [rasa] = [s for s in services(settings, tmp_path / "model.tar.gz") if s.name == "rasa"]
    assert "--auth-token=-starts-with-a-dash" in rasa.argv


def test_the_action_server_stays_on_loopback_when_rasa_listens_everywhere(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    everywhere = "0.0.0.0"  # noqa: S104 - what `run --host 0.0.0.0` passes
    specs = {s.name: s for s in services(settings, tmp_path / "model.tar.gz", host=everywhere)}
    assert specs["rasa"].argv[specs["rasa"].argv.index("--interface") + 1] == everywhere
    assert "--host" not in specs["actions"].argv  # the action server's own default applies
    assert settings.actions_host == "127.0.0.1"


def rasa_env(settings: Settings, tmp_path: Path, host: str) -> dict[str, str]:
    [rasa] = [s for s in services(settings, tmp_path / "model.tar.gz", host) if s.name == "rasa"]
    return rasa.env


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_on_loopback_the_rest_channel_needs_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("DA_REST_TOKEN", "left-over-in-the-shell")  # the launcher decides, not it
    env = rasa_env(make_settings(tmp_path), tmp_path, host)
    assert "DA_REST_TOKEN" not in env
    assert not (tmp_path / "var" / "rest_token").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "dealer.example.com"])  # noqa: S104
def test_beyond_loopback_rasa_gets_the_rest_token_in_its_environment(
    tmp_path: Path, host: str
) -> None:
    settings = make_settings(tmp_path)
    [rasa] = [s for s in services(settings, tmp_path / "model.tar.gz", host) if s.name == "rasa"]
    token = (tmp_path / "var" / "rest_token").read_text()  # generated once, owner-only
    assert len(token) >= 40
    assert (tmp_path / "var" / "rest_token").stat().st_mode & 0o777 == 0o600
    assert rasa.env["DA_REST_TOKEN"] == token == settings.effective_rest_token()
    assert not any(token in arg for arg in rasa.argv)  # never on a command line
    configured = make_settings(tmp_path, rest_token="from-the-environment")
    assert rasa_env(configured, tmp_path, host)["DA_REST_TOKEN"] == "from-the-environment"


def test_rasa_gets_the_per_sender_allowance(tmp_path: Path) -> None:
    default = rasa_env(make_settings(tmp_path), tmp_path, "127.0.0.1")
    assert default["DA_SENDER_MESSAGES_PER_MINUTE"] == "20"
    settings = make_settings(tmp_path, sender_messages_per_minute=7)
    for host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104
        assert rasa_env(settings, tmp_path, host)["DA_SENDER_MESSAGES_PER_MINUTE"] == "7"
