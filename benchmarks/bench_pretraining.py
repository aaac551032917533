#!/usr/bin/env python
"""Benchmark the pretraining step: tokens/s of llm_from_scratch's GPT against a GPT built from PyTorch's fused ops.

At a preset's configuration (default 'shakespeare-char', nanoGPT's CPU recipe: 4 layers, 4 heads, 128 dims, batch 12 x
context 64 = 768 tokens per step), these variants are timed in one process, in interleaved rounds:
  reference     - a GPT written here from PyTorch's own fused modules and functions only: nn.Embedding, nn.Linear (one
                  fused q/k/v projection), nn.LayerNorm, F.scaled_dot_product_attention(is_causal=True), F.gelu(tanh),
                  F.cross_entropy, tied output weights. It has our GPT's parameter names, so it loads our weights, and
                  its logits are checked against ours before anything is timed.
  ours          - `GPT(config)`, the default: the fused kernels switched into our modules (chapters 04-06).
  ours-scratch  - `GPT(config, fast=False)`: the from-scratch modules the chapters teach.
  train()       - `GPT(config)` through `pretraining.train` (schedule, data stream, history): the loop's overhead.
  *-compiled    - `torch.compile` of ours and of the reference (compile time reported separately, not in the rates).
Every step is the same nanoGPT-style step: get_batch, forward, backward, clip_grad_norm_, AdamW (as
`configure_optimizer` sets it up). Ratios against the eager reference come with a bootstrap 95% interval over rounds.
Results: benchmarks/results/pretraining.json and .md (one section per thread count).

    python benchmarks/bench_pretraining.py                          # CPU, 1 and 2 threads
    python benchmarks/bench_pretraining.py --threads 1 --no-compile --profile
"""
from __future__ import annotations
import argparse, platform, time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from llm_from_scratch.core import get_device, set_seed
from llm_from_scratch.transformer import GPT, GPTConfig
from llm_from_scratch.pretraining import (TrainConfig, configure_optimizer, corpus_tokenizer, flops_per_token, get_batch,
                                          get_preset, matmul_params, token_ids, train)
from _results import write_results            # benchmarks/_results.py: the results files


class FusedBlock(nn.Module):
    "A pre-LN GPT block from PyTorch's fused pieces, with the parameter names of our `EncoderLayer`."
    def __init__(self, c: GPTConfig):
        super().__init__()
        d, f = c.n_embd, c.n_inner or 4 * c.n_embd
        self.n_head = c.n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(d, bias=c.bias), nn.LayerNorm(d, bias=c.bias)
        self.attn = nn.ModuleDict(dict(c_attn=nn.Linear(d, 3 * d, bias=c.bias), c_proj=nn.Linear(d, d, bias=c.bias)))
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(d, f, bias=c.bias), c_proj=nn.Linear(f, d, bias=c.bias)))

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, self.n_head, d // self.n_head).transpose(1, 2) for t in (q, k, v))   # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, d)
        x = x + self.attn.c_proj(y)
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate='tanh'))


class FusedGPT(nn.Module):
    "The reference: the GPT-2 layout from PyTorch's fused modules and functions only."
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(c.vocab_size, c.n_embd), wpe=nn.Embedding(c.block_size, c.n_embd),
                                              h=nn.ModuleList([FusedBlock(c) for _ in range(c.n_layer)]),
                                              ln_f=nn.LayerNorm(c.n_embd, bias=c.bias)))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx, targets=None):
        t = self.transformer
        x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in t.h: x = block(x)
        logits = self.lm_head(t.ln_f(x))
        return logits, None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def matmul_flops(n: int = 1024, reps: int = 20) -> float:
    "Measured float32 matmul throughput (FLOP/s) on this CPU at the current thread count."
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    best = float('inf')
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps): a @ b
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n ** 3 / best


def bootstrap_ratio(a: list[float], b: list[float], rng) -> dict:
    per_round = np.array(a) / np.array(b)
    boots = [np.median(rng.choice(per_round, len(per_round))) for _ in range(2000)]
    return {'median': float(np.median(per_round)), 'ci95': [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]}


