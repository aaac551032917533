"""Run notebooks top to bottom at full size and keep their outputs: the committed outputs the docs site shows.

    python tools/run_nb.py nbs/03_embeddings.ipynb [more.ipynb ...] [--threads 1] [--timeout SECONDS]

Each notebook runs in a fresh kernel with the notebook's folder as working directory (as `nbdev_test` does), but
without `IN_TEST`, so every cell runs at its full size, `slow` cells included. Progress bars are switched off
(`LLM_FROM_SCRATCH_PROGRESS=0`: long loops print log lines instead), so no frozen bar is committed. The notebook is
written back only if every cell succeeded, then cleaned with `nbdev_clean`. Afterwards the outputs are checked for
what must not be committed: errors, warnings, progress bars, widget views. Prints the ten slowest cells.
"""
from __future__ import annotations
import argparse, os, subprocess, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def problems(nb) -> list[str]:
    "What in the outputs must not be committed: errors, warnings on stderr, progress bars, widgets."
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []):
            kind = out.get('output_type')
            if kind == 'error': found.append(f"cell {i}: error {out.get('ename')}")
            elif kind == 'stream' and out.get('name') == 'stderr':
                text = ''.join(out.get('text', ''))
                if text.strip(): found.append(f"cell {i}: stderr output: {text.strip()[:200]!r}")
            data = out.get('data', {})
            if 'application/vnd.jupyter.widget-view+json' in data: found.append(f"cell {i}: a widget view (progress bar?)")
            text = ''.join(out.get('text', '')) + ''.join(data.get('text/plain', ''))
            if '%|' in text and ('it/s' in text or 's/it' in text): found.append(f"cell {i}: a text progress bar")
            if 'Warning' in text: found.append(f"cell {i}: a warning in the output")
    return found


def run(path: Path, threads: int, timeout: int | None) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    env.update(LLM_FROM_SCRATCH_PROGRESS='0', OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               MPLBACKEND='module://matplotlib_inline.backend_inline', PYTHONWARNINGS='default')
    old = dict(os.environ)
    os.environ.clear(); os.environ.update(env)           # the kernel inherits this process's environment
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}})
        times = []
        t0 = time.time()
        def on_start(cell, cell_index, **kw): times.append([cell_index, time.time()])
        def on_done(cell, cell_index, **kw): times[-1][1] = time.time() - times[-1][1]
        client.on_cell_execute, client.on_cell_executed = on_start, on_done
        client.execute()
    finally:
        os.environ.clear(); os.environ.update(old)
    nb.metadata.pop('widgets', None)                  # the state of progress-bar widgets: nothing to commit
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], check=True)
    slow = sorted(times, key=lambda t: -t[1])[:10]
    total = time.time() - t0
    print(f"{path.name}: {total:.0f} s; slowest cells: " + ', '.join(f"[{i}] {s:.0f}s" for i, s in slow))
    record_time(path.name, total, threads)
    return problems(nbformat.read(path, as_version=4))


TIMES = Path(__file__).resolve().parent.parent/'benchmarks'/'results'/'notebook_times.json'

def _cpu() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): import platform; return platform.processor() or platform.machine()

def record_time(name: str, seconds: float, threads: int):
    "Keep the full-size run time of each notebook in benchmarks/results/notebook_times.json (the course home shows them)."
    import json, datetime, torch
    data = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    data[name] = {'seconds': round(seconds), 'threads': threads, 'device': 'cpu', 'cpu': _cpu(), 'torch': torch.__version__,
                  'date': datetime.date.today().isoformat()}
    tmp = TIMES.with_suffix('.tmp')
    tmp.write_text(json.dumps(dict(sorted(data.items())), indent=1) + '\n'); os.replace(tmp, TIMES)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebooks', nargs='+', type=Path)
    ap.add_argument('--threads', type=int, default=1, help='math threads of the kernel (default 1)')
    ap.add_argument('--timeout', type=int, default=None, help='seconds per cell (default: none)')
    a = ap.parse_args()
    bad = False
    for p in a.notebooks:
        for msg in run(p.resolve(), a.threads, a.timeout):
            print(f"  {p.name}: {msg}"); bad = True
    sys.exit(1 if bad else 0)


if __name__ == '__main__': main()
