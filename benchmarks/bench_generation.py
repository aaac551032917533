#!/usr/bin/env python
"""Benchmark generation: llm_from_scratch's cached `generate` against Hugging Face's `generate` on the same weights.

At GPT-2 small's shape (124M parameters, random weights) on the CPU, greedy, prompt 32 tokens, 128 new tokens, batch 1
and 8, in interleaved rounds in one process:
  ours   - `generation.generate` (static KV cache) on a `GPT` loaded with `GPT.from_hf_gpt2` from a directory written by
           `GPT2LMHeadModel.save_pretrained`: the same weights as the reference, checked to give the same tokens first
           (its linear weights keep GPT-2's (d_in, d_out) memory layout, as transposed views);
  ours_linear_layout - the same, with the weights copied into nn.Linear's usual (d_out, d_in) layout;
  hf     - `GPT2LMHeadModel.generate(do_sample=False)` on those weights, the reference.
The bandwidth bound: a decode step reads every weight once, so tokens/s <= batch x (measured read bandwidth) / (weight
bytes); reported as the fraction of it each reaches. Also: cached against uncached decode steps at several positions
(time of one step), and speculative against plain decoding with chapter 08's two Shakespeare character models (the
`cpu-tiny` draft and `shakespeare-char` target of `generation.shakespeare_char_models`, trained once and cached).
Ratios come with a bootstrap 95% interval over rounds. Results: benchmarks/results/generation.json and .md.

    python benchmarks/bench_generation.py                 # the full run (1 thread), a few minutes
    python benchmarks/bench_generation.py --quick --out /tmp/bench    # a tiny model, a few seconds: checks the script
"""
from __future__ import annotations
import argparse, platform, tempfile, time
from pathlib import Path

import numpy as np
import torch

from llm_from_scratch.core import set_seed
from llm_from_scratch.transformer import GPT, GPTConfig
from llm_from_scratch.generation import generate, speculative_generate, static_kv_caches, shakespeare_char_models
from _results import write_results            # benchmarks/_results.py: the results files


def bootstrap(per_round: list[float], rng) -> dict:
    "Median of per-round ratios and a bootstrap 95% interval of the median."
    x = np.array(per_round)
    boots = [np.median(rng.choice(x, len(x))) for _ in range(2000)]
    return {'median': float(np.median(x)), 'ci95': [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]}


def read_bandwidth(mib: int, reps: int = 5) -> float:
    "Measured memory read bandwidth (bytes/s): the best of `reps` sums over a float32 tensor of `mib` MiB."
    x = torch.ones(mib * 2**18)
    x.sum()
    best = min(_timed(lambda: x.sum())[1] for _ in range(reps))
    return x.nbytes / best


def _timed(fn):
    t = time.perf_counter(); out = fn(); return out, time.perf_counter() - t


def models(quick: bool, tmp: Path):
    "The HF reference GPT-2 (random weights), ours loaded from its saved directory, and ours with nn.Linear's layout."
    from transformers import GPT2Config, GPT2LMHeadModel
    set_seed(0)
    cfg = GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=2) if quick else GPT2Config()
    hf = GPT2LMHeadModel(cfg).eval()
    hf.save_pretrained(tmp/'gpt2-random')
    ours = GPT.from_hf_gpt2(tmp/'gpt2-random')                      # Conv1D weights: transposed views, GPT-2's layout
    linear = GPT(ours.config).eval()
    linear.load_state_dict(ours.state_dict())                        # the same values copied into (d_out, d_in) storage
    return hf, ours, linear


def run_vs_hf(hf, ours, ours_linear, B, T, n, rounds, rng) -> dict:
    "Tokens/s of HF's generate, ours, and ours with nn.Linear's weight layout, in interleaved rounds."
    ids = torch.randint(0, hf.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(B))
    mask = torch.ones_like(ids)
    def hf_gen(k):
        with torch.inference_mode():
            return hf.generate(ids, attention_mask=mask, max_new_tokens=k, min_new_tokens=k, do_sample=False, pad_token_id=0)
    gens = {'hf': hf_gen, 'ours': lambda k: generate(ours, ids, k, temperature=0),
            'ours_linear_layout': lambda k: generate(ours_linear, ids, k, temperature=0)}
    want = hf_gen(8)
    for name in ('ours', 'ours_linear_layout'):
        assert torch.equal(gens[name](8), want), f'{name} and HF must produce the same greedy tokens before they are timed'
    for g in gens.values(): g(n)                                    # warm-up
    times = {k: [] for k in gens}
    for r in range(rounds):
        names = list(gens)
        for name in names[r % 3:] + names[:r % 3]: times[name].append(_timed(lambda: gens[name](n))[1])
        print(f'batch {B}, round {r + 1}/{rounds}: ' + ', '.join(f'{k} {B * n / v[-1]:.1f} tok/s' for k, v in times.items()), flush=True)
    rate = lambda k: float(np.median([B * n / t for t in times[k]]))
    return {'ours_tokens_per_s': rate('ours'), 'hf_tokens_per_s': rate('hf'), 'ours_linear_layout_tokens_per_s': rate('ours_linear_layout'),
            'ratio': bootstrap([h / o for o, h in zip(times['ours'], times['hf'])], rng),
            'linear_layout_ratio': bootstrap([h / o for o, h in zip(times['ours_linear_layout'], times['hf'])], rng)}


