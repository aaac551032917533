"""What every benchmark script shares: writing its results (JSON and a Markdown table) without leaving half a file."""
from __future__ import annotations
import json
from pathlib import Path

from llm_from_scratch.core import atomic_path


def write_results(out: Path, name: str, result: dict, markdown: str) -> None:
    "Write `out/name.json` and `out/name.md` atomically (an interrupted run keeps the previous results) and say so."
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in ((out/f'{name}.json', json.dumps(result, indent=1) + '\n'), (out/f'{name}.md', markdown)):
        with atomic_path(path) as tmp: tmp.write_text(text)
    print(f'wrote {out/name}.json and {name}.md')
