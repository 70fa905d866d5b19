"""NLU benchmark (runs in the Rasa environment): train on nlu/data, evaluate on the held-out set.

    .venv-rasa/bin/python bench/nlu_eval.py            # train, evaluate, write docs/benchmarks.md
    .venv-rasa/bin/python bench/nlu_eval.py --model M  # evaluate an existing model

Reports intent macro-F1, entity F1 per type and micro-F1 (exact span and type), normalization
accuracy of correctly extracted entities, the most confused intent pairs, training time, and the
median latency of the real HTTP API (`/model/parse` on a running `rasa run`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import write_section  # noqa: E402

HELDOUT = ROOT / "bench" / "data" / "nlu_heldout.yml"
# Written without access to the training data, from the annotation guide and a brief of how
# buyers talk (greetings around requests, fragments, typos, voice style, competitors).
BUYERS = ROOT / "bench" / "data" / "nlu_buyers_heldout.yml"
# Values that come from the dictionary component: compared as the pipeline gave them.
DICTIONARY_TYPES = {"feature", "competitor", "color"}
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
# The held-out set's relative times are written against this moment (docs/nlu-annotation.md).
REFERENCE = datetime(2026, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
       "RASA_TELEMETRY_ENABLED": "false", "PYTHONWARNINGS": "ignore"}  # fmt: skip


def train(out: Path) -> tuple[Path, float]:
    """A full `rasa train` (NLU and dialogue) without any cache; returns the model and seconds."""
    cache = out / "cache"
    started = time.monotonic()
    subprocess.run(
        [str(RASA), "train", "--config", "config.yml", "--domain", "domain",
         "--data", "nlu/data", "--out", str(out), "--fixed-model-name", "bench"],
        cwd=ROOT, env={**ENV, "RASA_CACHE_DIRECTORY": str(cache)}, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return out / "bench.tar.gz", time.monotonic() - started


def load_heldout(path: Path = HELDOUT) -> list[dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        {"text": m.get("text"), "intent": m.get("intent"), "entities": m.get("entities") or []}
        for m in data.intent_examples
    ]


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, score


def evaluate(examples: list[dict[str, Any]], parsed: list[dict[str, Any]]) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from nlu.values import normalize

    gold = [e["intent"] for e in examples]
    predicted = [p["intent"]["name"] for p in parsed]
    labels = sorted(set(gold))
    macro = f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
    per_intent = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    confused = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)

    counts: dict[str, Counter[str]] = {}
    normalized_ok = normalized_total = 0
    wrong_values: list[str] = []
    entity_errors: list[str] = []
    for example, result in zip(examples, parsed, strict=True):
        want = {(e["start"], e["end"], e["entity"]): e for e in example["entities"]}
        got = {(e["start"], e["end"], e["entity"]): e for e in result["entities"]}
        for key in want.keys() | got.keys():
            c = counts.setdefault(key[2], Counter())
            if key in want and key in got:
                c["tp"] += 1
                span = example["text"][key[0] : key[1]]
                value = (
                    got[key].get("value")
                    if key[2] in DICTIONARY_TYPES
                    else normalize(key[2], span, REFERENCE)
                )
                normalized_total += 1
                if _same(value, want[key]["value"]):
                    normalized_ok += 1
                else:
                    wrong_values.append(
                        f"{key[2]}: {span!r} -> {value!r}, want {want[key]['value']!r}"
                    )
            elif key in want:
                c["fn"] += 1
                entity_errors.append(
                    f"missed {key[2]} {example['text'][key[0] : key[1]]!r} in {example['text']!r}"
                )
            else:
                c["fp"] += 1
                entity_errors.append(
                    f"extra  {key[2]} {example['text'][key[0] : key[1]]!r} in {example['text']!r}"
                )
    total = sum((c for c in counts.values()), Counter())
    # A confident wrong answer is worse than asking again: wrong intents above the fallback.
    confident_wrong = sum(
        g != p and p != "nlu_fallback" for g, p in zip(gold, predicted, strict=True)
    )
    confident = sum(p != "nlu_fallback" for p in predicted)
    return {
        "confident_wrong": confident_wrong / len(gold),
        "wrong_of_confident": confident_wrong / max(confident, 1),
        "fallback": sum(p == "nlu_fallback" for p in predicted) / len(gold),
        "intent_macro_f1": macro,
        "intent_accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold),
        "per_intent": dict(zip(labels, per_intent, strict=True)),
        "confused": confused.most_common(10),
        "entities": {
            k: (*f1(c["tp"], c["fp"], c["fn"]), c["tp"] + c["fn"])
            for k, c in sorted(counts.items())
        },
        "entity_micro": f1(total["tp"], total["fp"], total["fn"]),
        "normalization": (normalized_ok, normalized_total),
        "wrong_values": wrong_values,
        "entity_errors": sorted(entity_errors, key=lambda line: line.split()[1]),
        "errors": [
            f"{e['text']!r}: {g} -> {p}"
            for e, g, p in zip(examples, gold, predicted, strict=True)
            if g != p
        ],
    }


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, (int, float)) or (isinstance(expected, str) and expected.isdigit()):
        try:
            return value is not None and int(value) == int(expected)
        except (TypeError, ValueError):
            return False
    return str(value) == str(expected)


def parse_latency(model: Path, texts: list[str]) -> tuple[float, float]:
    """Median and 95th percentile (ms) of POST /model/parse on a real `rasa run`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "bench-token"  # noqa: S105 (a throw-away server on loopback)
    server = subprocess.Popen(
        [str(RASA), "run", "--enable-api", f"--auth-token={token}", "--model", str(model),
         "--port", str(port), "--interface", "127.0.0.1"],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/model/parse?token={token}"

        def call(text: str) -> float:
            body = json.dumps({"text": text}).encode()
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                response.read()
            return (time.perf_counter() - started) * 1000

        for text in texts[:20]:
            call(text)  # warm-up
        timings = sorted(call(text) for text in texts)
        return statistics.median(timings), timings[int(len(timings) * 0.95)]
    finally:
        server.terminate()
        server.wait(30)


def report(
    results: dict[str, dict[str, Any]],
    sizes: dict[str, int],
    train_s: float | None,
    latency: tuple[float, float],
) -> str:
    names = list(results)
    head = " | ".join(f"{n} ({sizes[n]})" for n in names)

    def row(label: str, cell: Any, target: str = "") -> str:
        return f"| {label} | " + " | ".join(cell(results[n]) for n in names) + f" | {target} |"

    def micro(r: dict[str, Any]) -> str:
        p, rc, f = r["entity_micro"]
        return f"{f:.3f} (P {p:.3f}, R {rc:.3f})"

    def norm(r: dict[str, Any]) -> str:
        ok, total = r["normalization"]
        return f"{ok}/{total} = {ok / max(total, 1):.1%}"

    lines = [
        "## NLU (held-out sets)",
        "",
        f"Measured with `.venv-rasa/bin/python bench/nlu_eval.py` on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores: trained on `nlu/data/`, evaluated on two sets never used for "
        "training: `bench/data/nlu_heldout.yml` (the project's own, written beside the training "
        "data) and `bench/data/nlu_buyers_heldout.yml` (written without access to the training "
        "data from a brief of how buyers talk: greetings around requests, two requests in one, "
        "fragments, typos, voice-transcript style, feature, stock and comparison questions, "
        "competitors).",
        "",
        f"| figure | {head} | target |",
        "| --- | " + " | ".join("---" for _ in names) + " | --- |",
        row("intent macro-F1", lambda r: f"{r['intent_macro_f1']:.3f}", "≥ 0.95 / ≥ 0.93"),
        row("intent accuracy", lambda r: f"{r['intent_accuracy']:.3f}"),
        row("confidently wrong intent (above the fallback threshold), of all",
            lambda r: f"{r['confident_wrong']:.1%}", "as low as possible"),
        row("wrong, of the intents given with confidence", lambda r: f"{r['wrong_of_confident']:.1%}"),
        row("sent to the fallback (asked to rephrase)", lambda r: f"{r['fallback']:.1%}"),
        row("entity micro-F1 (exact span and type)", micro, "≥ 0.92"),
        row("normalized value correct, of correctly extracted entities", norm, "≥ 98%"),
        f"| `/model/parse` latency, median / p95 | {latency[0]:.1f} ms / {latency[1]:.1f} ms |"
        + " |" * (len(names) - 1) + " median ≤ 20 ms |",
    ]  # fmt: skip
    if train_s is not None:
        lines.append(
            f"| training the model (`rasa train`, no cache) | {train_s:.0f} s |"
            + " |" * (len(names) - 1)
            + " ≤ 300 s |"
        )
    for name in names:
        lines += [
            "",
            f"Entities, {name}:",
            "",
            "| entity | precision | recall | F1 | support |",
            "| --- | --- | --- | --- | --- |",
        ]
        for entity, (ep, er, ef, support) in results[name]["entities"].items():
            lines.append(f"| {entity} | {ep:.3f} | {er:.3f} | {ef:.3f} | {support} |")
        lines += ["", f"Most confused intent pairs, {name} (gold → predicted: count):", ""]
        lines += [f"- {g} → {pr}: {c}" for (g, pr), c in results[name]["confused"]] or ["- none"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="evaluate this model instead of training one")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    sets = {"project": load_heldout(HELDOUT), "buyers": load_heldout(BUYERS)}
    work = Path(tempfile.mkdtemp(prefix="nlu-bench-"))
    try:
        train_s = None
        model = args.model
        if model is None:
            model, train_s = train(work)
            print(f"trained in {train_s:.0f} s")
        results = {}
        for name, examples in sets.items():
            parsed = asyncio.run(parse_all(model, [e["text"] for e in examples]))
            results[name] = evaluate(examples, parsed)
            if args.show_errors:
                result = results[name]
                print(f"=== {name}")
                print("\n".join(["intent errors:", *result["errors"], "value errors:",
                                 *result["wrong_values"], "entity errors:",
                                 *result["entity_errors"]]))  # fmt: skip
        everything = [e["text"] for examples in sets.values() for e in examples]
        latency = parse_latency(model, everything)
        section = report(results, {n: len(e) for n, e in sets.items()}, train_s, latency)
        print(section)
        write_section(section)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
