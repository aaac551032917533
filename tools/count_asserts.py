"""Count the assertions in each notebook's code cells (outside exported cells), statically, with Python's parser.

An assertion is an `assert` statement or a call to one of fastcore's `test_*` checks, `torch.testing.assert_close`,
or `numpy.testing.assert_*`. Usage: `python tools/count_asserts.py [notebook ...]` (default: every notebook in nbs/);
`--json` prints a machine-readable table.
"""
from __future__ import annotations
import ast, json, re, sys
from pathlib import Path

CHECKS = {'test_eq', 'test_ne', 'test_fail', 'test_close', 'test_is', 'test_warns', 'test_stdout', 'test_shuffled',
          'test_eq_type', 'test', 'assert_close', 'assert_allclose', 'assert_array_equal', 'assert_equal',
          'assert_array_almost_equal', 'assert_almost_equal'}
_EXPORT = re.compile(r'^\s*#\|\s*(export|exports|exporti)\b', re.M)
_MAGIC = re.compile(r'^\s*[%!].*$', re.M)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name): return func.id
    if isinstance(func, ast.Attribute): return func.attr
    return None


def count_source(src: str) -> int:
    "Assertions in one cell's source (magics blanked out)."
    try: tree = ast.parse(_MAGIC.sub('', src))
    except SyntaxError: return 0
    n = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert): n += 1
        elif isinstance(node, ast.Call) and _name(node.func) in CHECKS: n += 1
    return n


def count_notebook(path: str | Path) -> dict:
    "Cells, code cells and assertions of one notebook, and the assertions inside its `## Tests` section."
    cells = json.loads(Path(path).read_text(encoding='utf-8'))['cells']
    total = in_tests = 0
    section_tests = False
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            for line in src.splitlines():
                if re.match(r'^#{1,2}\s', line): section_tests = bool(re.match(r'^##\s+Tests\b', line))
            continue
        if c['cell_type'] != 'code' or _EXPORT.search(src): continue
        k = count_source(src)
        total += k
        if section_tests: in_tests += k
    return dict(notebook=Path(path).name, cells=len(cells), code=sum(c['cell_type'] == 'code' for c in cells),
                assertions=total, in_tests_section=in_tests)


def main(argv: list[str]) -> None:
    as_json = '--json' in argv
    paths = [a for a in argv if a != '--json'] or sorted(str(p) for p in Path('nbs').glob('*.ipynb'))
    rows = [count_notebook(p) for p in paths]
    if as_json: print(json.dumps(rows, indent=1)); return
    print(f"{'notebook':32} {'cells':>5} {'code':>5} {'asserts':>8} {'in Tests':>8}")
    for r in rows:
        print(f"{r['notebook']:32} {r['cells']:5d} {r['code']:5d} {r['assertions']:8d} {r['in_tests_section']:8d}")
    print(f"{'total':32} {sum(r['cells'] for r in rows):5d} {sum(r['code'] for r in rows):5d} "
          f"{sum(r['assertions'] for r in rows):8d} {sum(r['in_tests_section'] for r in rows):8d}")


if __name__ == '__main__': main(sys.argv[1:])
