"""Benchmark of chapter 02 (tokenization): byte-level BPE training and encoding speed.

    python benchmarks/bench_tokenization.py            # the full run (a few minutes)
    python benchmarks/bench_tokenization.py --quick    # a smoke test with small sizes

Measured in one run, on one machine, so that every ratio compares like with like:

1. Training a `vocab`-token BPE (default 8192, with `<|endoftext|>`) on the whole cleaned modern corpus (~5 MB):
   our `train_bpe` (pure Python) against HF `tokenizers`' Rust trainer. Best of `--repeats` runs each. Both may use
   every core: HF's trainer is multi-threaded, ours counts pre-tokens in worker processes.
2. The same against the naive trainer (`train_bpe_naive`, which recounts every pair before each merge). It would take
   hours on the whole corpus, so it is timed on a slice of `--naive-bytes` bytes for `--naive-merges` merges and
   scaled. Its cost per merge is proportional to the number of tokens the corpus currently has, so the estimate is
       t_full = t_slice * sum_k T_k(full) / sum_k T_k(slice),
   where T_k is the corpus length in tokens before merge k (recorded by `bpe_merges(history=...)`). This is below
   the plain "merges x size" scaling t_slice * (M/m) * (N/S), which ignores that the corpus shrinks as merges are
   learned; both are reported, and the speed-up is quoted with the lower (token-weighted) one.
3. Encoding throughput on the validation plays (MB of UTF-8 per second) with a tokenizer trained on the training
   plays: ours with a cold cache, a warm cache and no cache; HF `tokenizers` (one `encode` call on the whole text, and
   `encode_batch` over lines, which is parallel); `tiktoken` built from our ranks. All must give the same ids.

The machine may be shared with other work: timings are noisy, ratios less so. Results go to
benchmarks/results/tokenization.{json,md}.
"""
from __future__ import annotations
import argparse, os, platform, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import tiktoken, tokenizers
from tokenizers import ByteLevelBPETokenizer

from llm_from_scratch.cleaning import load_corpus
from llm_from_scratch.tokenization import (EOT, BPETokenizer, bpe_merges, count_pretokens, train_bpe, train_bpe_naive)
from _results import write_results            # benchmarks/_results.py: the results files

RESULTS = Path(__file__).resolve().parent/'results'


def timed(f, repeats=1):
    "(best wall-clock seconds over `repeats` calls, the last result)."
    best, out = float('inf'), None
    for _ in range(repeats):
        t0 = time.perf_counter(); out = f(); best = min(best, time.perf_counter() - t0)
    return best, out


def hf_train(path: Path, vocab_size: int) -> ByteLevelBPETokenizer:
    tok = ByteLevelBPETokenizer()
    tok.add_special_tokens([EOT])
    tok.train([str(path)], vocab_size=vocab_size, min_frequency=0, special_tokens=[EOT], show_progress=False)
    return tok


def bench_training(corpus_path: Path, vocab: int, repeats: int) -> dict:
    t_ours, (v, merges) = timed(lambda: train_bpe(corpus_path, vocab, [EOT]), repeats)
    t_count, counts = timed(lambda: count_pretokens(corpus_path, [EOT]), 1)
    t_merge, _ = timed(lambda: bpe_merges(counts, vocab - 257), 1)
    t_hf, hf = timed(lambda: hf_train(corpus_path, vocab), repeats)
    val = load_corpus('shakespeare', split='val')
    ours_bpt = len(val.encode()) / len(BPETokenizer(v, merges, [EOT]).encode(val))
    hf_bpt = len(val.encode()) / len(hf.encode(val).ids)
    return dict(vocab_size=vocab, corpus_bytes=corpus_path.stat().st_size, distinct_pretokens=len(counts),
                ours_s=t_ours, ours_count_s=t_count, ours_merge_s=t_merge, hf_s=t_hf, ours_over_hf=t_ours / t_hf,
                merges=len(merges), note='bytes/token of these (whole-corpus) tokenizers on the val plays',
                ours_bytes_per_token=ours_bpt, hf_bytes_per_token=hf_bpt)


