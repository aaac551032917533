#!/usr/bin/env python
"""Benchmark the pretraining step: tokens/s of one optimiser step of llm_from_scratch's GPT.

At a preset's configuration (default: 'shakespeare-char', nanoGPT's CPU recipe: 4 layers, 4 heads, 128 dims,
batch 12 x context 64 = 768 tokens per step), four variants are timed in the same run:
  reference  - the same GPT shape built from PyTorch's own layers: nn.TransformerEncoderLayer blocks (pre-LN, tanh GELU,
               a causal mask, no biases), nn.Embedding for tokens and positions, nn.LayerNorm, a tied output layer.
               Its weights are copied from ours and its logits checked against ours before timing: the same function.
  ours       - our GPT (chapters 03-06: hand-written LayerNorm, the from-scratch attention path), in a plain
               nanoGPT-style step: get_batch, forward, backward, clip_grad_norm_, AdamW step.
  ours-fast  - the same with MultiHeadAttention.fast = True (F.scaled_dot_product_attention inside our module).
  train()    - our GPT through llm_from_scratch.pretraining.train (schedule, data stream, history, loss.item() per step),
               its tokens/s as train() reports it (training steps only).
Every round runs each variant for --steps steps, in rotating order, so a busy machine slows them alike; figures are
medians over rounds, ratios come with a bootstrap 95% interval. MFU on the CPU is given against the matmul
throughput measured in the same run (a 1024x1024 float32 matmul at the same thread count), since a CPU has no
data-sheet peak to quote. Results: benchmarks/results/pretraining.json and .md.

    python benchmarks/bench_pretraining.py                     # CPU, one thread
    python benchmarks/bench_pretraining.py --threads 4 --rounds 5
"""
from __future__ import annotations
import argparse, json, platform, time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from llm_from_scratch.core import atomic_path, get_device, set_seed
from llm_from_scratch.transformer import GPT, GPTConfig, from_torch_transformer, use_fast_attention
from llm_from_scratch.pretraining import (TrainConfig, configure_optimizer, corpus_tokenizer, estimate_mfu, flops_per_token,
                                          get_batch, get_preset, matmul_params, token_ids, train)

VARIANTS = ('reference', 'ours', 'ours-fast', 'train()')