def run_cache_vs_length(ours, positions, rounds, rng) -> dict:
    "Time of one decode step at position t: with a static cache holding t - 1 positions, and re-reading all t."
    V, out = ours.config.vocab_size, {}
    seq = torch.randint(0, V, (1, max(positions)), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        for t in positions:
            caches = static_kv_caches(ours, 1, t)
            ours(seq[:, :t - 1], kv_caches=caches)
            def cached_step():
                for c in caches: c.crop(t - 1)
                ours(seq[:, t - 1:t], kv_caches=caches)
            uncached_step = lambda: ours(seq[:, :t])
            cached_step(); uncached_step()
            tc, tu = [], []
            for _ in range(rounds):
                tc.append(_timed(cached_step)[1]); tu.append(_timed(uncached_step)[1])
            out[str(t)] = {'cached_ms': 1e3 * float(np.median(tc)), 'uncached_ms': 1e3 * float(np.median(tu)),
                           **bootstrap([u / c for u, c in zip(tu, tc)], rng)}
            print(f'position {t}: cached {out[str(t)]["cached_ms"]:.1f} ms, uncached {out[str(t)]["uncached_ms"]:.1f} ms', flush=True)
    return out


def run_speculative(quick: bool, rounds: int, k: int, rng) -> dict:
    if quick:                                     # random models: the acceptance rate means nothing, the script is exercised
        set_seed(1)
        draft = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=1, n_head=2, n_embd=32)).eval()
        target = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=64)).eval()
        prompts = [torch.randint(0, 65, (1, 16), generator=torch.Generator().manual_seed(i)) for i in range(3)]
    else:
        from llm_from_scratch.cleaning import load_corpus
        draft, target, tok = shakespeare_char_models()
        val = load_corpus('shakespeare', 'val')
        prompts = [torch.tensor([tok.encode(val[i:i + 16])]) for i in range(1000, 1000 + 16 * 7919, 7919)]
    n = 48
    res = {'k': k, 'new_tokens': n, 'prompts': len(prompts),
           'models': {name: {'n_layer': m.config.n_layer, 'n_embd': m.config.n_embd, 'parameters': m.num_params()}
                      for name, m in (('draft', draft), ('target', target))}}
    for mode, temp in (('greedy', 0.0), ('sampled', 0.8)):
        ratios, acc, drafted = [], 0, 0
        for r in range(rounds):
            tp = ts = 0.0
            for i, x in enumerate(prompts):
                g = lambda: torch.Generator().manual_seed(1000 * r + i)
                plain, dt = _timed(lambda: generate(target, x, n, temperature=temp, generator=g()))
                (spec, st), ds = _timed(lambda: speculative_generate(target, draft, x, n, k=k, temperature=temp,
                                                                     generator=g(), return_stats=True))
                if temp == 0: assert torch.equal(spec, plain), 'speculative greedy must equal the target greedy'
                tp, ts, acc, drafted = tp + dt, ts + ds, acc + st['accepted'], drafted + st['drafted']
            ratios.append(tp / ts)
        res[mode] = {'temperature': temp, 'speedup': bootstrap(ratios, rng), 'acceptance_rate': acc / max(drafted, 1)}
        print(f"speculative, {mode}: {res[mode]['speedup']['median']:.2f}x, acceptance {res[mode]['acceptance_rate']:.0%}", flush=True)
    return res


