#!/usr/bin/env python
"""Benchmark the server: aggregate generated tokens/s at 1, 4, 16 and 32 concurrent clients, continuous batching against
the same server limited to one sequence at a time.

Chapter 08's `shakespeare-char` GPT (`generation.shakespeare_char_models`, trained once and cached), served by
`serving.create_app` under uvicorn on 127.0.0.1 in this process; each client is an asyncio task sending its requests one
after another over HTTP (`/v1/completions`, 8-character prompts from the validation plays, `max_tokens` 48, temperature
0.8, a seed per request, no stop string, so every request generates exactly 48 tokens). Two servers:
  batched    - `max_batch=32`: every active sequence is decoded in one step (continuous batching);
  one_at_a_time - `max_batch=1`: the same engine, one sequence at a time (the others wait in the queue).
Rounds alternate between the two; the figures are medians over rounds, with per-request latency percentiles over all
requests. Results: benchmarks/results/serving.json and .md.

    python benchmarks/bench_serving.py                 # the full run (1 thread), about a minute
    python benchmarks/bench_serving.py --quick --out /tmp/bench    # a tiny random model, a few seconds: checks the script
"""
from __future__ import annotations
import argparse, asyncio, platform, statistics, time
from pathlib import Path

import numpy as np
import torch
import httpx

from llm_from_scratch.core import set_seed
from llm_from_scratch.transformer import GPT, GPTConfig
from llm_from_scratch.tokenization import CharTokenizer
from llm_from_scratch.serving import create_app, running_server, wait_until_ready
from _results import write_results            # benchmarks/_results.py: the results files

CLIENTS = (1, 4, 16, 32)
MODES = {'batched': 32, 'one_at_a_time': 1}


def model_and_prompts(quick: bool):
    "The served model, its tokenizer and the prompts."
    from llm_from_scratch.cleaning import load_corpus
    if quick:
        set_seed(0)
        text = 'abcdefghijklmnopqrstuvwxyz .\n' * 4
        tok = CharTokenizer.from_text(text)
        model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32)).eval()
        return model, tok, [text[i:i + 8] for i in range(0, 64, 3)]
    from llm_from_scratch.generation import shakespeare_char_models
    _, model, tok = shakespeare_char_models()
    val = load_corpus('shakespeare', 'val')
    return model, tok, [val[j:j + 8] for j in ((1000 + i * 7919) % (len(val) - 8) for i in range(64))]


async def load(url: str, clients: int, per_client: int, prompts: list[str], max_tokens: int) -> dict:
    "`clients` concurrent clients, `per_client` requests each: tokens/s over the whole run, latency percentiles, errors."
    lat, tokens, errors = [], 0, 0
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=clients + 4)) as h:
        async def client(k):
            nonlocal tokens, errors
            for r in range(per_client):
                body = {'model': 'bench', 'prompt': prompts[(k * per_client + r) % len(prompts)], 'max_tokens': max_tokens,
                        'temperature': 0.8, 'seed': k * 1000 + r}
                t = time.perf_counter()
                resp = await h.post('/v1/completions', json=body)
                lat.append(time.perf_counter() - t)
                if resp.status_code != 200: errors += 1; continue
                tokens += resp.json()['usage']['completion_tokens']
        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {'tokens': tokens, 'seconds': wall, 'tokens_per_s': tokens / wall, 'errors': errors, 'requests': len(lat),
            'p50_s': float(p50), 'p95_s': float(p95), 'p99_s': float(p99)}


def run(quick: bool, rounds: int, per_client: int, max_tokens: int) -> dict:
    model, tok, prompts = model_and_prompts(quick)
    servers = {}
    with running_server(create_app({'bench': (model, tok)}, max_batch=MODES['batched'], max_queue=256)) as u1, \
         running_server(create_app({'bench': (model, tok)}, max_batch=MODES['one_at_a_time'], max_queue=256)) as u2:
        servers = {'batched': u1, 'one_at_a_time': u2}
        for u in servers.values(): wait_until_ready(u)
        for u in servers.values(): asyncio.run(load(u, 2, 1, prompts, 8))           # warm-up
        per = {c: {m: [] for m in MODES} for c in CLIENTS}
        for r in range(rounds):
            for c in CLIENTS:
                for m in (MODES if r % 2 == 0 else reversed(list(MODES))):
                    per[c][m].append(asyncio.run(load(servers[m], c, per_client, prompts, max_tokens)))
    out = {}
    for c in CLIENTS:
        row = {}
        for m in MODES:
            runs = per[c][m]
            row[m] = {'tokens_per_s': statistics.median(x['tokens_per_s'] for x in runs),
                      'p50_s': statistics.median(x['p50_s'] for x in runs), 'p95_s': statistics.median(x['p95_s'] for x in runs),
                      'p99_s': statistics.median(x['p99_s'] for x in runs), 'errors': sum(x['errors'] for x in runs),
                      'requests': sum(x['requests'] for x in runs)}
        ratios = [b['tokens_per_s'] / o['tokens_per_s'] for b, o in zip(per[c]['batched'], per[c]['one_at_a_time'])]
        row['ratio'] = {'median': statistics.median(ratios), 'min': min(ratios), 'max': max(ratios)}
        out[str(c)] = row
    cfg = model.config
    return {'quick': quick, 'device': 'cpu', 'threads': torch.get_num_threads(), 'torch': torch.__version__,
            'python': platform.python_version(), 'rounds': rounds, 'requests_per_client': per_client, 'max_tokens': max_tokens,
            'model': {'n_layer': cfg.n_layer, 'n_embd': cfg.n_embd, 'block_size': cfg.block_size, 'parameters': model.num_params()},
            'max_batch': MODES, 'clients': out}


def markdown(res: dict) -> str:
    lines = [f"# Serving: continuous batching vs one sequence at a time{' (quick)' if res['quick'] else ''}", '',
             f"{res['model']['parameters']:,}-parameter GPT ({res['model']['n_layer']} layers, width {res['model']['n_embd']}), "
             f"{res['max_tokens']} tokens per request, {res['requests_per_client']} requests per client, {res['rounds']} rounds, "
             f"{res['threads']} thread(s), torch {res['torch']}, over HTTP on 127.0.0.1.", '',
             '| clients | batched tokens/s | one-at-a-time tokens/s | ratio | batched p50 / p95 / p99 (s) | one-at-a-time p95 (s) | errors |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for c, row in res['clients'].items():
        b, o = row['batched'], row['one_at_a_time']
        lines.append(f"| {c} | {b['tokens_per_s']:,.0f} | {o['tokens_per_s']:,.0f} | {row['ratio']['median']:.1f}× | "
                     f"{b['p50_s']:.2f} / {b['p95_s']:.2f} / {b['p99_s']:.2f} | {o['p95_s']:.2f} | {b['errors'] + o['errors']} |")
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='a tiny random model and one round: checks that the script works')
    ap.add_argument('--rounds', type=int, default=None, help='alternating rounds (default 3; 1 with --quick)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', type=Path, default=Path(__file__).parent/'results')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (1 if args.quick else 3)
    res = run(args.quick, rounds, per_client=2 if args.quick else 4, max_tokens=16 if args.quick else 48)
    md = markdown(res)
    print(md)
    write_results(args.out, 'serving', res, md)


if __name__ == '__main__':
    main()