def bench_naive(corpus: str, corpus_path: Path, train: dict, slice_bytes: int, slice_merges: int, tmp: Path) -> dict:
    piece = corpus.encode()[:slice_bytes].decode('utf-8', errors='ignore')
    (tmp/'slice.txt').write_text(piece, encoding='utf-8')
    t_naive, naive = timed(lambda: train_bpe_naive(piece, 256 + slice_merges))
    t_fast_slice, fast = timed(lambda: train_bpe(tmp/'slice.txt', 256 + slice_merges))
    assert naive == fast, 'the naive and the fast trainer disagree on the slice'
    def work(path, n_merges, special):
        counts = count_pretokens(path, special)
        history = []
        bpe_merges(counts, n_merges, history=history)
        t0 = sum(len(w) * c for w, c in counts.items())
        return t0 + sum(history[:-1]), t0                 # sum over merges of the tokens before each merge
    work_full, n_full = work(corpus_path, train['merges'], [EOT])
    work_slice, n_slice = work(tmp/'slice.txt', slice_merges, [])
    simple = t_naive * (train['merges'] / slice_merges) * (n_full / n_slice)
    weighted = t_naive * work_full / work_slice
    return dict(slice_bytes=len(piece.encode()), slice_merges=slice_merges, naive_slice_s=t_naive, fast_slice_s=t_fast_slice,
                naive_full_estimate_simple_s=simple, naive_full_estimate_s=weighted,
                speedup_vs_naive=weighted / train['ours_s'], speedup_vs_naive_simple=simple / train['ours_s'],
                speedup_on_slice=t_naive / t_fast_slice)


def bench_encoding(train_path: Path, val: str, vocab: int, repeats: int) -> dict:
    v, merges = train_bpe(train_path, vocab, [EOT])
    mb = len(val.encode()) / 1e6
    ref = BPETokenizer(v, merges, [EOT]).encode(val)
    def cold():
        tok = BPETokenizer(v, merges, [EOT])
        return tok.encode(val)
    warm_tok = BPETokenizer(v, merges, [EOT]); warm_tok.encode(val)
    nocache = BPETokenizer(v, merges, [EOT], cache_size=0)
    hf = warm_tok.to_hf()
    lines = val.splitlines(keepends=True)
    tk = warm_tok.to_tiktoken()
    runs = {'ours, cold cache': cold,
            'ours, warm cache': lambda: warm_tok.encode(val),
            'ours, no cache': lambda: nocache.encode(val),
            'HF tokenizers, encode': lambda: hf.encode(val).ids,
            'HF tokenizers, encode_batch (lines, parallel)': lambda: [i for e in hf.encode_batch(lines) for i in e.ids],
            'tiktoken': lambda: tk.encode(val, allowed_special='all')}
    out = {}
    for name, f in runs.items():
        t, ids = timed(f, repeats)
        if ids != ref and 'batch' not in name: raise AssertionError(f'{name} gives different ids')
        out[name] = dict(seconds=t, mb_per_s=mb / t)
    # encode_batch cuts the text at lines, which can split a whitespace pre-token: report its agreement, not assert it
    out['HF tokenizers, encode_batch (lines, parallel)']['same_ids'] = runs['HF tokenizers, encode_batch (lines, parallel)']() == ref
    return dict(val_bytes=len(val.encode()), vocab_size=vocab, tokens=len(ref), runs=out)


