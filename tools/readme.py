"""Write README.md from nbs/index.ipynb without Quarto (nbdev_readme needs Quarto; this gives the same text for an
index notebook made of markdown cells and simple code cells). `--check` exits 1 if README.md is stale.

Code cells are shown with their text outputs; a cell marked `#| echo: false` shows only its output (a table rendered
from data, say), and `#| hide` cells nothing. Images under `nbs/` are linked from the repository root."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    cells = json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells']
    parts = []
    for c in cells:
        src = ''.join(c['source']).strip()
        if not src or src.startswith('#| hide'): continue
        if c['cell_type'] == 'markdown':
            parts.append(re.sub(r'\]\((?!https?:|#|/|mailto:)([^)]+)\)', r'](nbs/\1)', src))   # paths relative to nbs/
            continue
        echo = not re.search(r'^#\|\s*echo:\s*false', src, re.M)
        if echo: parts.append(f'```python\n{src}\n```')
        for o in c.get('outputs', []):
            data = o.get('data', {})
            if 'text/markdown' in data: parts.append(''.join(data['text/markdown']).strip()); continue
            text = ''.join(o.get('text', '') or data.get('text/plain', ''))
            if text.strip(): parts.append(f'```\n{text.rstrip()}\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    readme, text = ROOT/'README.md', render()
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/readme.py`')
    else: readme.write_text(text, encoding='utf-8')
