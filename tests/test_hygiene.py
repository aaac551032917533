"""The notebooks are the source: exporting them must reproduce the package byte for byte, cleaning them must
change nothing, and README.md must be the rendering of nbs/index.ipynb. Each check runs on a copy of the tree,
so the working tree is never modified."""
import filecmp, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def _copy_tree(tmp_path):
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT/name, tmp_path/name)
    for name in ('nbs', 'llm_from_scratch'):
        shutil.copytree(ROOT/name, tmp_path/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc'))
    return tmp_path

def _diff(a: Path, b: Path, pattern: str):
    "Relative paths that differ, or exist on one side only, between trees `a` and `b`."
    fa = {p.relative_to(a) for p in a.rglob(pattern)}
    fb = {p.relative_to(b) for p in b.rglob(pattern)}
    return sorted(str(p) for p in fa ^ fb) + sorted(str(p) for p in fa & fb if not filecmp.cmp(a/p, b/p, shallow=False))

def _run(cmd, cwd):
    r = subprocess.run([str(BIN/cmd)], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f'{cmd} failed:\n{r.stdout}\n{r.stderr}'

def test_export_leaves_package_unchanged(tmp_path):
    _run('nbdev_export', _copy_tree(tmp_path))
    changed = _diff(ROOT/'llm_from_scratch', tmp_path/'llm_from_scratch', '*.py')
    assert not changed, f'nbdev_export changes the package (edit the notebooks, then run nbdev_export): {changed}'

def test_clean_leaves_notebooks_unchanged(tmp_path):
    _run('nbdev_clean', _copy_tree(tmp_path))
    changed = _diff(ROOT/'nbs', tmp_path/'nbs', '*.ipynb')
    assert not changed, f'nbdev_clean changes these notebooks (run nbdev_clean and commit): {changed}'

def test_readme_matches_index():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_every_notebook_has_title_and_summary():
    import json
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')) + [ROOT/'nbs'/'index.ipynb']:
        cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
        first = ''.join(cells[0]['source']).strip().splitlines()
        assert cells[0]['cell_type'] == 'markdown' and first[0].startswith('# '), f'{nb.name}: no H1 title'
        assert any(l.startswith('> ') for l in first), f'{nb.name}: no `> summary` line'

def test_docs_processing_runs(tmp_path):
    "The docs build's notebook pass (what `nbdev_proc_nbs` runs before Quarto): it executes every exported cell, every cell with an import and every show_doc, so such a cell must not depend on unexported code."
    tree = _copy_tree(tmp_path)
    code = 'from nbdev.serve import proc_nbs; proc_nbs(force=True, n_workers=0)'
    r = subprocess.run([sys.executable, '-c', code], cwd=tree, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f'processing the notebooks for the docs failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}'
    assert sorted(p.name for p in (tree/'_proc').glob('*.ipynb')) == sorted(p.name for p in (ROOT/'nbs').glob('*.ipynb'))