def profile_step(step, n: int = 10, rows: int = 12) -> list[dict]:
    "The operators taking most of the time in `n` training steps (torch.profiler, CPU self time)."
    from torch.profiler import profile, ProfilerActivity
    for _ in range(3): step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n): step()
    ev = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ev)
    return [{'op': e.key, 'share': e.self_cpu_time_total / total, 'ms_per_step': e.self_cpu_time_total / 1e3 / n} for e in ev[:rows]]


def run(args, threads: int) -> dict:
    torch.set_num_threads(threads)
    device = get_device(args.device)
    p = get_preset(args.preset)
    B, T = p.train['batch_size'], p.train['context_length']
    tok = corpus_tokenizer(p.tokenizer)
    data = token_ids('train', tok)
    cfg = GPTConfig(**p.model, vocab_size=tok.vocab_size, block_size=T)
    set_seed(0)
    ref = FusedGPT(cfg).to(device)
    models = {'reference': ref, 'ours': GPT(cfg).to(device), 'ours-scratch': GPT(cfg, fast=False).to(device)}
    for name in ('ours', 'ours-scratch'): models[name].load_state_dict(ref.state_dict(), strict=True)
    x, y = get_batch(data, B, T, device, torch.Generator().manual_seed(0))
    with torch.no_grad():                                     # the same function before we time it
        want = ref.eval()(x)[0]
        for name in ('ours', 'ours-scratch'): torch.testing.assert_close(models[name].eval()(x)[0], want, rtol=1e-4, atol=1e-4)
    compile_s = {}
    if args.compile:
        for name in ('ours', 'reference'):
            m = GPT(cfg).to(device) if name == 'ours' else FusedGPT(cfg).to(device)
            m.load_state_dict(ref.state_dict(), strict=True)
            models[f'{name}-compiled'] = torch.compile(m)
    for m in models.values(): m.train()
    opts = {k: configure_optimizer(m, 1e-3, 0.1) for k, m in models.items()}
    gens = {k: torch.Generator().manual_seed(1) for k in models}
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

    def one_step(name):
        m, opt = models[name], opts[name]
        xb, yb = get_batch(data, B, T, device, gens[name])
        _, loss = m(xb, yb)
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)

    def plain_steps(name):
        sync(); t = time.perf_counter()
        for _ in range(args.steps): one_step(name)
        sync()
        return args.steps * B * T / (time.perf_counter() - t)

    train_model = GPT(cfg).to(device)
    tcfg = TrainConfig(max_steps=args.steps, warmup_steps=1, batch_size=B, context_length=T, eval_interval=0,
                       progress=False, log=False, plot=False, device=str(device))
    variants = list(models) + ['train()']
    rate = lambda name: train(train_model, data, None, tcfg)['tokens_per_s'] if name == 'train()' else plain_steps(name)
    for name in [n for n in variants if n.endswith('-compiled')]:      # compilation happens in the first steps
        t = time.perf_counter(); one_step(name); one_step(name); compile_s[name] = time.perf_counter() - t
    for name in variants: rate(name)                                     # warm-up round, not recorded
    rates = {k: [] for k in variants}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for name in order: rates[name].append(rate(name))
        print(f'{threads} thread(s), round {r + 1}/{args.rounds}: ' + ', '.join(f'{k} {rates[k][-1]:,.0f}' for k in variants), flush=True)
    rng = np.random.default_rng(0)
    peak = matmul_flops() if device.type == 'cpu' else None
    fpt = flops_per_token(matmul_params(models['ours']), cfg.n_layer, cfg.n_embd, T)
    med = {k: float(np.median(v)) for k, v in rates.items()}
    res = {'threads': threads,
           'tokens_per_s': {k: {'median': med[k], 'q25': float(np.percentile(v, 25)), 'q75': float(np.percentile(v, 75))} for k, v in rates.items()},
           'ratio_vs_reference': {k: bootstrap_ratio(rates[k], rates['reference'], rng) for k in variants if k != 'reference'},
           'train_loop_vs_bare_step': bootstrap_ratio(rates['train()'], rates['ours'], rng),
           'compile_seconds': compile_s, 'cpu_matmul_flops': peak,
           'mfu_vs_cpu_matmul': {k: fpt * med[k] / peak for k in variants} if peak else None}
    if args.profile:
        res['profile'] = {name: profile_step(lambda: one_step(name)) for name in ('ours-scratch', 'ours', 'reference')}
    return res


