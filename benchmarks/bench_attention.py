#!/usr/bin/env python
"""Benchmark llm_from_scratch.attention.MultiHeadAttention.

Three variants of the same causal self-attention layer (same weights), timed in one run:
  direct  - the layer written out by hand around a direct call of F.scaled_dot_product_attention (the reference)
  fast    - MultiHeadAttention(fast=True): our wrapper around the same kernel
  scratch - MultiHeadAttention(fast=False): the from-scratch softmax(q k^T / sqrt(d)) v path
for the forward pass (no grad) and forward+backward, at several sequence lengths. In every round the three variants run
once each, in rotating order, so a busy machine slows them alike; times are medians over the rounds, and each ratio
comes with a bootstrap 95% interval and the spread (25th-75th percentile) of the per-round ratios as the noise measure.
Scenarios: 'causal' (is_causal=True, no explicit mask) and 'padding' (a boolean key-padding mask and is_causal).
Results: benchmarks/results/attention.json and .md (attention_<device>.* for a non-CPU device).

    python benchmarks/bench_attention.py                  # CPU, T = 128 512 1024
    python benchmarks/bench_attention.py --device cuda    # on a GPU
"""
from __future__ import annotations
import argparse, platform, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from llm_from_scratch.core import get_device, set_seed
from llm_from_scratch.attention import MultiHeadAttention, causal_mask, padding_mask
from _results import write_results            # benchmarks/_results.py: the results files

VARIANTS = ('direct', 'fast', 'scratch')


def direct_forward(m: MultiHeadAttention, x, mask=None):
    "The same layer as `m`, written out by hand with a direct call of F.scaled_dot_product_attention."
    B, T, d = x.shape
    q, k, v = m.c_attn(x).split(d, dim=2)
    q, k, v = (t.view(B, T, m.n_heads, m.head_dim).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
    if mask is None: y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else: y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(T, device=x.device) & mask)
    return m.c_proj(y.transpose(1, 2).reshape(B, T, d))


def saved_bytes(f) -> int:
    "Bytes of the distinct storages autograd saves for backward while running `f()`."
    seen = {}
    def pack(t):
        s = t.untyped_storage(); seen[s.data_ptr()] = s.nbytes(); return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t): f()
    return sum(seen.values())


