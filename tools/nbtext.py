"""Edit a notebook as one plain-text file, keeping the outputs of the cells you did not change.

    python tools/nbtext.py out nbs/04_attention.ipynb            # writes nbs/04_attention.nbtext
    ... edit, move, add or delete cells in the .nbtext file ...
    python tools/nbtext.py in nbs/04_attention.nbtext             # writes nbs/04_attention.ipynb back

Each cell starts with a separator line `#%%% code <id>` or `#%%% markdown <id>`; the cell's source follows as is.
A new cell gets a separator without an id (`#%%% code`). On the way back, a cell whose id and source are unchanged keeps
its outputs (wherever it moved); a code cell whose source changed loses them (run the notebook again); cells whose
separator was deleted are gone. `out --outputs` also shows each code cell's text outputs as `#>>> ` comment lines,
which `in` ignores.
"""
from __future__ import annotations
import json, sys, uuid
from pathlib import Path

SEP = '#%%% '


def _text_outputs(cell) -> list[str]:
    lines = []
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream': t = ''.join(o['text'])
        elif o['output_type'] == 'error': t = f"{o.get('ename')}: {o.get('evalue')}"
        else:
            d = o.get('data', {})
            t = ('<image> ' if 'image/png' in d else '') + ''.join(d.get('text/markdown', d.get('text/plain', '')))
        lines += ['#>>> ' + l for l in t.rstrip('\n').split('\n')]
    return lines


def to_text(nb_path: Path, outputs: bool = False) -> Path:
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    parts = []
    for c in nb['cells']:
        parts.append(f"{SEP}{c['cell_type']} {c.get('id', '')}".rstrip())
        parts.append(''.join(c['source']))
        if outputs and c['cell_type'] == 'code': parts += _text_outputs(c)
    out = nb_path.with_suffix('.nbtext')
    out.write_text('\n'.join(parts) + '\n', encoding='utf-8')
    return out


def _split_source(src: str) -> list[str]:
    lines = src.split('\n')
    return [l + '\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def from_text(txt_path: Path) -> Path:
    nb_path = txt_path.with_suffix('.ipynb')
    old = json.loads(nb_path.read_text(encoding='utf-8')) if nb_path.exists() else {
        'cells': [], 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
        'nbformat': 4, 'nbformat_minor': 5}
    by_id = {c.get('id'): c for c in old['cells']}
    cells, cur = [], None
    for line in txt_path.read_text(encoding='utf-8').split('\n'):
        if line.startswith(SEP):
            if cur: cells.append(cur)
            kind, _, cid = line[len(SEP):].strip().partition(' ')
            if kind not in ('code', 'markdown', 'raw'): raise ValueError(f"bad separator line {line!r}")
            cur = [kind, cid.strip(), []]
        elif cur is None:
            if line.strip(): raise ValueError(f"text before the first cell separator: {line!r}")
        elif not line.startswith('#>>> '): cur[2].append(line)
    if cur: cells.append(cur)
    out, seen = [], set()
    for kind, cid, lines in cells:
        while lines and lines[-1] == '': lines.pop()
        src = '\n'.join(lines)
        if not cid or cid in seen: cid = uuid.uuid4().hex[:8]
        seen.add(cid)
        prev = by_id.get(cid)
        cell = {'cell_type': kind, 'id': cid, 'metadata': {}, 'source': _split_source(src)}
        if kind == 'code':
            keep = prev is not None and prev['cell_type'] == 'code' and ''.join(prev['source']) == src
            cell.update(execution_count=None, outputs=prev.get('outputs', []) if keep else [])
            cell = {k: cell[k] for k in ('cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source')}
        out.append(cell)
    old['cells'] = out
    nb_path.write_text(json.dumps(old, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return nb_path


if __name__ == '__main__':
    if len(sys.argv) < 3 or sys.argv[1] not in ('in', 'out'): sys.exit(__doc__)
    if sys.argv[1] == 'out': print(to_text(Path(sys.argv[2]), outputs='--outputs' in sys.argv))
    else: print(from_text(Path(sys.argv[2])))