def report(res: dict) -> str:
    c = res['config']
    lines = [f"# Pretraining step, preset `{res['preset']}`", '',
             f"{c['n_layer']} layers, {c['n_head']} heads, {c['n_embd']} dims, {c['parameters']:,} parameters; batch "
             f"{c['batch_size']} x context {c['context_length']} = {c['batch_size'] * c['context_length']} tokens per step; "
             f"{res['device']}, torch {res['torch']}; median of {res['rounds']} interleaved rounds x {res['steps_per_round']} steps."]
    for r in res['runs']:
        lines += ['', f"## {r['threads']} thread(s)", '', '| variant | tokens/s (median) | 25th-75th pct | vs eager reference (95% CI) | MFU vs CPU matmul |',
                  '|---|---|---|---|---|']
        for k, t in r['tokens_per_s'].items():
            rr = r['ratio_vs_reference'].get(k)
            rs = f"{rr['median']:.2f}x ({rr['ci95'][0]:.2f}-{rr['ci95'][1]:.2f})" if rr else '1 (reference)'
            mfu = f"{r['mfu_vs_cpu_matmul'][k]:.0%}" if r['mfu_vs_cpu_matmul'] else 'n/a'
            lines.append(f"| {k} | {t['median']:,.0f} | {t['q25']:,.0f}-{t['q75']:,.0f} | {rs} | {mfu} |")
        lo = r['train_loop_vs_bare_step']
        lines += ['', f"`train()` vs the bare step of the same model: {lo['median']:.2f}x ({lo['ci95'][0]:.2f}-{lo['ci95'][1]:.2f}).",
                  'Compile time (first two steps): ' + (', '.join(f"{k} {v:.0f} s" for k, v in r['compile_seconds'].items()) or 'not compiled') + '.']
        if r['cpu_matmul_flops']: lines.append(f"Measured 1024x1024 float32 matmul: {r['cpu_matmul_flops'] / 1e9:.1f} GFLOP/s.")
        for name, rows in r.get('profile', {}).items():
            lines += ['', f"Profile of `{name}` (self CPU time per step):", '']
            lines += [f"- {row['op']}: {row['share']:.0%} ({row['ms_per_step']:.2f} ms)" for row in rows[:8]]
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--preset', default='shakespeare-char')
    ap.add_argument('--steps', type=int, default=10, help='timed steps per variant per round')
    ap.add_argument('--rounds', type=int, default=9)
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2], help='torch.set_num_threads values to run (default: 1 2)')
    ap.add_argument('--no-compile', dest='compile', action='store_false', help='skip the torch.compile variants')
    ap.add_argument('--profile', action='store_true', help='also profile one step of each eager variant')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent/'results')
    args = ap.parse_args()
    p = get_preset(args.preset)
    tok = corpus_tokenizer(p.tokenizer)
    cfg = GPTConfig(**p.model, vocab_size=tok.vocab_size, block_size=p.train['context_length'])
    res = {'preset': args.preset, 'device': str(get_device(args.device)), 'torch': torch.__version__,
           'machine': platform.processor() or platform.machine(), 'python': platform.python_version(),
           'config': {'n_layer': cfg.n_layer, 'n_head': cfg.n_head, 'n_embd': cfg.n_embd, 'bias': cfg.bias,
                      'batch_size': p.train['batch_size'], 'context_length': p.train['context_length'],
                      'parameters': GPT(cfg).num_params()},
           'rounds': args.rounds, 'steps_per_round': args.steps,
           'runs': [run(args, t) for t in args.threads]}
    md = report(res)
    print(md)
    write_results(args.out, 'pretraining', res, md)


if __name__ == '__main__':
    main()
