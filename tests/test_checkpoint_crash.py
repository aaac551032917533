"""Fault injection: replacing a checkpoint never passes through a moment without a loadable one.

A child process saves checkpoints of a small GPT in a loop — every save replaces the same directory, and step `s`
writes weights that are all equal to `s` — and is killed with SIGKILL at a random moment. After each kill a checkpoint
must load, hold the weights of exactly one saved step (never a mixture), be at least as new as the last save the child
reported complete, and resuming from it must work (load model and optimiser, take a step, save, load again). Then the
second rename of a replacement is made to fail: the previous checkpoint survives.
"""
import os, random, signal, time
from pathlib import Path

import pytest
import torch

from llm_from_scratch.core import get_device
from llm_from_scratch.transformer import GPT, GPTConfig
from llm_from_scratch.pretraining import save_checkpoint, load_checkpoint

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork (POSIX)')
TRIALS, TIME_LIMIT_S = 40, 90


def _model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))


def _fill(model, value):
    with torch.no_grad():
        for p in model.parameters(): p.fill_(value)


def _saver(path: Path, report_fd: int):
    "The child: save step 0, 1, 2, ... forever, writing each completed step number to `report_fd`."
    model = _model(); opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = 0
    while True:
        _fill(model, float(step))
        save_checkpoint(path, model, opt, step=step)
        os.write(report_fd, f'{step}\n'.encode())
        step += 1


def _one_trial(path: Path, rng: random.Random) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                                  # the child never returns
        try:
            os.close(r); torch.set_num_threads(1); _saver(path, w)
        finally: os._exit(1)
    os.close(w)
    reported, buf = [], b''
    while not reported:                                           # wait for the first complete save
        buf += os.read(r, 64); reported = [int(x) for x in buf.split(b'\n')[:-1]]
    time.sleep(rng.uniform(0, 0.15))                              # then kill it at a random moment
    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
    os.set_blocking(r, False)
    try: buf += os.read(r, 1 << 16)
    except BlockingIOError: pass
    os.close(r)
    reported = [int(x) for x in buf.split(b'\n')[:-1]]
    leftovers = sorted(p.name.split('-')[0] for p in path.parent.iterdir() if p.name != path.name)
    ck = load_checkpoint(path)                                    # must always work
    values = {p.unique().tolist()[0] if p.unique().numel() == 1 else None for p in ck.model.parameters()}
    assert len(values) == 1 and None not in values, f'a mixture of steps in one checkpoint: {values}'
    (value,) = values
    assert value == ck.step, (value, ck.step)
    assert ck.step in (reported[-1], reported[-1] + 1), (ck.step, reported[-1])   # the last complete save, or the one after it
    # resuming works: the checkpoint restores into a model and an optimiser, trains a step, and saves again
    model = _model(); opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ck = load_checkpoint(path, model, opt)
    model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))[1].backward()
    opt.step()
    save_checkpoint(path, model, opt, step=ck.step + 1)
    assert load_checkpoint(path).step == ck.step + 1
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], 'leftovers after a completed save'
    return dict(step=ck.step, leftovers=leftovers)


def test_sigkill_during_checkpoint_replacement_never_loses_the_checkpoint(tmp_path):
    torch.set_num_threads(1)
    rng, t0, results = random.Random(0), time.time(), []
    for i in range(TRIALS):
        if time.time() - t0 > TIME_LIMIT_S: break
        d = tmp_path/f'trial{i}'; d.mkdir()
        results.append(_one_trial(d/'checkpoint', rng))
    assert len(results) >= 20, f'only {len(results)} trials ran in {TIME_LIMIT_S} s'
    kinds = {name for r in results for name in r['leftovers']}
    print(f"{len(results)} SIGKILL trials; newest saved step reached {max(r['step'] for r in results)}; "
          f"leftovers seen after kills: {sorted(kinds) or 'none'}")


def test_failed_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _model(); _fill(model, 1.0)
    save_checkpoint(tmp_path/'ck', model, step=1)
    real = os.replace
    def failing(src, dst):
        if Path(src).name.startswith('.ck.tmp-'): raise OSError(28, 'No space left on device')
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', failing)
    _fill(model, 2.0)
    with pytest.raises(OSError, match='No space left'): save_checkpoint(tmp_path/'ck', model, step=2)
    monkeypatch.setattr(os, 'replace', real)
    ck = load_checkpoint(tmp_path/'ck')
    assert ck.step == 1 and all(bool((p == 1.0).all()) for p in ck.model.parameters())
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ck']


def test_refuses_to_replace_a_directory_that_is_not_a_checkpoint(tmp_path):
    run = tmp_path/'run'; (run/'checkpoint').mkdir(parents=True); (run/'results.json').write_text('{}')
    with pytest.raises((ValueError, FileExistsError), match='not a checkpoint'):
        save_checkpoint(run, _model(), step=0)
    assert (run/'results.json').read_text() == '{}' and (run/'checkpoint').is_dir()
