"""The documentation site, every page opened in a real browser (headless Chromium through ChromeDriver).

The offline preview (`tools/docs_site.py`, what `make docs` builds where Quarto is missing) is built from a copy of the tree
and served on 127.0.0.1. Each page must load without console errors, show every image, resolve every internal link to
an existing page and anchor, typeset all its math (no raw `$...$` or `\\frac` left in the text), show the source of each
`#| exports` function of its module and a `show_doc` block for each public function and class. A full-page screenshot
of each page is saved under the test's temporary directory. Skipped where Chromium or ChromeDriver is missing
(`make test-docs` installs them on Debian).
"""
from __future__ import annotations
import base64, functools, http.server, json, re, shutil, subprocess, sys, threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import docs_site as site_tool     # tools/docs_site.py

CHROMIUM = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(n)), None)
DRIVER = shutil.which('chromedriver')
try: import selenium  # noqa: F401
except ImportError: selenium = None
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER and selenium),
                                reason='needs Chromium, ChromeDriver and selenium: `make test-docs` installs them '
                                       '(Debian: apt-get install chromium chromium-driver)')
NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))
PAGES = [site_tool.page_name(p) for p in NOTEBOOKS]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tree = tmp_path_factory.mktemp('tree')
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT/name, tree/name)
    for name in ('nbs', 'llm_from_scratch'):
        shutil.copytree(ROOT/name, tree/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc', '*.nbtext'))
    site_tool.proc(tree)
    out = tmp_path_factory.mktemp('site')
    site_tool.build(tree/'_proc', out)
    handler = functools.partial(QuietHandler, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield out, f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', f'--user-data-dir={tmp_path_factory.mktemp("chromium")}'):
        opts.add_argument(flag)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_window_size(1280, 900)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@functools.lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding='utf-8')))


def _module_names(nb: Path) -> tuple[str | None, set[str], set[str]]:
    "The notebook's module, the functions/classes in its `#| exports` cells, and the public functions and classes it defines."
    import importlib, inspect
    cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
    srcs = [''.join(c['source']) for c in cells if c['cell_type'] == 'code']
    mod = next((m.group(1) for s in srcs for m in [re.search(r'#\|\s*default_exp\s+(\S+)', s)] if m), None)
    if mod is None: return None, set(), set()
    shown = {n for s in srcs if re.search(r'^#\|\s*exports\b', s, re.M) for n in re.findall(r'^(?:def|class)\s+([A-Za-z]\w*)', s, re.M)}
    m = importlib.import_module(f'llm_from_scratch.{mod}')
    from llm_from_scratch._modidx import d as modidx
    syms = modidx['syms'].get(m.__name__, {})                    # a module can be written by several notebooks (tasks: 07 and 09)
    here = {k.rsplit('.', 1)[-1] for k, (doc, _) in syms.items() if doc.split('#')[0] == site_tool.page_name(nb)}
    public = {n for n in getattr(m, '__all__', []) if (inspect.isfunction(getattr(m, n)) or inspect.isclass(getattr(m, n)))
              and getattr(getattr(m, n), '__module__', '') == m.__name__ and n in here}
    return mod, shown, public


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_page_in_a_browser(site, browser, nb, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait
    out, base = site
    page = site_tool.page_name(nb)
    browser.get_log('browser')                                   # drop what earlier pages logged
    browser.get(base + page)
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.body.getAttribute('data-math') === 'done'"))
    # no console errors
    errors = [l['message'] for l in browser.get_log('browser') if l['level'] == 'SEVERE']
    assert not errors, f'{page}: console errors: {errors}'
    # every image loaded
    imgs = browser.execute_script("return [...document.images].map(i => [i.alt.slice(0, 40), i.complete, i.naturalWidth])")
    assert all(ok and w > 0 for _, ok, w in imgs), f'{page}: images that did not load: {[a for a, ok, w in imgs if not (ok and w > 0)]}'
    # every internal link resolves to a page and an anchor
    hrefs = browser.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
    broken = []
    for href in hrefs:
        if re.match(r'^[a-z][a-z0-9+.-]*:|^//', href): continue        # external: not checked offline
        target, _, anchor = href.partition('#')
        path = out/(target or page)
        if not path.is_file(): broken.append(href); continue
        if anchor and anchor not in _ids(path): broken.append(href)
    assert not broken, f'{page}: links to missing pages or anchors: {sorted(set(broken))[:20]}'
    # math is typeset: no TeX left in the visible text (code blocks aside)
    text = browser.execute_script("""const b = document.body.cloneNode(true);
        b.querySelectorAll('pre, code, script, .highlight').forEach(e => e.remove()); return b.innerText;""")
    raw = re.findall(r'\$[^$\n]{1,80}\$|\\(?:frac|sqrt|cdot|mathrm|operatorname|sum_|begin\{)', text)
    assert not raw, f'{page}: untypeset math: {raw[:5]}'
    # teaching code and the API reference
    mod, shown, public = _module_names(nb)
    if mod:
        code = browser.execute_script("return [...document.querySelectorAll('.cell-input')].map(e => e.innerText).join('\\n')")
        missing_src = sorted(n for n in shown if not re.search(rf'(?:def|class)\s+{n}\b', code))
        assert not missing_src, f'{page}: the source of these #| exports names is not on the page: {missing_src}'
        ids = _ids(out/page)
        missing_doc = sorted(n for n in public if n.lower() not in ids)
        assert not missing_doc, f'{page}: no show_doc block for: {missing_doc}'
    # a full-page screenshot
    size = browser.execute_script('return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]')
    shot = browser.execute_cdp_cmd('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True,
                                                              'clip': {'x': 0, 'y': 0, 'width': size[0], 'height': min(size[1], 16000), 'scale': 0.5}})
    (tmp_path/page.replace('.html', '.png')).write_bytes(base64.b64decode(shot['data']))


def test_every_notebook_has_a_page_and_the_sidebar_lists_them(site):
    out, _ = site
    assert sorted(p.name for p in out.glob('*.html')) == sorted(PAGES)
    import yaml
    sidebar = yaml.safe_load((ROOT/'nbs'/'sidebar.yml').read_text())
    def flat(entries):
        for e in entries:
            if isinstance(e, str): yield e
            else: yield from flat(e.get('contents', []))
    assert sorted(flat(sidebar['website']['sidebar']['contents'])) == sorted(p.name for p in NOTEBOOKS)
