"""The attention benchmark stays runnable: a tiny --quick run writes well-formed results (no timing thresholds)."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_bench_attention_quick(tmp_path):
    out = tmp_path/'attention.json'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench_attention.py'), '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert {(row['scenario'], row['T'], row['mode']) for row in res['rows']} == \
        {(s, t, m) for s in ('causal', 'padding') for t in (16, 32) for m in ('forward', 'fwd+bwd')}
    for row in res['rows']:
        assert row['fast_over_direct'] > 0 and row['scratch_over_fast'] > 0 and row['rounds'] >= 3
        assert row['saved_mib']['scratch'] >= row['saved_mib']['fast']
    assert out.with_suffix('.md').read_text().startswith('# Attention benchmark')