def report(res: dict) -> str:
    c = res['config']
    lines = [f"# Generation: cached `generate` vs Hugging Face `generate`{' (quick)' if res['quick'] else ''}", '',
             f"{c['n_layer']} layers, {c['n_head']} heads, {c['n_embd']} dims, vocabulary {c['vocab_size']}, "
             f"{c['parameters']:,} parameters (random weights); greedy, prompt {res['prompt_tokens']} tokens, "
             f"{res['new_tokens']} new tokens; {res['device']}, {res['threads']} thread(s), torch {res['torch']}, "
             f"transformers {res['transformers']}; {res['rounds']} interleaved rounds.", '',
             f"Measured read bandwidth {res['bandwidth_gb_s']:.1f} GB/s; weights read per decode step "
             f"{res['weight_bytes'] / 1e9:.3f} GB, so the bound is batch x {res['bandwidth_gb_s'] * 1e9 / res['weight_bytes']:.1f} tokens/s.", '',
             '| batch | ours tokens/s | HF tokens/s | ours / HF (95% CI) | ours / bound | HF / bound | ours, nn.Linear layout / HF |',
             '|---|---|---|---|---|---|---|']
    for b, r in res['vs_hf'].items():
        ll = r['linear_layout_ratio']
        lines.append(f"| {b} | {r['ours_tokens_per_s']:.1f} | {r['hf_tokens_per_s']:.1f} | {r['ratio']['median']:.2f}x "
                     f"({r['ratio']['ci95'][0]:.2f}-{r['ratio']['ci95'][1]:.2f}) | {r['fraction_of_bound']:.0%} | {r['hf_fraction_of_bound']:.0%} | "
                     f"{ll['median']:.2f}x ({ll['ci95'][0]:.2f}-{ll['ci95'][1]:.2f}) |")
    lines += ['', '## Cached vs uncached: one decode step at position t', '',
              '| position | cached ms | uncached ms | speed-up (95% CI) |', '|---|---|---|---|']
    for t, r in res['cached_vs_uncached'].items():
        lines.append(f"| {t} | {r['cached_ms']:.1f} | {r['uncached_ms']:.1f} | {r['median']:.1f}x ({r['ci95'][0]:.1f}-{r['ci95'][1]:.1f}) |")
    sp = res['speculative']
    m = sp['models']
    lines += ['', f"## Speculative vs plain decoding (k = {sp['k']}, {sp['new_tokens']} new tokens, {sp['prompts']} prompts)", '',
              f"Draft {m['draft']['n_layer']} layers x {m['draft']['n_embd']} ({m['draft']['parameters']:,} parameters), target "
              f"{m['target']['n_layer']} layers x {m['target']['n_embd']} ({m['target']['parameters']:,}).", '',
              '| mode | acceptance rate | speed-up (95% CI) |', '|---|---|---|']
    for mode in ('greedy', 'sampled'):
        r = sp[mode]
        lines.append(f"| {mode} (temperature {r['temperature']}) | {r['acceptance_rate']:.1%} | {r['speedup']['median']:.2f}x "
                     f"({r['speedup']['ci95'][0]:.2f}-{r['speedup']['ci95'][1]:.2f}) |")
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='a tiny model and few rounds: checks that the script works')
    ap.add_argument('--rounds', type=int, default=None, help='interleaved rounds (default 5; 2 with --quick)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', type=Path, default=Path(__file__).parent/'results')
    args = ap.parse_args()
    import transformers
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error(); hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (2 if args.quick else 5)
    T, n = (8, 16) if args.quick else (32, 128)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        hf, ours, ours_linear = models(args.quick, Path(d))
    c = ours.config
    weight_bytes = sum(p.nbytes for name, p in ours.named_parameters() if 'wpe' not in name)   # wpe: one row per step
    bw = read_bandwidth(16 if args.quick else 512)
    res = {'quick': args.quick, 'device': 'cpu', 'threads': args.threads, 'torch': torch.__version__,
           'transformers': transformers.__version__, 'machine': platform.processor() or platform.machine(),
           'config': {'n_layer': c.n_layer, 'n_head': c.n_head, 'n_embd': c.n_embd, 'vocab_size': c.vocab_size,
                      'block_size': c.block_size, 'parameters': ours.num_params()},
           'prompt_tokens': T, 'new_tokens': n, 'rounds': rounds, 'bandwidth_gb_s': bw / 1e9, 'weight_bytes': weight_bytes,
           'vs_hf': {}}
    for B in (1, 8):
        r = run_vs_hf(hf, ours, ours_linear, B, T, n, rounds, rng)
        bound = B * bw / weight_bytes
        res['vs_hf'][str(B)] = {**r, 'bound_tokens_per_s': bound, 'fraction_of_bound': r['ours_tokens_per_s'] / bound,
                                'hf_fraction_of_bound': r['hf_tokens_per_s'] / bound}
    res['cached_vs_uncached'] = run_cache_vs_length(ours, [16, 32, 64] if args.quick else [32, 128, 512, 1024], rounds, rng)
    res['speculative'] = run_speculative(args.quick, rounds, 4, rng)
    md = report(res)
    print(md)
    write_results(args.out, 'generation', res, md)


if __name__ == '__main__':
    main()