class TorchGPT(nn.Module):
    "The GPT shape from PyTorch's modules: embeddings, nn.TransformerEncoder (pre-LN, causal), final LayerNorm, tied head."
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c.vocab_size, c.n_embd), nn.Embedding(c.block_size, c.n_embd)
        layer = nn.TransformerEncoderLayer(c.n_embd, c.n_head, 4 * c.n_embd, dropout=0.0, activation=nn.GELU(approximate='tanh'),
                                           batch_first=True, norm_first=True, bias=c.bias)
        self.blocks = nn.TransformerEncoder(layer, c.n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.register_buffer('mask', nn.Transformer.generate_square_subsequent_mask(c.block_size), persistent=False)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        x = self.blocks(x, mask=self.mask[:T, :T], is_causal=True)
        logits = self.lm_head(self.ln_f(x))
        return logits, None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def copy_into_ours(ref: TorchGPT, ours: GPT):
    "Load the reference's weights into our GPT (chapter 06's name mapping), so both compute the same function."
    sd = {k.replace('layers.', 'transformer.h.', 1): v for k, v in from_torch_transformer(ref.blocks.state_dict()).items()}
    sd |= {'transformer.wte.weight': ref.wte.weight, 'transformer.wpe.weight': ref.wpe.weight,
           'lm_head.weight': ref.wte.weight, 'transformer.ln_f.weight': ref.ln_f.weight}
    if ref.ln_f.bias is not None: sd['transformer.ln_f.bias'] = ref.ln_f.bias
    ours.load_state_dict(sd, strict=True)


def matmul_flops(threads: int, n: int = 1024, reps: int = 20) -> float:
    "Measured float32 matmul throughput (FLOP/s) on this CPU at the current thread count."
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    best = float('inf')
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps): a @ b
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n ** 3 / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--preset', default='shakespeare-char')
    ap.add_argument('--steps', type=int, default=10, help='timed steps per variant per round')
    ap.add_argument('--rounds', type=int, default=9)
    ap.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1: stable on a shared machine)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent/'results')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    p = get_preset(args.preset)
    B, T = p.train['batch_size'], p.train['context_length']
    tok = corpus_tokenizer(p.tokenizer)
    data = token_ids('train', tok)
    cfg = GPTConfig(**p.model, vocab_size=tok.vocab_size, block_size=T)

    set_seed(0)
    ref = TorchGPT(cfg).to(device)
    models = {'reference': ref, 'ours': GPT(cfg).to(device), 'ours-fast': GPT(cfg).to(device)}
    n_ref, n_ours = sum(q.numel() for q in ref.parameters()), sum(q.numel() for q in models['ours'].parameters())
    assert n_ref == n_ours, (n_ref, n_ours)
    for name in ('ours', 'ours-fast'): copy_into_ours(ref, models[name])
    use_fast_attention(models["ours-fast"])
    x, y = get_batch(data, B, T, device, torch.Generator().manual_seed(0))
    with torch.no_grad():                                     # the same function before we time it
        want = ref.eval()(x)[0]
        for name in ('ours', 'ours-fast'):
            torch.testing.assert_close(models[name].eval()(x)[0], want, rtol=1e-4, atol=1e-4)
    for m in models.values(): m.train()
    opts = {k: configure_optimizer(m, 1e-3, 0.1, (0.9, 0.99)) for k, m in models.items()}
    gens = {k: torch.Generator().manual_seed(1) for k in models}
    train_model = GPT(cfg).to(device)
    tcfg = TrainConfig(max_steps=args.steps, warmup_steps=1, batch_size=B, context_length=T, eval_interval=0,
                       progress=False, log=False, plot=False, device=str(device))

    def plain_steps(name):
        m, opt, g = models[name], opts[name], gens[name]
        sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
        sync(); t = time.perf_counter()
        for _ in range(args.steps):
            xb, yb = get_batch(data, B, T, device, g)
            _, loss = m(xb, yb)
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step(); opt.zero_grad(set_to_none=True)
        sync()
        return args.steps * B * T / (time.perf_counter() - t)

    def run(name):
        if name == 'train()': return train(train_model, data, None, tcfg)['tokens_per_s']
        return plain_steps(name)

    for name in VARIANTS: run(name)                           # warm-up round, not recorded
    rates = {k: [] for k in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % 4:] + VARIANTS[:r % 4]
        for name in order: rates[name].append(run(name))
        print(f'round {r + 1}/{args.rounds}: ' + ', '.join(f'{k} {rates[k][-1]:,.0f}' for k in VARIANTS), flush=True)

    rng = np.random.default_rng(0)
    def ratio(a, b):
        per_round = np.array(rates[a]) / np.array(rates[b])
        boots = [np.median(rng.choice(per_round, len(per_round))) for _ in range(2000)]
        return {'median': float(np.median(per_round)), 'ci95': [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]}

    peak = matmul_flops(args.threads) if device.type == 'cpu' else None
    fpt = flops_per_token(matmul_params(models['ours']), cfg.n_layer, cfg.n_embd, T)
    med = {k: float(np.median(v)) for k, v in rates.items()}
    res = {'preset': args.preset, 'device': str(device), 'threads': args.threads, 'torch': torch.__version__,
           'machine': platform.processor() or platform.machine(), 'python': platform.python_version(),
           'config': {'n_layer': cfg.n_layer, 'n_head': cfg.n_head, 'n_embd': cfg.n_embd, 'bias': cfg.bias,
                      'batch_size': B, 'context_length': T, 'parameters': n_ours},
           'rounds': args.rounds, 'steps_per_round': args.steps,
           'tokens_per_s': {k: {'median': med[k], 'q25': float(np.percentile(v, 25)), 'q75': float(np.percentile(v, 75))}
                            for k, v in rates.items()},
           'ratio_vs_reference': {k: ratio(k, 'reference') for k in VARIANTS if k != 'reference'},
           'flops_per_token': fpt, 'cpu_matmul_flops': peak,
           'mfu_vs_cpu_matmul': {k: fpt * med[k] / peak for k in VARIANTS} if peak else None}
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out/'pretraining.json') as tmp: tmp.write_text(json.dumps(res, indent=1))
    lines = [f"# Pretraining step, preset `{args.preset}`",
             '', f"{cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} dims, {n_ours:,} parameters; batch {B} x context {T} "
             f"= {B * T} tokens per step; {device}, {args.threads} thread(s), torch {torch.__version__}; "
             f"median of {args.rounds} rounds x {args.steps} steps.", '',
             '| variant | tokens/s (median) | 25th-75th pct | vs reference (95% CI) | MFU vs measured CPU matmul |',
             '|---|---|---|---|---|']
    for k in VARIANTS:
        t = res['tokens_per_s'][k]
        rr = res['ratio_vs_reference'].get(k)
        rs = f"{rr['median']:.2f}x ({rr['ci95'][0]:.2f}-{rr['ci95'][1]:.2f})" if rr else '1 (reference)'
        mfu = f"{res['mfu_vs_cpu_matmul'][k]:.0%}" if peak else 'n/a'
        lines.append(f"| {k} | {t['median']:,.0f} | {t['q25']:,.0f}-{t['q75']:,.0f} | {rs} | {mfu} |")
    if peak: lines += ['', f"Training FLOPs per token {fpt / 1e6:.2f} M (6N + 12LdT); measured 1024x1024 float32 matmul "
                           f"{peak / 1e9:.1f} GFLOP/s at {args.threads} thread(s)."]
    md = '\n'.join(lines) + '\n'
    with atomic_path(args.out/'pretraining.md') as tmp: tmp.write_text(md)
    print(md)


if __name__ == '__main__':
    main()