def markdown(r: dict) -> str:
    tr, nv, enc = r['training'], r['naive'], r['encoding']
    L = [f"# Tokenization benchmark ({r['date']})", '',
         f"Machine: {r['machine']}. Timings are wall-clock and noisy on a shared machine; each ratio compares two "
         'measurements from the same run.', '',
         f"## Training, vocab {tr['vocab_size']}, whole modern corpus ({tr['corpus_bytes'] / 1e6:.2f} MB, "
         f"{tr['distinct_pretokens']:,} distinct pre-tokens)", '',
         '| trainer | seconds | ratio |', '|---|---|---|',
         f"| HF tokenizers (Rust) | {tr['hf_s']:.2f} | 1 |",
         f"| ours, `train_bpe` | {tr['ours_s']:.2f} (phases timed once: counting {tr['ours_count_s']:.2f}, merges {tr['ours_merge_s']:.2f}) | "
         f"{tr['ours_over_hf']:.2f}x HF's time (target <= 10x) |",
         f"| naive, estimated (token-weighted) | {nv['naive_full_estimate_s']:,.0f} | ours is {nv['speedup_vs_naive']:,.0f}x faster (target >= 50x) |",
         f"| naive, estimated (merges x size) | {nv['naive_full_estimate_simple_s']:,.0f} | ours is {nv['speedup_vs_naive_simple']:,.0f}x faster |", '',
         f"Naive trainer measured on a {nv['slice_bytes'] / 1e3:.0f} kB slice for {nv['slice_merges']} merges: "
         f"{nv['naive_slice_s']:.2f} s (the fast trainer: {nv['fast_slice_s']:.3f} s on the same slice, "
         f"{nv['speedup_on_slice']:.0f}x; identical merges).", '',
         f"Compression of the two whole-corpus tokenizers on the val plays: ours {tr['ours_bytes_per_token']:.4f}, "
         f"HF {tr['hf_bytes_per_token']:.4f} bytes/token.", '',
         f"## Encoding the val plays ({enc['val_bytes'] / 1e6:.2f} MB, vocab {enc['vocab_size']} trained on the train plays)", '',
         '| encoder | MB/s | seconds |', '|---|---|---|']
    for name, x in enc['runs'].items():
        extra = '' if x.get('same_ids', True) else ' (ids differ: lines cut whitespace runs)'
        L.append(f"| {name}{extra} | {x['mb_per_s']:.2f} | {x['seconds']:.3f} |")
    return '\n'.join(L) + '\n'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vocab', type=int, default=8192)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--naive-bytes', type=int, default=100_000)
    ap.add_argument('--naive-merges', type=int, default=256)
    ap.add_argument('--quick', action='store_true', help='small sizes, for a smoke test')
    ap.add_argument('--out', type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.quick: a.vocab, a.repeats, a.naive_bytes, a.naive_merges = 1024, 1, 20_000, 32
    corpus, train, val = (load_corpus('shakespeare', split=s) for s in (None, 'train', 'val'))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp/'corpus.txt').write_text(corpus, encoding='utf-8'); (tmp/'train.txt').write_text(train, encoding='utf-8')
        print('training ...', flush=True)
        training = bench_training(tmp/'corpus.txt', a.vocab, a.repeats)
        print(f"  ours {training['ours_s']:.2f} s, HF {training['hf_s']:.2f} s: {training['ours_over_hf']:.2f}x", flush=True)
        print('naive trainer on a slice ...', flush=True)
        naive = bench_naive(corpus, tmp/'corpus.txt', training, a.naive_bytes, a.naive_merges, tmp)
        print(f"  estimated {naive['naive_full_estimate_s']:,.0f} s on the whole corpus: ours is {naive['speedup_vs_naive']:,.0f}x faster", flush=True)
        print('encoding ...', flush=True)
        encoding = bench_encoding(tmp/'train.txt', val, a.vocab, a.repeats)
    r = dict(date=datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), quick=a.quick,
             machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                     f"tokenizers {tokenizers.__version__}, tiktoken {tiktoken.__version__}",
             training=training, naive=naive, encoding=encoding)
    md = markdown(r)
    print(md)
    if not a.quick:
        write_results(a.out, 'tokenization', r, md)
    return r


if __name__ == '__main__':
    main()
