"""The chapters read as chapters (../shared/DESIGN.md, "the reading line"), and what they show is what ran.

Checked on the committed notebooks, without running them: chapter size, a final `## Tests` section, exercises with
solutions, clean committed outputs (no errors, warnings or frozen progress bars), no reference to a chapter that does
not exist, and every result figure quoted in the prose found in that notebook's own outputs. Plus two properties of
the package a programmer relies on: importing a module does not import matplotlib, and every public `forward` and
`encode` has a docstring.
"""
from __future__ import annotations
import importlib, json, math, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
CHAPTERS = sorted(p for p in NBS.glob('[0-8][0-9]_*.ipynb'))        # 90+ are tools, not chapters
NOTEBOOKS = sorted(NBS.glob('*.ipynb'))
MAX_CELLS = 70


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding='utf-8'))['cells']


def _src(cell) -> str: return ''.join(cell['source'])


def _sections(cells) -> list[tuple[str, list[dict]]]:
    "(H2 heading, the cells under it) in order; the cells before the first H2 come under ''."
    out = [('', [])]
    for c in cells:
        if c['cell_type'] == 'markdown':
            h2 = [l[3:].strip() for l in _src(c).splitlines() if l.startswith('## ')]
            if h2: out.append((h2[-1], [c])); continue
        out[-1][1].append(c)
    return out


@pytest.mark.parametrize('nb', CHAPTERS, ids=lambda p: p.stem)
def test_chapter_size(nb):
    n = len(_cells(nb))
    assert n <= MAX_CELLS, f'{nb.name} has {n} cells; a chapter holds one topic in at most {MAX_CELLS} cells'


@pytest.mark.parametrize('nb', CHAPTERS, ids=lambda p: p.stem)
def test_tests_section_comes_last(nb):
    secs = _sections(_cells(nb))
    names = [s for s, _ in secs]
    assert 'Tests' in names, f"{nb.name}: no '## Tests' section for the edge cases and bad-input tests"
    assert names[-1] == 'Tests', f"{nb.name}: '## Tests' must be the last section, found {names[-1]!r} after it"
    head = _src(secs[-1][1][0]).split('## Tests', 1)[1].strip()
    first = head or next((_src(c) for c in secs[-1][1][1:] if c['cell_type'] == 'markdown'), '')
    assert first and not first.startswith('#'), f"{nb.name}: the Tests section starts with one sentence saying what it holds"
    assert any(c['cell_type'] == 'code' for c in secs[-1][1]), f"{nb.name}: the Tests section holds no code"


def _exercises(cells) -> str:
    "The markdown of the Exercises section (an H2 'Exercises', or a bold 'Exercises.' paragraph)."
    text, inside = [], False
    for c in cells:
        if c['cell_type'] != 'markdown': continue
        for line in _src(c).splitlines():
            if re.match(r'^#{2,3}\s+Exercises\b', line): inside = True; continue
            if inside and re.match(r'^##\s', line): inside = False
            if inside: text.append(line)
    return '\n'.join(text)


