"""Heavier checks of llm_from_scratch.tokenization than the notebook's: multi-process counting (fork and spawn),
chunk boundaries on multi-megabyte files, streaming in bounded memory, and the fast trainer against the naive one on
many random corpora."""
import random, subprocess, sys, textwrap, tracemalloc, warnings
from collections import Counter

import pytest
import regex

from llm_from_scratch.tokenization import (EOT, BPETokenizer, _chunk_boundaries, _count_text, count_pretokens,
                                           train_bpe, train_bpe_naive)

WORDS = ('the and to of I you my a that in is not with me it for his be this your him but have he so what thou '
         'will as by thy all shall her no do are our if on O lord love now sir good come king').split()


def _corpus(n_words: int, seed: int, special: str | None = None) -> str:
    "Play-like text: lines of words, blank lines, indentation, punctuation, and `special` between 'documents'."
    rng = random.Random(seed)
    out = []
    for i in range(n_words):
        out.append(rng.choice(WORDS))
        r = rng.random()
        if r < 0.08: out.append(rng.choice(',.;:!?') + '\n')
        elif r < 0.10: out.append('.\n\n' + ' ' * rng.randint(0, 4))
        elif r < 0.1005 and special: out.append('.\n' + special)
        else: out.append(' ')
    return ''.join(out)


@pytest.fixture(scope='module')
def big_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('tok')
    with_special = _corpus(600_000, 0, EOT)
    without = _corpus(600_000, 1)
    (d/'special.txt').write_text(with_special, encoding='utf-8')
    (d/'plain.txt').write_text(without, encoding='utf-8')
    return d, with_special, without


def test_chunk_boundaries_are_safe(big_files):
    d, with_special, without = big_files
    for name, text, specials in (('special.txt', with_special, [EOT]), ('plain.txt', without, [])):
        data = (d/name).read_bytes()
        bounds = _chunk_boundaries(d/name, 16, specials)
        assert bounds[0] == 0 and bounds[-1] == len(data) and bounds == sorted(set(bounds))
        assert len(bounds) > 10
        for b in bounds[1:-1]:
            at_special = any(data.startswith(s.encode(), b) for s in specials)
            at_newline = data[b:b + 1] == b'\n' and 0x21 <= data[b - 1] <= 0x7e
            assert at_special or at_newline, (name, b, data[b - 10:b + 10])
        pieces = sum((_count_text(data[x:y].decode(), specials) for x, y in zip(bounds, bounds[1:])), Counter())
        assert pieces == _count_text(text, specials)


@pytest.mark.parametrize('name,specials', [('special.txt', [EOT]), ('plain.txt', [])])
def test_parallel_counts_equal_serial(big_files, name, specials):
    d = big_files[0]
    serial = count_pretokens(d/name, specials, num_workers=1)
    assert count_pretokens(d/name, specials, num_workers=2) == serial
    assert count_pretokens(d/name, specials, num_workers=5) == serial
    assert train_bpe(d/name, 350, specials, num_workers=2) == train_bpe(d/name, 350, specials, num_workers=1)


def test_parallel_counting_with_spawn(big_files):
    "Workers started with 'spawn' (the default on macOS and Windows) must import and find the worker function."
    d = big_files[0]
    code = textwrap.dedent(f"""
        import multiprocessing as mp
        from llm_from_scratch.tokenization import count_pretokens, EOT
        if __name__ == '__main__':
            mp.set_start_method('spawn')
            a = count_pretokens({str(d/'special.txt')!r}, [EOT], num_workers=2)
            b = count_pretokens({str(d/'special.txt')!r}, [EOT], num_workers=1)
            assert a == b, 'spawned workers disagree'
            print('ok', len(a))
        """)
    (d/'spawn_check.py').write_text(code)
    r = subprocess.run([sys.executable, str(d/'spawn_check.py')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith('ok'), r.stderr


def test_bad_utf8_in_a_parallel_chunk(tmp_path):
    data = ('word ' * 200_000 + '\n').encode() + b'caf\xe9\n' + ('more ' * 200_000).encode()
    (tmp_path/'bad.txt').write_bytes(data)
    with pytest.raises(ValueError, match='not UTF-8 text: invalid byte at offset'):
        count_pretokens(tmp_path/'bad.txt', num_workers=2)


def test_fast_equals_naive_on_random_corpora(tmp_path):
    rng = random.Random(7)
    alphabets = ['ab ', 'abc \n', 'aab  \n\n', 'xyz.,!? \n', 'éa😀 ', 'the cat sat on a mat\n']
    for trial in range(40):
        alphabet = rng.choice(alphabets)
        text = ''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        specials = rng.choice([[], ['<s>'], ['<s>', '<s><s>']])
        if specials: text = specials[0].join([text[:100], text[100:250], text[250:]])
        vocab_size = 256 + len(specials) + rng.randint(0, 40)
        (tmp_path/'t.txt').write_text(text, encoding='utf-8')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')                       # a tiny corpus may run out of pairs
            fast, naive = train_bpe(tmp_path/'t.txt', vocab_size, specials), train_bpe_naive(text, vocab_size, specials)
        assert fast == naive, (trial, text[:80])
        tok = BPETokenizer(*fast, special_tokens=specials)
        assert tok.decode(tok.encode(text)) == text
        assert tok.encode(text) == tok.to_hf().encode(text).ids


def test_encode_iterable_streams_in_bounded_memory(big_files, tmp_path):
    "5 MB of text streamed line by line: the ids are exact and the peak extra memory stays far below the text size."
    d, text, _ = big_files
    tok = BPETokenizer(*train_bpe(d/'special.txt', 350, [EOT]), special_tokens=[EOT])
    paragraph = text[:50_000]
    paragraph = paragraph[:paragraph.rindex('\n') + 1]            # ends with a newline...
    assert regex.match(r'\S', paragraph)                          # ...and starts with a non-space: copies are independent
    per_copy = len(tok.encode(paragraph))
    copies = 100
    def lines():
        for _ in range(copies): yield from paragraph.splitlines(keepends=True)
    tok.encode(paragraph)                                         # warm the cache before measuring
    tracemalloc.start()
    n = sum(1 for _ in tok.encode_iterable(lines()))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == copies * per_copy
    assert peak < 2_000_000, f'peak {peak:,} bytes while streaming {copies * len(paragraph):,} bytes'
