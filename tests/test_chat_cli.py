"""`llm-from-scratch chat` as a user runs it: in a real terminal (a pseudo-terminal, through `pexpect`).
Each typed line gets a reply streamed after `bot> `, the same text as chapter 11's `chat_loop` run in-process with the
same seed; `/reset` starts over; Ctrl-D leaves cleanly with exit status 0; a base checkpoint with `--adapter` chats too."""
import os, re, sys
from pathlib import Path
import pytest

pexpect = pytest.importorskip('pexpect')
SCRIPT = Path(sys.executable).parent/'llm-from-scratch'
ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')                 # terminal control codes readline may write
LINES = ['Good morrow, my lord.', 'What news from the court?']


@pytest.fixture(scope='module')
def chat_dir():
    from llm_from_scratch.chat import pretrained_chat
    return pretrained_chat(quick=True)                          # the 2-layer stand-in after 20 steps of LoRA-SFT (cached)


def reference(checkpoint, adapter=None) -> list[str]:
    "The assistant's turns chat_loop keeps for LINES in-process, with the command's settings and seed 0."
    import torch
    from llm_from_scratch.chat import load_chat, chat_loop
    model, tok = load_chat(checkpoint, adapter)
    lines = iter(LINES)
    def read(prompt):
        line = next(lines, None)
        if line is None: raise EOFError
        return line
    turns = chat_loop(model, tok, read=read, write=lambda s: None, max_new_tokens=16, temperature=0.8,
                      generator=torch.Generator().manual_seed(0))
    return [m['content'] for m in turns if m['role'] == 'assistant']


def terminal_replies(*args) -> list[str]:
    "Run the command under a pseudo-terminal, type LINES, /reset and Ctrl-D; the replies as the terminal showed them."
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    child = pexpect.spawn(str(SCRIPT), ['chat', *args, '--seed', '0', '--max-tokens', '16'], encoding='utf-8', timeout=180,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', 'TERM': 'dumb'}, dimensions=(40, 300))
    child.expect_exact('Ctrl-D leaves')
    child.expect_exact('you> ')
    replies = []
    for line in LINES:
        child.sendline(line)
        child.expect_exact('bot> ')
        child.expect_exact('you> ')                               # the whole reply, then the prompt again
        replies.append(ANSI.sub('', child.before).replace('\r\n', '\n').strip())
    child.sendline('/reset')
    child.expect_exact('(a new conversation)')
    child.expect_exact('you> ')
    child.sendeof()                                               # Ctrl-D at the prompt
    child.expect_exact('bye')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
    return replies


def test_chat_in_a_terminal(chat_dir):
    assert terminal_replies('--checkpoint', str(chat_dir/'checkpoint')) == reference(chat_dir/'checkpoint')


def test_chat_with_an_adapter_on_its_base(chat_dir):
    import json
    base = json.loads((chat_dir/'results.json').read_text())['source']
    got = terminal_replies('--checkpoint', base, '--adapter', str(chat_dir/'adapter'))
    assert got == reference(base, chat_dir/'adapter')
