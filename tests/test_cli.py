"""The installed `llm-from-scratch` console script, run as a user runs it: in a subprocess.
Needs the package installed (`pip install -e .`, which `make test` does) so that the entry point exists."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent/'llm-from-scratch'

def _run(*args, cwd=None):
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}     # one torch thread: the CI machine runs notebooks and tests side by side
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)

def test_help_lists_subcommands():
    r = _run('--help')
    assert r.returncode == 0, r.stderr
    assert all(c in r.stdout for c in ('demo', 'corpus', 'pretrain', 'generate'))

def test_demo_trains_reports_and_samples(tmp_path):
    out = tmp_path/'demo'
    # the main job at test size: a 30-step cpu-tiny model instead of the 2000-step recipe `make demo` runs
    r = _run('demo', '--out', str(out), '--preset', 'cpu-tiny', '--max-steps', '30', '--warmup-steps', '3', '--no-progress',
             '--sample-tokens', '60')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['checkpoint', 'corpus_stats.json', 'loss.png', 'results.json']
    assert (out/'loss.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (out/'loss.png').stat().st_size > 10_000
    # the corpus figures, printed and saved
    stats = json.loads((out/'corpus_stats.json').read_text())
    m = re.search(r'modern: 42 works, ([\d,]+) characters before cleaning, ([\d,]+) after', r.stdout)
    assert m, r.stdout
    before, after = (int(g.replace(',', '')) for g in m.groups())
    assert (before, after) == (stats['modern']['raw_chars'], stats['modern']['clean_chars'])
    assert 4_900_000 < after < before < 5_100_000
    assert re.search(r'folio: 35 works', r.stdout) and re.search(r'splits: train 34 works / [\d,]+ characters, val 4 works', r.stdout)
    # the training result, printed and saved; then a sample that starts with the prompt
    res = json.loads((out/'results.json').read_text())
    assert f"loss {res['val_loss']:.4f} nats/token" in r.stdout and res['val_tokens'] > 400_000 and res['val_loss'] < 4.0
    assert '== sample' in r.stdout and r.stdout.split('== sample')[1].split('\n', 1)[1].startswith('ROMEO.\n')

def test_corpus_writes_split(tmp_path):
    r = _run('corpus', '--split', 'test', '--edition', 'folio', '--out', str(tmp_path/'test.txt'))
    assert r.returncode == 0, r.stderr
    text = (tmp_path/'test.txt').read_text(encoding='utf-8')
    assert 400_000 < len(text) < 520_000
    assert 'When shall we three meet againe' in text and "BARNARDO.\nWho's there?" not in text   # Macbeth is a test play; Hamlet is not
    assert f'wrote {len(text):,} characters' in r.stderr

def test_corpus_to_stdout_and_errors(tmp_path):
    r = _run('corpus', '--name', 'pydoc', '--split', 'val')
    assert r.returncode == 0 and len(r.stdout) > 10_000
    r = _run('corpus', '--split', 'dev', '--out', str(tmp_path/'x.txt'))
    assert r.returncode == 2 and "unknown split 'dev'" in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'x.txt').exists()
    bad = tmp_path/'latin1.txt'; bad.write_bytes('caf\xe9'.encode('latin-1'))
    r = _run('corpus', '--name', str(bad))
    assert r.returncode == 2 and 'not valid UTF-8' in r.stderr
    r = _run('frobnicate')
    assert r.returncode == 2 and 'invalid choice' in r.stderr
