"""Pretraining at the process level: the same `train` under torchrun with DistributedDataParallel, the `pretrain` and
`generate` console commands, and resuming an interrupted command exactly.
Needs the package installed (`pip install -e .`, which `make test` does) so that the `llm-from-scratch` entry point exists."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch
from safetensors.torch import load_file

BIN = Path(sys.executable).parent
SCRIPT, TORCHRUN = BIN/'llm-from-scratch', BIN/'torchrun'
# cpu-tiny (2 layers, 64 dims, no biases), 8 steps, a cheap evaluation
TINY = ['--preset', 'cpu-tiny', '--max-steps', '8', '--warmup-steps', '2', '--eval-interval', '4', '--eval-tokens', '4096', '--no-progress']


def _run(*args, launcher=(), timeout=600):
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}          # one thread per process: no oversubscription on small CI machines
    return subprocess.run([*map(str, launcher), str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def _history(out):
    return json.loads((Path(out)/'checkpoint'/'checkpoint.json').read_text())['extra']['history']


def test_ddp_two_processes_match_one(tmp_path):
    "2 processes x batch 4 (gloo, CPU) end with the parameters of 1 process x batch 8: the same global batches, averaged gradients."
    if not TORCHRUN.exists(): pytest.skip('torchrun is not installed')
    two = _run('pretrain', *TINY, '--batch-size', '4', '--out', tmp_path/'two',
               launcher=(TORCHRUN, '--standalone', '--nproc_per_node=2'))
    assert two.returncode == 0, two.stderr[-3000:]
    one = _run('pretrain', *TINY, '--batch-size', '8', '--out', tmp_path/'one')
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = load_file(tmp_path/'one'/'checkpoint'/'model.safetensors'), load_file(tmp_path/'two'/'checkpoint'/'model.safetensors')
    assert sorted(a) == sorted(b)
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=lambda m: f'{k}: {m}')
    # the logged losses are the global batch's mean in both runs, and the (sharded, all-reduced) evaluation agrees
    ha, hb = _history(tmp_path/'one'), _history(tmp_path/'two')
    torch.testing.assert_close(hb['train_loss'], ha['train_loss'], rtol=1e-6, atol=0)
    torch.testing.assert_close(hb['val_loss'], ha['val_loss'], rtol=1e-6, atol=0)
    assert ha['step'] == list(range(8)) and ha['eval_step'] == [0, 4, 8]
    assert two.stdout.count('validation (all') == 1            # only rank 0 reports


def test_pretrain_then_generate(tmp_path):
    r = _run('pretrain', *TINY, '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path/'run').iterdir()) == ['checkpoint', 'loss.png', 'results.json']
    assert sorted(p.name for p in (tmp_path/'run'/'checkpoint').iterdir()) == ['checkpoint.json', 'model.safetensors', 'state.pt', 'tokenizer.json']
    assert (tmp_path/'run'/'loss.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    res = json.loads((tmp_path/'run'/'results.json').read_text())
    assert res['steps'] == 8 and 0 < res['val_loss'] < 4.5 and f"perplexity {res['val_perplexity']:.2f}" in r.stdout
    g = ['generate', '--checkpoint', tmp_path/'run'/'checkpoint', '--prompt', 'ROMEO.', '--max-new-tokens', '40', '--seed', '3']
    r1, r2 = _run(*g), _run(*g)
    assert r1.returncode == 0, r1.stderr
    assert r1.stdout.startswith('ROMEO.') and len(r1.stdout) == len('ROMEO.') + 40 + 1
    assert r1.stdout == r2.stdout                                 # same seed, same text


def test_resume_reproduces_uninterrupted_run(tmp_path):
    "A command stopped at step 4 and resumed from its checkpoint logs exactly the losses of an uninterrupted run."
    full = _run('pretrain', *TINY, '--set', 'dropout=0.1', '--out', tmp_path/'full')
    part = _run('pretrain', *TINY, '--set', 'dropout=0.1', '--stop-at', '4', '--out', tmp_path/'part')
    assert full.returncode == 0 and part.returncode == 0, (full.stderr[-2000:], part.stderr[-2000:])
    assert _history(tmp_path/'part')['step'] == [0, 1, 2, 3]
    rest = _run('pretrain', '--resume', '--no-progress', '--out', tmp_path/'part')
    assert rest.returncode == 0, rest.stderr[-3000:]
    hf, hr = _history(tmp_path/'full'), _history(tmp_path/'part')
    assert hr['train_loss'] == hf['train_loss'] and hr['val_loss'] == hf['val_loss']      # exact, on the CPU
    assert json.loads((tmp_path/'part'/'results.json').read_text())['stopped'] == 'max_steps'
    a, b = load_file(tmp_path/'full'/'checkpoint'/'model.safetensors'), load_file(tmp_path/'part'/'checkpoint'/'model.safetensors')
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_errors_are_one_line(tmp_path):
    r = _run('pretrain', '--preset', 'gpt5', '--out', tmp_path/'x')
    assert r.returncode == 2 and "unknown preset 'gpt5'; available presets: cpu-tiny" in r.stderr and 'Traceback' not in r.stderr
    r = _run('pretrain', *TINY, '--warmup-steps', '8', '--out', tmp_path/'x')
    assert r.returncode == 2 and 'warmup_steps=8 must be in [0, total_steps=8)' in r.stderr
    small = tmp_path/'small.txt'; small.write_text('To be, or not to be, that is the question.\n' * 20)   # 20 lines: 16 (688 characters) for training
    r = _run('pretrain', *TINY, '--corpus', small, '--context-length', '800', '--out', tmp_path/'x')
    assert r.returncode == 2 and 'context_length=800 must be smaller than the training data (688 tokens)' in r.stderr, r.stderr
    r = _run('pretrain', '--resume', '--out', tmp_path/'nothing')
    assert r.returncode == 2 and 'no checkpoint directory' in r.stderr
    # a damaged checkpoint: the error names the file
    assert _run('pretrain', *TINY, '--max-steps', '4', '--out', tmp_path/'ok').returncode == 0
    w = tmp_path/'ok'/'checkpoint'/'model.safetensors'
    w.write_bytes(w.read_bytes()[:-10])
    r = _run('generate', '--checkpoint', tmp_path/'ok'/'checkpoint')
    assert r.returncode == 2 and 'model.safetensors is truncated or corrupt' in r.stderr and 'Traceback' not in r.stderr


@pytest.mark.parametrize('how', ['SIGINT', 'SIGKILL'])
def test_interrupted_job_resumes_from_its_last_checkpoint(tmp_path, how):
    "A job stopped by Ctrl-C (SIGINT: a message, status 130) or killed without warning (SIGKILL) keeps its last periodic checkpoint; resuming it ends exactly as an uninterrupted run."
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    args = ['pretrain', '--preset', 'cpu-tiny', '--max-steps', '200', '--warmup-steps', '2', '--eval-interval', '5',
            '--eval-tokens', '2048', '--no-progress']
    full = _run(*args, '--out', tmp_path/'full')
    assert full.returncode == 0, full.stderr[-3000:]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    # SIGINT back to its default in the child: a shell's background job (as on some CI runners) inherits it ignored
    proc = subprocess.Popen([str(SCRIPT), *args, '--out', str(tmp_path/'stopped')], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    manifest, deadline = tmp_path/'stopped'/'checkpoint'/'checkpoint.json', time.time() + 300
    while not manifest.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
    proc.send_signal(getattr(signal, how))
    _, err = proc.communicate(timeout=120)
    step = json.loads(manifest.read_text())['step']                  # a complete checkpoint, whatever the moment of the stop
    assert step % 5 == 0 and 0 < step < 200                         # stopped in the middle (the first checkpoint is at step 5)
    if how == 'SIGINT':
        assert proc.returncode == 130 and f'the checkpoint of step {step} is in' in err and 'Traceback' not in err, err
        assert f'continue with `llm-from-scratch pretrain --resume --out {tmp_path/"stopped"}`' in err, err
    rest = _run('pretrain', '--resume', '--no-progress', '--out', tmp_path/'stopped')
    assert rest.returncode == 0, rest.stderr[-3000:]
    hf, hr = _history(tmp_path/'full'), _history(tmp_path/'stopped')
    assert hr['step'] == list(range(200)) and hr['train_loss'] == hf['train_loss'] and hr['val_loss'] == hf['val_loss']
    assert [p.name for p in (tmp_path/'stopped').iterdir() if '.tmp' in p.name] == []   # no temporary leftovers


def test_compiled_training_matches_eager(tmp_path):
    "train(compile=True) runs the model through torch.compile: the same losses as eager mode, and a checkpoint of the plain model."
    import shutil
    if not (shutil.which('cc') or shutil.which('gcc')): pytest.skip('torch.compile on the CPU needs a C compiler')
    from safetensors.torch import load_file
    from llm_from_scratch.core import set_seed
    from llm_from_scratch.pretraining import TrainConfig, corpus_tokenizer, token_ids, train
    from llm_from_scratch.transformer import GPT, GPTConfig
    tok = corpus_tokenizer('char'); ids = token_ids('train', tok)
    def run(compile):
        set_seed(0)
        model = GPT(GPTConfig(block_size=32, vocab_size=tok.vocab_size, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=False))
        cfg = TrainConfig(max_steps=5, warmup_steps=1, batch_size=4, context_length=32, eval_interval=0, progress=False,
                          log=False, compile=compile, checkpoint_dir=str(tmp_path/f'compile-{compile}'))
        return model, train(model, ids, None, cfg, tok)
    (eager, he), (compiled, hc) = run(False), run(True)
    torch.testing.assert_close(hc['train_loss'], he['train_loss'], rtol=1e-5, atol=0)
    a, b = load_file(tmp_path/'compile-False'/'model.safetensors'), load_file(tmp_path/'compile-True'/'model.safetensors')
    assert sorted(a) == sorted(b)                                    # no '_orig_mod.' prefixes in the compiled run's file
    for k in a: torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
