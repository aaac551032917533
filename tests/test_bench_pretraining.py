"""The pretraining benchmark stays runnable: a tiny run writes well-formed results (no timing thresholds)."""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_bench_pretraining_quick(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench_pretraining.py'), '--preset', 'cpu-tiny', '--steps', '2',
                        '--rounds', '3', '--threads', '1', '--no-compile', '--profile', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path/'pretraining.json').read_text())
    assert res['preset'] == 'cpu-tiny' and res['rounds'] == 3 and [run['threads'] for run in res['runs']] == [1]
    run = res['runs'][0]
    assert set(run['tokens_per_s']) == {'reference', 'ours', 'ours-scratch', 'train()'}
    assert all(v['median'] > 0 for v in run['tokens_per_s'].values())
    for k, v in run['ratio_vs_reference'].items():
        assert v['ci95'][0] <= v['median'] <= v['ci95'][1], (k, v)
    assert 0 < run['mfu_vs_cpu_matmul']['ours'] < 2 and run['compile_seconds'] == {}
    assert {row['op'] for row in run['profile']['ours']} and abs(sum(r['share'] for r in run['profile']['ours']) - 1) < 0.5
    assert (tmp_path/'pretraining.md').read_text().startswith('# Pretraining step, preset `cpu-tiny`')
