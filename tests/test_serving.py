"""`llm-from-scratch serve` run as a user runs it, in a subprocess: it serves a checkpoint over the OpenAI API on
127.0.0.1, and SIGTERM in the middle of 32 streamed requests lets every one of them finish before it exits (uvicorn then ends
the process with the signal itself, status 143 in a shell).
Needs the package installed (`pip install -e '.[dev]'`) so that the entry point exists."""
import asyncio, json, os, signal, socket, subprocess, sys, time
from pathlib import Path
import pytest

httpx = pytest.importorskip('httpx')
pytest.importorskip('fastapi'); pytest.importorskip('uvicorn')
SCRIPT = Path(sys.executable).parent/'llm-from-scratch'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    "A small random course checkpoint (character tokenizer, context 256) written with chapter 08's save_checkpoint."
    import torch
    from llm_from_scratch.core import set_seed
    from llm_from_scratch.transformer import GPT, GPTConfig
    from llm_from_scratch.tokenization import CharTokenizer
    from llm_from_scratch.pretraining import save_checkpoint
    set_seed(0)
    tok = CharTokenizer.from_text('abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:!?\n')
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=2, n_head=2, n_embd=32))
    return save_checkpoint(tmp_path_factory.mktemp('ck')/'checkpoint', model, tokenizer=tok)


def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _start(*args):
    if not SCRIPT.exists(): pytest.skip(f'{SCRIPT} is not installed (run `pip install -e .`)')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.Popen([str(SCRIPT), 'serve', *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _ready(url, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(url + '/health', timeout=2).status_code == 200: return
        except httpx.TransportError: pass
        time.sleep(0.1)
    raise TimeoutError('the server did not become ready')


async def _streams(url, n, max_tokens):
    "n streamed completions at once; (each one's status, whether it ended with [DONE], its text)."
    async with httpx.AsyncClient(base_url=url, timeout=60) as h:
        async def one(k):
            body = {'model': 'tiny', 'prompt': 'KING.\n', 'max_tokens': max_tokens, 'temperature': 0.8, 'seed': k, 'stream': True}
            async with h.stream('POST', '/v1/completions', json=body) as r:
                lines = [l async for l in r.aiter_lines() if l]
            text = ''.join(json.loads(l[6:])['choices'][0]['text'] for l in lines[:-1])
            return r.status_code, lines[-1] == 'data: [DONE]', text
        return await asyncio.gather(*(one(k) for k in range(n)))


def test_serve_answers_then_stops_gracefully_on_sigterm(checkpoint):
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    proc = _start('--checkpoint', f'tiny={checkpoint}', '--port', str(port), '--max-batch', '32')
    try:
        _ready(url, proc)
        r = httpx.get(url + '/v1/models')
        assert r.status_code == 200 and [m['id'] for m in r.json()['data']] == ['tiny']
        r = httpx.post(url + '/v1/completions', json={'model': 'tiny', 'prompt': 'KING.\n', 'max_tokens': 10, 'temperature': 0})
        assert r.status_code == 200 and r.json()['usage']['completion_tokens'] == 10
        async def run():
            task = asyncio.ensure_future(_streams(url, 32, 240))
            await asyncio.sleep(0.3)                                 # the 32 streams are under way
            proc.send_signal(signal.SIGTERM)
            return await task
        results = asyncio.run(run())
        assert all(status == 200 and done for status, done, _ in results), results[:3]
        assert all(len(text) == 240 for _, _, text in results)      # every stream ran to its end, nothing cut
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)        # uvicorn re-raises the signal once it has shut down
        assert 'Traceback' not in proc.stderr.read()
        with pytest.raises(httpx.TransportError): httpx.get(url + '/health', timeout=2)
    finally:
        if proc.poll() is None: proc.kill()


def test_serve_with_key_and_refusals(checkpoint):
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    proc = _start('--checkpoint', str(checkpoint), '--port', str(port), '--api-key', 'k3y')
    try:
        _ready(url, proc)
        body = {'model': checkpoint.parent.name, 'prompt': 'A', 'max_tokens': 3}
        assert httpx.post(url + '/v1/completions', json=body).status_code == 401
        assert httpx.post(url + '/v1/completions', json=body, headers={'Authorization': 'Bearer k3y'}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM); assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    bad = _start('--checkpoint', str(checkpoint), '--host', '0.0.0.0')
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and 'can be reached from other machines: give --api-key KEY' in err and 'Traceback' not in err


def test_serve_a_chat_adapter_beside_its_base():
    "`serve --checkpoint base=DIR --adapter chat=DIR`: both names listed; the adapter's reply is chapter 11's chat model's."
    from llm_from_scratch.chat import pretrained_chat, load_chat, apply_chat_template, END
    from llm_from_scratch.generation import complete
    chat_dir = pretrained_chat(quick=True)
    source = json.loads((chat_dir/'results.json').read_text())['source']
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    proc = _start('--checkpoint', f'base={source}', '--adapter', f"chat={chat_dir/'adapter'}", '--port', str(port))
    try:
        _ready(url, proc)
        assert [m['id'] for m in httpx.get(url + '/v1/models').json()['data']] == ['base', 'chat']
        msgs = [{'role': 'system', 'content': 'You are HAMLET, speaking to HORATIO.'}, {'role': 'user', 'content': 'Hail to your lordship!'}]
        r = httpx.post(url + '/v1/chat/completions', json={'model': 'chat', 'messages': msgs, 'max_tokens': 24, 'temperature': 0}, timeout=60)
        assert r.status_code == 200, r.text
        model, tok = load_chat(chat_dir/'checkpoint')
        want = complete(model, tok, apply_chat_template(msgs, True), 24, eos_id=tok.special_tokens[END], temperature=0.0)
        assert r.json()['choices'][0]['message']['content'] == want
        bad = httpx.post(url + '/v1/chat/completions', json={'model': 'chat', 'messages': [{'role': 'user', 'content': 'x<|end|>'}]})
        assert bad.status_code == 400 and 'special token' in bad.json()['error']['message']
    finally:
        proc.terminate(); proc.wait(timeout=60)
