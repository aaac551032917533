"""The installed `llm-from-scratch` console script, run as a user runs it: in a subprocess.
Needs the package installed (`pip install -e .`, which `make test` does) so that the entry point exists."""
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent/'llm-from-scratch'

def _run(*args, cwd=None):
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600, cwd=cwd)

def test_help_lists_subcommands():
    r = _run('--help')
    assert r.returncode == 0, r.stderr
    assert 'demo' in r.stdout and 'corpus' in r.stdout

def test_demo_prints_figures_and_saves_plots(tmp_path):
    out = tmp_path/'demo'
    r = _run('demo', '--out', str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['char_frequencies.png', 'corpus_stats.json', 'heaps.png', 'work_sizes.png', 'zipf.png']
    for png in out.glob('*.png'): assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000
    # the printed figures are numbers, and they agree with the JSON written next to the plots
    stats = json.loads((out/'corpus_stats.json').read_text())
    m = re.search(r'modern: 42 works, ([\d,]+) characters before cleaning, ([\d,]+) after', r.stdout)
    assert m, r.stdout
    before, after = (int(g.replace(',', '')) for g in m.groups())
    assert (before, after) == (stats['modern']['raw_chars'], stats['modern']['clean_chars'])
    assert 4_900_000 < after < before < 5_100_000
    assert re.search(r'folio: 35 works', r.stdout) and re.search(r'splits: train 34 works / [\d,]+ characters, val 4 works', r.stdout)
    assert re.search(r'Zipf slope -\d\.\d{3}', r.stdout)

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
