"""The installed `llm-from-scratch` console script, run as a user runs it: in a subprocess.
Needs the package installed (`pip install -e .`, which `make test` does) so that the entry point exists."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent/'llm-from-scratch'

def _run(*args, cwd=None):
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}     # one torch thread: the CI machine runs notebooks and tests side by side
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)

def test_help_lists_subcommands():
    r = _run('--help')
    assert r.returncode == 0, r.stderr
    assert all(c in r.stdout for c in ('demo', 'corpus', 'pretrain', 'generate'))

def test_demo_trains_reports_and_samples(tmp_path):
    out = tmp_path/'demo'
    # the main job at test size: a 30-step cpu-tiny model instead of the 2000-step recipe `make demo` runs
    r = _run('demo', '--out', str(out), '--preset', 'cpu-tiny', '--max-steps', '30', '--warmup-steps', '3', '--no-progress',
             '--sample-tokens', '60')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['checkpoint', 'corpus_stats.json', 'loss.png', 'results.json']
    assert (out/'loss.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (out/'loss.png').stat().st_size > 10_000
    # the corpus figures, printed and saved
    stats = json.loads((out/'corpus_stats.json').read_text())
    m = re.search(r'modern: 42 works, ([\d,]+) characters before cleaning, ([\d,]+) after', r.stdout)
    assert m, r.stdout
    before, after = (int(g.replace(',', '')) for g in m.groups())
    assert (before, after) == (stats['modern']['raw_chars'], stats['modern']['clean_chars'])
    assert 4_900_000 < after < before < 5_100_000
    assert re.search(r'folio: 35 works', r.stdout) and re.search(r'splits: train 34 works / [\d,]+ characters, val 4 works', r.stdout)
    # the training result, printed and saved; then a sample that starts with the prompt
    res = json.loads((out/'results.json').read_text())
    assert f"loss {res['val_loss']:.4f} nats/token" in r.stdout and res['val_tokens'] > 400_000 and res['val_loss'] < 4.0
    assert '== sample' in r.stdout and r.stdout.split('== sample')[1].split('\n', 1)[1].startswith('ROMEO.\n')

def test_corpus_writes_split(tmp_path):
    r = _run('corpus', '--split', 'test', '--edition', 'folio', '--out', str(tmp_path/'test.txt'))
    assert r.returncode == 0, r.stderr
    text = (tmp_path/'test.txt').read_text(encoding='utf-8')
    assert 400_000 < len(text) < 520_000
    assert 'When shall we three meet againe' in text and "BARNARDO.\nWho's there?" not in text   # Macbeth is a test play; Hamlet is not
    assert f'wrote {len(text):,} characters' in r.stderr

def test_corpus_to_stdout_and_errors(tmp_path):
    r = _run('corpus', '--name', 'pydoc', '--split', 'val')
    assert r.returncode == 0 and len(r.stdout) > 10_000
    r = _run('corpus', '--split', 'dev', '--out', str(tmp_path/'x.txt'))
    assert r.returncode == 2 and "split must be one of 'train', 'val', 'test', None, got 'dev'" in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'x.txt').exists()
    bad = tmp_path/'latin1.txt'; bad.write_bytes('caf\xe9'.encode('latin-1'))
    r = _run('corpus', '--name', str(bad))
    assert r.returncode == 2 and 'not valid UTF-8' in r.stderr
    r = _run('frobnicate')
    assert r.returncode == 2 and 'invalid choice' in r.stderr


# ---- bad input: every user error is one paragraph on stderr and an exit status, never a traceback ----
from llm_from_scratch.cli import main as cli_main

BAD = [  # (arguments, exit status, what the message says)
    (['pretrain', '--batch-size', '0'], 2, 'argument --batch-size: must be an integer >= 1, got 0'),
    (['pretrain', '--batch-size', '-1'], 2, 'must be an integer >= 1, got -1'),
    (['pretrain', '--batch-size', '1.5'], 2, "must be an integer >= 1, got '1.5'"),
    (['pretrain', '--batch-size', 'abc'], 2, "argument --batch-size: must be an integer >= 1, got 'abc'"),
    (['pretrain', '--max-steps', '0'], 2, 'argument --max-steps: must be an integer >= 1'),
    (['pretrain', '--max-steps', '-5'], 2, 'argument --max-steps'),
    (['pretrain', '--context-length', '0'], 2, 'argument --context-length'),
    (['pretrain', '--grad-accum', '0'], 2, 'argument --grad-accum'),
    (['pretrain', '--lr', '0'], 2, 'argument --lr: must be a finite number > 0, got 0.0'),
    (['pretrain', '--lr=-1e-3'], 2, 'argument --lr: must be a finite number > 0'),
    (['pretrain', '--lr', 'nan'], 2, 'got nan'),
    (['pretrain', '--lr', 'inf'], 2, 'got inf'),
    (['pretrain', '--lr', 'fast'], 2, "got 'fast'"),
    (['pretrain', '--warmup-steps', '-1'], 2, 'argument --warmup-steps: must be an integer >= 0'),
    (['pretrain', '--eval-interval', '-1'], 2, 'argument --eval-interval: must be an integer >= 0'),
    (['pretrain', '--eval-tokens', '0'], 2, 'argument --eval-tokens'),
    (['pretrain', '--seed', '-1'], 2, 'argument --seed: must be an integer in [0, 4294967295]'),
    (['pretrain', '--seed', '4294967296'], 2, 'argument --seed'),
    (['pretrain', '--seed', 'x'], 2, 'argument --seed'),
    (['pretrain', '--device', 'tpu'], 2, "argument --device: unknown device 'tpu'; expected one of cuda, mps, cpu"),
    (['pretrain', '--device', 'cuda:x'], 2, 'argument --device: unknown device'),
    (['pretrain', '--stop-at', '0'], 2, 'argument --stop-at: must be an integer >= 1'),
    (['pretrain', '--stop-at', '-1'], 2, 'argument --stop-at'),
    (['pretrain', '--preset', 'gpt5'], 2, "unknown preset 'gpt5'"),
    (['pretrain', '--set', 'layers'], 2, '--set expects NAME=VALUE'),
    (['pretrain', '--set', '=3'], 2, '--set expects NAME=VALUE'),
    (['pretrain', '--set', 'n_layers=3'], 2, 'n_layers'),
    (['pretrain', '--set', 'n_layer=0'], 2, 'n_layer must be an integer >= 1, got 0'),
    (['pretrain', '--set', 'dropout=1.5'], 2, 'dropout'),
    (['pretrain', '--set', 'n_embd=31'], 2, 'divisible'),
    (['pretrain', '--max-steps', '8', '--warmup-steps', '8'], 2, 'warmup_steps=8'),
    (['pretrain', '--resume'], 2, 'no checkpoint directory'),
    (['pretrain', '--corpus', '/nonexistent/corpus.txt'], 2, 'corpus file not found'),
    (['pretrain', '--corpus', 'gutenberg'], 2, "name must be one of 'shakespeare', 'pydoc'"),
    (['generate', '--checkpoint', '/nonexistent/ckpt'], 2, 'no checkpoint directory'),
    (['generate', '--checkpoint', 'x', '--max-new-tokens', '-1'], 2, 'argument --max-new-tokens: must be an integer >= 0'),
    (['generate', '--checkpoint', 'x', '--temperature', '-0.5'], 2, 'argument --temperature: must be a finite number >= 0'),
    (['generate', '--checkpoint', 'x', '--temperature', 'nan'], 2, 'argument --temperature'),
    (['generate', '--checkpoint', 'x', '--temperature', 'inf'], 2, 'argument --temperature'),
    (['generate', '--checkpoint', 'x', '--top-k', '0'], 2, 'argument --top-k: must be an integer >= 1'),
    (['generate', '--checkpoint', 'x', '--top-k', '-3'], 2, 'argument --top-k'),
    (['generate', '--checkpoint', 'x', '--seed', '-1'], 2, 'argument --seed'),
    (['generate', '--checkpoint', 'x', '--device', 'tpu'], 2, 'argument --device'),
    (['generate'], 2, 'the following arguments are required: --checkpoint'),
    (['generate', '--checkpoint', 'x', '--top-p', '0'], 2, 'argument --top-p: must be a finite number in (0, 1], got 0.0'),
    (['generate', '--checkpoint', 'x', '--top-p', '1.5'], 2, 'argument --top-p'),
    (['generate', '--checkpoint', 'x', '--top-p', 'nan'], 2, 'argument --top-p'),
    (['generate', '--checkpoint', 'x', '--min-p', '1.5'], 2, 'argument --min-p: must be a finite number in [0, 1]'),
    (['generate', '--checkpoint', 'x', '--min-p', '-0.1'], 2, 'argument --min-p'),
    (['generate', '--checkpoint', 'x', '--repetition-penalty', '0'], 2, 'argument --repetition-penalty: must be a finite number > 0'),
    (['generate', '--checkpoint', 'x', '--repetition-penalty', '-1'], 2, 'argument --repetition-penalty'),
    (['generate', '--checkpoint', 'x', '--repetition-penalty', 'inf'], 2, 'argument --repetition-penalty'),
    (['generate', '--checkpoint', 'x', '--batch-file', '/nonexistent/prompts.txt'], 2, 'no batch file at /nonexistent/prompts.txt'),
    (['generate', '--checkpoint', '/nonexistent/ckpt', '--prompt', 'x'], 2, 'no checkpoint directory at /nonexistent/ckpt'),
    (['corpus', '--split', 'dev'], 2, "split must be one of 'train', 'val', 'test', None, got 'dev'"),
    (['corpus', '--edition', 'quarto'], 2, "edition must be one of 'modern', 'folio', got 'quarto'"),
    (['corpus', '--name', 'gutenberg'], 2, "name must be one of 'shakespeare', 'pydoc'"),
    (['corpus', '--name', '/nonexistent/file.txt'], 2, 'corpus file not found'),
    (['corpus', '--name', 'pydoc', '--edition', 'folio'], 2, "applies only to the 'shakespeare' corpus"),
    (['demo', '--sample-tokens', '-1'], 2, 'argument --sample-tokens'),
    (['demo', '--batch-size', '0'], 2, 'argument --batch-size'),
    (['demo', '--preset', 'gpt5'], 2, "unknown preset 'gpt5'"),
    ([], 2, 'the following arguments are required: COMMAND'),
    (['frobnicate'], 2, "invalid choice: 'frobnicate'"),
    (['pretrain', '--no-such-flag'], 2, 'unrecognized arguments: --no-such-flag'),
]


@pytest.mark.parametrize('argv,status,message', BAD, ids=[' '.join(a) or '(nothing)' for a, _, _ in BAD])
def test_bad_input_is_a_clear_error(argv, status, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # jobs write relative to the working directory: keep it empty
    assert cli_main(argv) == status
    err = capsys.readouterr().err
    assert message in err, err
    assert 'Traceback' not in err and err.strip().count('\n\n') == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ['pretrain_out'], ['demo_out']), 'a failed job left files'


def test_bad_checkpoint_and_prompt(tmp_path, capsys):
    (tmp_path/'run').mkdir(); (tmp_path/'run'/'results.json').write_text('{}')
    assert cli_main(['generate', '--checkpoint', str(tmp_path/'run')]) == 2     # a directory that is not a checkpoint
    err = capsys.readouterr().err
    assert 'checkpoint' in err and 'Traceback' not in err, err


def test_unavailable_device_is_a_usage_error_without_traceback(tmp_path):
    import torch
    if torch.cuda.is_available(): pytest.skip('this machine has a CUDA device')
    r = _run('pretrain', '--device', 'cuda', '--out', str(tmp_path/'x'))
    assert r.returncode == 2 and "device 'cuda' was requested but is not available here; available: cpu" in r.stderr
    assert 'Traceback' not in r.stderr and not (tmp_path/'x').exists()


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "A 20-step cpu-tiny checkpoint, and a small random GPT with the course's BPE tokenizer exported as a Hugging Face GPT-2 directory."
    import torch
    from llm_from_scratch.tokenization import corpus_tokenizer
    from llm_from_scratch.transformer import GPT, GPTConfig
    from llm_from_scratch.generation import to_hf_gpt2
    d = tmp_path_factory.mktemp('gen')
    assert cli_main(['pretrain', '--out', str(d/'run'), '--max-steps', '20', '--warmup-steps', '2', '--eval-interval', '10',
                     '--eval-tokens', '2048', '--no-progress']) == 0
    tok = corpus_tokenizer('bpe'); torch.manual_seed(0)
    to_hf_gpt2(GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32)), d/'hf', tok)
    return d


def test_generate_samplers_stream_batch_and_hf(tiny_run, capsys):
    ck = str(tiny_run/'run'/'checkpoint')
    capsys.readouterr()
    args = ['generate', '--checkpoint', ck, '--prompt', 'KING.', '--max-new-tokens', '30', '--seed', '3', '--top-p', '0.9',
            '--top-k', '20', '--min-p', '0.01', '--repetition-penalty', '1.1', '--temperature', '0.9']
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith('KING.') and len(out) == 5 + 30 + 1
    assert cli_main(args) == 0 and capsys.readouterr().out == out                    # same seed, same text
    assert cli_main(args + ['--stream']) == 0 and capsys.readouterr().out == out      # streamed: the same pieces
    (tiny_run/'prompts.txt').write_text('ROMEO.\n\nJULIET.\n')
    assert cli_main(['generate', '--checkpoint', ck, '--batch-file', str(tiny_run/'prompts.txt'), '--max-new-tokens', '12',
                     '--temperature', '0']) == 0
    batch = capsys.readouterr().out
    alone = []
    for prompt in ('ROMEO.', 'JULIET.'):                                              # each row = that prompt alone (greedy)
        assert cli_main(['generate', '--checkpoint', ck, '--prompt', prompt, '--max-new-tokens', '12', '--temperature', '0']) == 0
        alone.append(capsys.readouterr().out[:-1])
    assert batch == '\n\n'.join(alone) + '\n' and all(len(a) == len(p) + 12 for a, p in zip(alone, ('ROMEO.', 'JULIET.'))), (batch, alone)
    assert cli_main(['generate', '--checkpoint', ck, '--batch-file', str(tiny_run/'prompts.txt'), '--stream']) == 2
    assert 'does not combine with batch_file' in capsys.readouterr().err
    # a Hugging Face GPT-2 directory works as --checkpoint, and transformers reads the same directory
    assert cli_main(['generate', '--checkpoint', str(tiny_run/'hf'), '--prompt', 'To be, or not', '--max-new-tokens', '8',
                     '--temperature', '0']) == 0
    assert capsys.readouterr().out.startswith('To be, or not')
    from transformers import GPT2LMHeadModel
    assert GPT2LMHeadModel.from_pretrained(tiny_run/'hf').config.n_layer == 2
