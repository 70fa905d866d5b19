"""Writing a section of docs/benchmarks.md (shared by the benchmark scripts, stdlib only)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(section: str, results: Path = RESULTS) -> None:
    """Replace the section with the same "## " heading as ``section``, or append it."""
    heading = section.splitlines()[0] + "\n"
    text = results.read_text() if results.exists() else "# Benchmarks\n\n"
    if heading in text:
        before, _, rest = text.partition(heading)
        after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.parent.mkdir(exist_ok=True)
    results.write_text(text)