def make_calls(T, args, device, dtype):
    "Three closures per mode (forward / forward+backward), one per variant, on the same weights and input."
    set_seed(0)
    fast = MultiHeadAttention(args.d_model, args.heads, fast=True).to(device, dtype)
    slow = MultiHeadAttention(args.d_model, args.heads, fast=False).to(device, dtype)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(args.batch, T, args.d_model, device=device, dtype=dtype)
    xg = x.clone().requires_grad_()
    mask = None
    if args.scenario_now == 'padding':  # sequences of lengths T, 3T/4, T/2, ... (right padding)
        lengths = [max(1, T - i * T // 4) for i in range(args.batch)]
        mask = padding_mask(lengths, max_len=T, device=device)
    kw = dict(is_causal=True) if mask is None else dict(mask=mask, is_causal=True)
    fns = {'direct': lambda inp: direct_forward(fast, inp, mask), 'fast': lambda inp: fast(inp, **kw),
           'scratch': lambda inp: slow(inp, **kw)}
    def fwd(fn):
        def call():
            with torch.no_grad(): fn(x)
        return call
    def fwd_bwd(fn):
        def call():
            fn(xg).sum().backward()
        return call
    # correctness guard: the three variants must agree before we time them
    ref = fns['direct'](x)
    for name in ('fast', 'scratch'):
        tol = 1e-4 if dtype == torch.float32 else 3e-2
        torch.testing.assert_close(fns[name](x), ref, rtol=tol, atol=tol)
    mem = {name: saved_bytes(lambda: fns[name](xg)) for name in VARIANTS}
    def reset():  # fresh gradients before every timed call, outside the timing
        for m in (fast, slow): m.zero_grad(set_to_none=True)
        xg.grad = None
    return {'forward': {n: fwd(f) for n, f in fns.items()}, 'fwd+bwd': {n: fwd_bwd(f) for n, f in fns.items()}}, mem, reset


def time_block(calls, device, budget, min_rounds, max_rounds, reset):
    "Interleaved rounds of all variants (`reset()` before each call, untimed); returns {variant: array of seconds}."
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    for f in calls.values():  # warm-up
        for _ in range(2): reset(); f()
    sync()
    times = {n: [] for n in calls}
    names = list(calls)
    start, r = time.perf_counter(), 0
    while r < min_rounds or (time.perf_counter() - start < budget and r < max_rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for n in order:
            reset(); sync(); t0 = time.perf_counter()
            calls[n](); sync()
            times[n].append(time.perf_counter() - t0)
        r += 1
    return {n: np.array(v) for n, v in times.items()}


def ratio_stats(a, b, rng, n_boot=2000):
    "median(a)/median(b), its bootstrap 95% interval (rounds resampled in pairs), and the IQR of per-round ratios."
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    boot = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    per_round = a / b
    return (float(np.median(a) / np.median(b)), [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            [float(np.percentile(per_round, 25)), float(np.percentile(per_round, 75))])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cpu', help="cpu, cuda, mps, or 'auto' (the best present)")
    p.add_argument('--lengths', type=int, nargs='+', default=[128, 512, 1024])
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--d-model', type=int, default=256)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--scenarios', nargs='+', default=['causal', 'padding'], choices=['causal', 'padding'])
    p.add_argument('--threads', type=int, default=1, help='CPU threads (0 = PyTorch default); 1 keeps a shared machine quieter')
    p.add_argument('--budget', type=float, default=6.0, help='seconds of timing per (scenario, length, pass)')
    p.add_argument('--min-rounds', type=int, default=21)
    p.add_argument('--max-rounds', type=int, default=2000)
    p.add_argument('--out', type=Path, default=None, help='results .json (a .md is written next to it)')
    p.add_argument('--quick', action='store_true', help='tiny sizes and budget (a smoke test)')
    args = p.parse_args(argv)
    if args.quick: args.lengths, args.budget, args.min_rounds, args.d_model = [16, 32], 0.05, 3, 32
    device = get_device(None if args.device == 'auto' else args.device)
    dtype = getattr(torch, args.dtype)
    if device.type == 'cpu' and args.threads > 0: torch.set_num_threads(args.threads)
    out = args.out or Path(__file__).resolve().parent / 'results' / ('attention.json' if device.type == 'cpu' else f'attention_{device.type}.json')
    rng = np.random.default_rng(0)
    gpu = torch.cuda.get_device_name(device) if device.type == 'cuda' else None
    print(f'device {device}{f" ({gpu})" if gpu else ""}, torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'{args.dtype}, B={args.batch} d={args.d_model} heads={args.heads}')
    rows = []
    for scenario in args.scenarios:
        args.scenario_now = scenario
        for T in args.lengths:
            calls, mem, reset = make_calls(T, args, device, dtype)
            for mode in ('forward', 'fwd+bwd'):
                t = time_block(calls[mode], device, args.budget, args.min_rounds, args.max_rounds, reset)
                fd, fd_ci, fd_iqr = ratio_stats(t['fast'], t['direct'], rng)
                sf, sf_ci, sf_iqr = ratio_stats(t['scratch'], t['fast'], rng)
                row = dict(scenario=scenario, T=T, mode=mode, rounds=len(t['fast']),
                           direct_ms=1e3 * float(np.median(t['direct'])), fast_ms=1e3 * float(np.median(t['fast'])),
                           scratch_ms=1e3 * float(np.median(t['scratch'])),
                           fast_over_direct=fd, fast_over_direct_ci95=fd_ci, fast_over_direct_iqr=fd_iqr,
                           scratch_over_fast=sf, scratch_over_fast_ci95=sf_ci, scratch_over_fast_iqr=sf_iqr,
                           saved_mib={n: mem[n] / 2**20 for n in VARIANTS})
                rows.append(row)
                print(f"{scenario:8s} T={T:5d} {mode:8s} rounds={row['rounds']:4d}  direct {row['direct_ms']:8.2f} ms  "
                      f"fast {row['fast_ms']:8.2f} ms  scratch {row['scratch_ms']:8.2f} ms  |  fast/direct {fd:.3f} "
                      f"[{fd_ci[0]:.3f}, {fd_ci[1]:.3f}]  scratch/fast {sf:.2f} [{sf_ci[0]:.2f}, {sf_ci[1]:.2f}]", flush=True)
    worst = max(r['fast_over_direct'] for r in rows)
    note = (f"{device.type}{f' ({gpu})' if gpu else ''}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.dtype}, "
            f"B={args.batch} d={args.d_model} heads={args.heads}; medians of interleaved rounds. Wrapper overhead "
            f"(fast/direct): {min(r['fast_over_direct'] for r in rows):.3f}-{worst:.3f}x (target <= 1.1x: "
            f"{'met' if worst <= 1.1 else 'NOT met'}); from scratch / fast: "
            f"{min(r['scratch_over_fast'] for r in rows):.2f}-{max(r['scratch_over_fast'] for r in rows):.2f}x.")
    print(note)
    result = dict(benchmark='attention', device=device.type, gpu=gpu, torch=torch.__version__, python=platform.python_version(),
                  machine=platform.machine(), threads=torch.get_num_threads(), dtype=args.dtype,
                  config=dict(batch=args.batch, d_model=args.d_model, heads=args.heads, lengths=args.lengths,
                              budget_s=args.budget, min_rounds=args.min_rounds),
                  summary_note=note, rows=rows)
    md = [f'# Attention benchmark\n\n{note}\n',
          '| scenario | T | pass | rounds | direct sdpa (ms) | ours fast (ms) | from scratch (ms) | fast/direct [95% CI] | scratch/fast [95% CI] | saved for backward, MiB (direct / fast / scratch) |',
          '|---|---:|---|---:|---:|---:|---:|---|---|---|']
    for r in rows:
        md.append(f"| {r['scenario']} | {r['T']} | {r['mode']} | {r['rounds']} | {r['direct_ms']:.2f} | {r['fast_ms']:.2f} | "
                  f"{r['scratch_ms']:.2f} | {r['fast_over_direct']:.3f} [{r['fast_over_direct_ci95'][0]:.3f}, {r['fast_over_direct_ci95'][1]:.3f}] | "
                  f"{r['scratch_over_fast']:.2f} [{r['scratch_over_fast_ci95'][0]:.2f}, {r['scratch_over_fast_ci95'][1]:.2f}] | "
                  f"{r['saved_mib']['direct']:.1f} / {r['saved_mib']['fast']:.1f} / {r['saved_mib']['scratch']:.1f} |")
    write_results(out.parent, out.stem, result, '\n'.join(md) + '\n')
    return result


if __name__ == '__main__':
    main()