@pytest.mark.parametrize('nb', CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(nb):
    text = _exercises(_cells(nb))
    assert text.strip(), f'{nb.name}: no Exercises section'
    items = re.split(r'(?m)^(?=\d+\.\s)', text)
    items = [i for i in items if re.match(r'\d+\.\s', i)]
    assert items, f'{nb.name}: the Exercises section has no numbered exercises'
    for item in items:
        n = item.split('.')[0]
        assert '<details>' in item and '</details>' in item, f'{nb.name}: exercise {n} has no solution in a <details> block'


def _outputs(cell) -> list[dict]: return cell.get('outputs', []) if cell['cell_type'] == 'code' else []


def _output_text(out) -> str:
    if out.get('output_type') == 'stream': return ''.join(out.get('text', ''))
    d = out.get('data', {})
    text = ''.join(d.get('text/markdown', '')) or ''.join(d.get('text/plain', ''))
    if 'text/html' in d: text += ' ' + re.sub(r'<[^>]+>', ' ', ''.join(d['text/html']))
    return text


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(nb):
    bad = []
    for i, c in enumerate(_cells(nb)):
        for out in _outputs(c):
            kind, text = out.get('output_type'), _output_text(out)
            if kind == 'error': bad.append(f'cell {i}: an error ({out.get("ename")})')
            if kind == 'stream' and out.get('name') == 'stderr' and text.strip(): bad.append(f'cell {i}: stderr {text.strip()[:80]!r}')
            if 'application/vnd.jupyter.widget-view+json' in out.get('data', {}): bad.append(f'cell {i}: a widget (progress bar)')
            if re.search(r'\d+%\|', text): bad.append(f'cell {i}: a progress bar {text.strip()[:60]!r}')
            if re.search(r'\b\w*Warning\b', text): bad.append(f'cell {i}: a warning {text.strip()[:80]!r}')
    if 'widgets' in json.loads(nb.read_text(encoding='utf-8')).get('metadata', {}): bad.append('widget state in the metadata')
    assert not bad, f'{nb.name}: ' + '; '.join(bad)


def _numbers() -> set[int]:
    return {int(p.name[:2]) for p in NBS.glob('[0-9][0-9]_*.ipynb')}


_CHAPTER_REF = re.compile(r'\b[Cc]hapters?\s+((?:\d{1,2}\s*(?:–|-|,|and|or|to)\s*)*\d{1,2})\b')


@pytest.mark.parametrize('nb', CHAPTERS, ids=lambda p: p.stem)
def test_no_reference_to_a_missing_chapter(nb):
    have, bad = _numbers(), []
    for i, c in enumerate(_cells(nb)):
        text = _src(c) if c['cell_type'] == 'markdown' else '\n'.join(re.findall(r'#.*|"[^"\n]*"|\'[^\'\n]*\'', _src(c)))
        for m in _CHAPTER_REF.finditer(text):
            bad += [f'cell {i}: "{m.group(0)}"' for n in re.findall(r'\d{1,2}', m.group(1)) if int(n) not in have]
    assert not bad, f'{nb.name} refers to chapters that do not exist: ' + '; '.join(bad)


# ---- result figures quoted in prose must be found in the notebook's outputs ----
_FIGURE = re.compile(r'(?<![\w.\-/=])([−-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[−-]?\d*\.\d+(?:e[−-]?\d+)?|\d+(?:e[−-]?\d+))'
                     r'(\s?%|\s?[MkB]\b|\s?×)?(?![\w.]*\d)')
_ANY_NUMBER = re.compile(r'[−-]?\d[\d,_]*(?:\.\d+)?(?:e[−+-]?\d+)?|[−-]?\.\d+')
_CITED = re.compile(r'et al\b|\(\d{4}\)|\b(?:19|20)\d{2}\b|\]\(https?:|published|reported|\bpaper\b|\bversion\b|'
                    r'==|\bv\d|PyPI|according to|Python\s*(?:≥|>=)?\s*3\.\d+', re.I)


def _prose(md: str) -> str:
    "Markdown without code, math, links' targets and HTML tags: where quoted figures can be."
    md = re.sub(r'```.*?```', ' ', md, flags=re.S)
    md = re.sub(r'\$\$.*?\$\$', ' ', md, flags=re.S)
    md = re.sub(r'\$[^$]+?\$', ' ', md)
    md = re.sub(r'`[^`\n]*`', ' ', md)
    md = re.sub(r'\]\([^)]*\)', ']', md)
    return re.sub(r'<[^>]+>', ' ', md)


def _value(s: str) -> float: return float(s.replace(',', '').replace('_', '').replace('−', '-'))


def _precision(s: str) -> float:
    "One unit of the last digit shown: '1.88' -> 0.01, '22' -> 1, '5.1e-3' -> 1e-4."
    mant, _, exp = s.replace(',', '').replace('−', '-').lstrip('-').partition('e')
    dec = len(mant.split('.')[1]) if '.' in mant else 0
    return 10.0 ** (-dec + (int(exp) if exp else 0))


def _known_numbers(cells) -> list[float]:
    "Every number printed in an output, or typed in a code cell (a setting, not a result)."
    found = []
    for c in cells:
        texts = [_output_text(o) for o in _outputs(c)] + ([_src(c)] if c['cell_type'] == 'code' else [])
        for t in texts:
            for m in _ANY_NUMBER.findall(t):
                try: found.append(abs(_value(m)))
                except ValueError: pass
    return found


def unmatched_figures(nb: Path) -> list[str]:
    "Result figures quoted in the markdown of `nb` that none of its outputs (or code) shows; the course home may quote any chapter's."
    cells = _cells(nb)
    sources = NOTEBOOKS if nb.stem == 'index' else [nb]
    known = sorted({x for src in sources for x in _known_numbers(_cells(src))})
    import bisect
    def shown(v, p, scales=(1, 100, 1e-3, 1e-6, 1e-9)):
        for s in scales:
            lo, hi = (v - p) / s, (v + p) / s
            j = bisect.bisect_left(known, min(lo, hi))
            if j < len(known) and known[j] <= max(lo, hi): return True
        return False
    bad = []
    for i, c in enumerate(cells):
        if c['cell_type'] != 'markdown': continue
        text = _prose(_src(c))
        for sentence in re.split(r'(?<=[.!?;:])\s+|\n\s*\n|\n(?=\s*(?:[*|>-]|\d+\.\s))', text):
            if _CITED.search(sentence): continue
            for m in _FIGURE.finditer(sentence):
                num = m.group(1)
                v, p = abs(_value(num)), _precision(num)
                if v == 0 or (v == int(v) and ',' not in num and 'e' not in num and '.' not in num): continue
                if not shown(v, p): bad.append(f'cell {i}: {m.group(0).strip()!r} in "{sentence.strip()[:90]}"')
    return bad


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_quoted_figures_come_from_outputs(nb):
    bad = unmatched_figures(nb)
    assert not bad, (f'{nb.name}: figures in the prose that no output of the notebook shows (print them, render the '
                     f'sentence from variables, or cite their source):\n  ' + '\n  '.join(bad))


# ---- the package ----
MODULES = sorted(p.stem for p in (ROOT/'llm_from_scratch').glob('[a-z]*.py'))


def test_importing_the_package_does_not_import_matplotlib():
    code = ('import sys\n' + ''.join(f'import llm_from_scratch.{m}\n' for m in MODULES) +
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
            "assert not bad, bad[:5]\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f'importing llm_from_scratch modules imports matplotlib (import it inside the plotting functions):\n{r.stderr[-2000:]}'


def test_public_forward_and_encode_have_docstrings():
    import inspect
    missing = []
    for m in MODULES:
        mod = importlib.import_module(f'llm_from_scratch.{m}')
        for name, obj in vars(mod).items():
            if name.startswith('_') or not inspect.isclass(obj) or obj.__module__ != mod.__name__: continue
            for meth in ('forward', 'encode', 'decode'):
                f = obj.__dict__.get(meth)
                if f is not None and not (inspect.getdoc(f) or '').strip(): missing.append(f'{m}.{name}.{meth}')
    assert not missing, f'public methods without a docstring: {missing}'


TEACHING = {'pretraining': ['get_batch', 'evaluate', 'mask_tokens', 'configure_optimizer', 'sample', 'save_checkpoint',
                            'load_checkpoint', 'train'],
            'cleaning': ['load_clean_works'], 'embeddings': ['skipgram_pairs'],
            'transformer': ['TransformerConfig', 'Transformer', 'GPT', 'EncoderLM', 'greedy_decode', 'beam_decode'],
            'tasks': ['align_lines', 'folio_modern_pairs', 'modernize_by_rules'],
            'generation': ['generate', 'top_p_filter', 'StaticKVCache', 'speculative_generate', 'beam_search']}


def test_teaching_code_is_shown_on_the_docs_pages():
    "Functions a learner must read are exported with `#| exports`, which keeps their source on the page."
    shown = {}
    for nb in NOTEBOOKS:
        cells = _cells(nb)
        mod = next((re.search(r'#\|\s*default_exp\s+(\S+)', _src(c)).group(1) for c in cells
                    if re.search(r'#\|\s*default_exp', _src(c))), None)
        for c in cells:
            if c['cell_type'] == 'code' and re.search(r'^#\|\s*exports\b', _src(c), re.M):
                shown.setdefault(mod, set()).update(re.findall(r'^(?:def|class)\s+(\w+)', _src(c), re.M))
    hidden = [f'{m}.{n}' for m, names in TEACHING.items() for n in names if n not in shown.get(m, set())]
    assert not hidden, f'teaching code exported with #| export (source hidden on the docs page): {hidden}'


def test_chapter_tables_match_the_notebooks():
    "README and the course home list every chapter notebook; a row for a notebook that does not exist says 'planned'."
    have = {p.stem for p in NBS.glob('[0-9][0-9]_*.ipynb')}
    for doc in (ROOT/'README.md', NBS/'index.ipynb'):
        text = doc.read_text(encoding='utf-8') if doc.suffix == '.md' else '\n'.join(_src(c) for c in _cells(doc))
        rows = [l for l in text.splitlines() if re.match(r'^\|\s*\d{2}\s*\|', l)]
        listed = {}
        for row in rows:
            m = re.search(r'`(\d{2}_\w+)`', row)
            if m: listed[m.group(1)] = row
        missing = sorted(n for n in have if n[:2] != '90' and n not in listed)
        assert not missing, f'{doc.name}: chapters missing from the table: {missing}'
        ghosts = sorted(n for n, row in listed.items() if n not in have and 'planned' not in row.lower())
        assert not ghosts, f'{doc.name}: rows for notebooks that do not exist and are not marked planned: {ghosts}'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_no_links_to_private_names(nb):
    "nbdev turns a backticked name into a link to its docs entry; a private `_name` has none, so the link would be dead."
    from llm_from_scratch._modidx import d
    private = {name for mod, syms in d['syms'].items() for k in syms
               for name in [k[len(mod) + 1:]] if name.startswith('_') and '.' not in name}   # module-level names: linked
    bad = [f'cell {i}: `{n}`' for i, c in enumerate(_cells(nb)) if c['cell_type'] == 'markdown'
           for n in re.findall(r'`(_[A-Za-z]\w*)`', _src(c)) if n in private]
    assert not bad, f'{nb.name}: backticked private names (write <code>name</code> or describe them): {bad}'
