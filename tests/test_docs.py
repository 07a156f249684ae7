"""The rendered docs site, as a reader gets it.

`scripts/docs.sh` builds it offline (nbdev's notebook processing, then smalldocs; no Quarto) into a temporary
folder once; the tests read the HTML it wrote against the notebooks it came from. When Chromium is installed
(`apt-get install chromium`), the site is also served on 127.0.0.1 and loaded in headless Chromium.
"""
import base64, configparser, io, json, os, re, shutil, subprocess, sys, tempfile, threading
from functools import partial
from html import unescape
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote
import pytest
from PIL import Image

pytest.importorskip('smalldocs', reason='the docs need the dev requirements: pip install -e ".[dev]"')
pytest.importorskip('nbdev')

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
_ini = configparser.ConfigParser(); _ini.read(ROOT / 'settings.ini')
SETTINGS = _ini['DEFAULT']
NOTEBOOKS = sorted((p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.'))),
                   key=lambda p: (p.stem != 'index', p.name))     # the order of the sidebar: home page, then chapters
CHAPTERS = [p for p in NOTEBOOKS if p.stem != 'index']

def page_of(nb: Path) -> str:
    "The page nbdev's site gives a notebook: `01_data.ipynb` -> `data.html`."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.name.lower()).removesuffix('.ipynb') + '.html'

# ---------------------------------------------------------------- reading notebooks

def cells(nb: Path) -> list[dict]: return json.loads(nb.read_text(encoding='utf-8'))['cells']
def source(c: dict) -> str: return ''.join(c.get('source', ''))

def directives(c: dict) -> dict:
    "The leading `#| name args` lines of a code cell, as {name: args}."
    out = {}
    for line in source(c).splitlines():
        if not line.startswith('#|'): break
        name, _, args = line[2:].strip().partition(' ')
        out[name.rstrip(':')] = args.strip()
    return out

def hidden(c: dict) -> bool:
    d = directives(c)
    return bool({'hide', 'export', 'exporti', 'default_exp'} & set(d)) or d.get('include') == 'false'

def title(nb: Path) -> str:
    first = next(c for c in cells(nb) if c['cell_type'] == 'markdown')
    return re.match(r'#\s+(.+)', source(first)).group(1).strip()

def code_lines(c: dict) -> set[str]:
    return {l.strip() for l in source(c).splitlines() if l.strip() and not l.startswith('#|')}

def private_lines(nb: Path, which) -> set[str]:
    "Code lines of the cells `which` picks that no visible cell or markdown of the notebook also holds."
    cs = cells(nb)
    visible = set().union(*(code_lines(c) for c in cs if c['cell_type'] == 'code' and not hidden(c)),
                          *({l.strip() for l in source(c).splitlines()} for c in cs if c['cell_type'] == 'markdown'))
    return set().union(*(code_lines(c) for c in cs if c['cell_type'] == 'code' and which(c))) - visible

IMAGE_MIMES = ('image/png', 'image/jpeg', 'image/gif', 'image/svg+xml')
def n_figures(nb: Path) -> int:
    "Pictures saved in the notebook's visible cells."
    return sum(any(m in o.get('data', {}) for m in IMAGE_MIMES)
               for c in cells(nb) if c['cell_type'] == 'code' and not hidden(c) and directives(c).get('output') != 'false'
               for o in c.get('outputs', []))

# ---------------------------------------------------------------- reading pages

class Page(HTMLParser):
    "What a page holds: ids, links, pictures, headings, sidebar, code text, all text."
    def __init__(self, path: Path):
        super().__init__(); self.path, self.html = path, path.read_text(encoding='utf-8')
        self.ids, self.refs, self.imgs, self.headings, self.sidebar = set(), [], [], [], []
        self.text, self.code, self._stack = [], [], []
        self.feed(self.html)
        self.text, self.code = unescape(' '.join(self.text)), unescape('\n'.join(self.code))
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'):
            self.refs.append(('a', a['href']))
            if 'sidebar-link' in a.get('class', ''): self.sidebar.append(a['href'])
        if tag in ('img', 'script') and a.get('src'): self.refs.append((tag, a['src']))
        if tag == 'link' and a.get('href'): self.refs.append((tag, a['href']))
        if tag == 'img': self.imgs.append(a.get('src', ''))
        if tag not in ('img', 'br', 'meta', 'link', 'input', 'hr'): self._stack.append((tag, len(self.text)))
    def handle_endtag(self, tag):
        while self._stack:
            t, start = self._stack.pop()
            if t == tag: break
        else: return
        if re.fullmatch(r'h[1-4]', tag): self.headings.append((tag, ' '.join(self.text[start:]).strip()))
        if tag == 'pre': self.code.append(' '.join(self.text[start:]))
    def handle_data(self, data):
        if not any(t in ('script', 'style') for t, _ in self._stack): self.text.append(data)

@pytest.fixture(scope='module')
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp('site') / '_docs'
    r = subprocess.run(['bash', str(ROOT / 'scripts' / 'docs.sh'), '--strict', str(out)], cwd=ROOT,
                       env={**os.environ, 'PYTHON': sys.executable}, capture_output=True, text=True, timeout=600)
    return out, r

@pytest.fixture(scope='module')
def site(build):
    out, r = build
    if not (out / 'index.html').exists(): pytest.fail(f'scripts/docs.sh wrote no site (rc {r.returncode}):\n{r.stdout}\n{r.stderr}')
    return {p.name: Page(p) for p in out.glob('*.html')}

# ---------------------------------------------------------------- the built HTML

def test_build_is_clean(build):
    "No warning: no broken link, no failing show_doc, no option smalldocs ignores."
    out, r = build
    assert r.returncode == 0, f'scripts/docs.sh --strict failed:\n{r.stdout}\n{r.stderr}'

def test_every_notebook_has_its_page(site):
    assert {page_of(nb) for nb in NOTEBOOKS} <= set(site), f'pages: {sorted(site)}'
    for nb in NOTEBOOKS:
        p = site[page_of(nb)]
        assert ('h1', title(nb)) in p.headings, f'{p.path.name}: no <h1>{title(nb)}</h1>; {p.headings[:3]}'

def test_sidebar_is_home_then_chapters_in_order(site):
    want = [page_of(nb) for nb in NOTEBOOKS]
    assert want[0] == 'index.html' and len(want) > 1
    for name, p in site.items():
        assert p.sidebar == want, f'{name}: sidebar {p.sidebar}'

def test_home_page_links_every_chapter(site):
    home = {unquote(h).partition('#')[0] for k, h in site['index.html'].refs if k == 'a'}
    assert {page_of(nb) for nb in CHAPTERS} <= home, f'not linked from the home page: {set(map(page_of, CHAPTERS)) - home}'

def test_title_and_description_come_from_settings(site):
    name, desc = SETTINGS['title'], SETTINGS['description']
    for page, p in site.items():
        assert re.search(fr'<span class="navbar-title">{re.escape(name)}</span>', p.html), page
        assert desc in p.text, f'{page}: the settings.ini description is not on the page'
    assert re.search(fr'<title>{re.escape(name)}</title>', site['index.html'].html)
    for nb in CHAPTERS: assert f'<title>{title(nb)} – {name}</title>' in site[page_of(nb)].html

def test_notebook_headings_are_page_headings(site):
    for nb in NOTEBOOKS:
        p = site[page_of(nb)]
        heads = {re.sub(r'\s+', ' ', t) for _, t in p.headings}
        for c in cells(nb):
            if c['cell_type'] != 'markdown': continue
            for m in re.finditer(r'^#{2,4}\s+(.+?)\s*$', source(c), re.M):
                want = re.sub(r'[`*]|\[([^\]]*)\]\([^)]*\)', r'\1', m.group(1))
                assert want in heads, f'{p.path.name}: heading {want!r} missing'

def test_figures_are_rendered_with_their_data(site):
    for nb in NOTEBOOKS:
        p, n = site[page_of(nb)], n_figures(nb)
        data = [s for s in p.imgs if s.startswith('data:image/')]
        assert len(data) >= n, f'{p.path.name}: {len(data)} pictures, the notebook shows {n}'
        for s in data:
            mime, b64 = re.match(r'data:(image/[\w+.-]+);base64,(.*)', s, re.S).groups()
            raw = base64.b64decode(b64, validate=True)
            if mime == 'image/svg+xml': assert b'<svg' in raw; continue
            im = Image.open(io.BytesIO(raw)); im.load()
            assert min(im.size) > 10, f'{p.path.name}: a {im.size} picture'
    for chapter in ('data.html', 'analysis.html'):            # the design card's figure chapters
        assert any(s.startswith('data:image/') for s in site[chapter].imgs), f'{chapter}: no figure'

def test_hidden_and_exported_cells_are_not_shown(site):
    for p in site.values():
        assert 'nbdev_export()' not in p.text and 'nbdev.nbdev_export' not in p.text, p.path.name
        assert not re.search(r'^\s*#\|', p.code, re.M), f'{p.path.name}: a cell directive is shown'
    for nb in NOTEBOOKS:
        p = site[page_of(nb)]
        hide = private_lines(nb, lambda c: {'hide', 'default_exp'} & set(directives(c)))
        assert not [l for l in hide if l in p.text], f'{p.path.name}: `#| hide` code shown'
        export = private_lines(nb, lambda c: {'export', 'exporti'} & set(directives(c)))
        body = [l for l in export if len(l) > 20 and not re.match(r'(def|class|async def)\b|@|\w+\s*:|["\')\]]', l)]
        shown = [l for l in body if l in p.code]     # (signatures, fields and docstrings do appear, via show_doc)
        assert not shown, f'{p.path.name}: exported source shown: {shown[:3]}'

def test_exported_names_are_documented(site):
    "nbdev's show_doc: each public def/class of an `#| export` cell gets a heading with its anchor."
    for nb in CHAPTERS:
        p = site[page_of(nb)]
        for c in cells(nb):
            if c['cell_type'] != 'code' or 'export' not in directives(c): continue
            for name in re.findall(r'^(?:def|class)\s+([A-Za-z]\w*)', source(c), re.M):
                assert name.lower() in p.ids and ('h3', name) in p.headings, f'{p.path.name}: no docs for {name}'

def test_backticked_names_link_to_their_docs(site):
    "nbdev's doc links: an exported name in backticks in the prose links to its show_doc (needs a current _modidx.py)."
    for nb in CHAPTERS:
        p = site[page_of(nb)]
        names = {n for c in cells(nb) if c['cell_type'] == 'code' and 'export' in directives(c)
                 for n in re.findall(r'^(?:def|class)\s+([A-Za-z]\w*)', source(c), re.M)}
        mentioned = names & {n for c in cells(nb) if c['cell_type'] == 'markdown' for n in re.findall(r'`(\w+)`', source(c))}
        linked = {frag for k, h in p.refs if k == 'a' for path, _, frag in [unquote(h).partition('#')] if path == p.path.name}
        missing = sorted(n for n in mentioned if n.lower() not in linked)
        assert not missing, f'{p.path.name}: not linked to their docs: {missing[:5]} (is defect_nbs/_modidx.py current?)'

def test_links_work_offline(site, build):
    out, _ = build
    doc_site = SETTINGS['doc_host'].split('//')[-1]
    for name, p in site.items():
        for kind, ref in p.refs:
            assert doc_site not in ref, f'{name}: {ref} points at the online docs'
            if re.match(r'^[a-z][a-z0-9+.-]*:', ref, re.I):
                assert kind == 'a' or ref.startswith('data:'), f'{name}: <{kind}> loads {ref} from the network'
                continue
            path, _, frag = unquote(ref).partition('#')
            target = (out / name).parent / path if path else out / name
            assert target.exists(), f'{name}: broken link {ref}'
            if frag and target.suffix == '.html':
                assert frag in site[target.name].ids, f'{name}: {ref}: no #{frag} on {target.name}'

def test_stylesheets_fetch_nothing_online(build):
    "A CSS @import of a web font (Bootswatch themes import Google Fonts) stalls or fails offline."
    out, _ = build
    for css in out.rglob('*.css'):
        found = re.findall(r'@import\s+url\(\s*["\']?(?:https?:)?//[^)]*\)', css.read_text(encoding='utf-8'))
        assert not found, f'{css.relative_to(out)}: {found}'

def test_search_covers_every_page(build):
    out, _ = build
    pages = {e['href'].partition('#')[0] for e in json.loads((out / 'search.json').read_text())}
    assert {page_of(nb) for nb in NOTEBOOKS} <= pages

# ---------------------------------------------------------------- in a real browser

CHROMIUM = next(filter(None, map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome'))), None)
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--window-size=1280,2000']
HARNESS = """<!doctype html><html><body><pre id="result">pending</pre>IFRAMES<script>
// The page's load event waits for every iframe, and each iframe's for its pictures, styles and scripts.
window.addEventListener('load', () => { try {
  const out = [...document.querySelectorAll('iframe')].map(f => {
    const d = f.contentDocument, imgs = [...d.querySelectorAll('img')], sb = d.querySelector('#quarto-sidebar');
    return {page: f.getAttribute('src'), h1: (d.querySelector('h1') || {}).textContent,
            sidebar: [...d.querySelectorAll('#quarto-sidebar a.sidebar-link')].map(a => a.getAttribute('href')),
            sidebar_width: sb ? sb.getBoundingClientRect().width : 0, toc: d.querySelectorAll('#TOC a').length,
            images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60)),
            // every file the page fetched: none from another host (offline), none that failed (404)
            fetched: f.contentWindow.performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])};
  });
  document.getElementById('result').textContent = JSON.stringify(out);
} catch (e) { document.getElementById('result').textContent = 'ERROR ' + e; } });
</script></body></html>"""

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.mark.skipif(CHROMIUM is None, reason='Chromium is not installed (Debian: apt-get install chromium)')
def test_pages_in_headless_chromium(build, site):
    "Serve the site on 127.0.0.1, load every page in Chromium: sidebar shown, pictures decoded, no script error, no 404."
    out, _ = build
    names = [page_of(nb) for nb in NOTEBOOKS]
    frames = ''.join(f'<iframe src="{n}" style="width:1280px;height:2000px"></iframe>' for n in names)
    (out / '_browser_check.html').write_text(HARNESS.replace('IFRAMES', frames))
    server = ThreadingHTTPServer(('127.0.0.1', 0), partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix='chromium_') as profile:
            r = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', '--enable-logging=stderr', '--v=0',
                                '--dump-dom',
                                f'http://127.0.0.1:{server.server_address[1]}/_browser_check.html'],
                               capture_output=True, text=True, timeout=90)
    finally:
        server.shutdown(); server.server_close(); (out / '_browser_check.html').unlink()
    m = re.search(r'<pre id="result">(.*?)</pre>', r.stdout, re.S)
    assert m and m.group(1).startswith('['), f'no result from Chromium (rc {r.returncode}): {r.stdout[-500:]} {r.stderr[-2000:]}'
    errors = [l for l in r.stderr.splitlines() if ':CONSOLE' in l and re.search(r'Uncaught|Failed to load|Error', l)]
    assert not errors, '\n'.join(errors)
    results = {x['page']: x for x in json.loads(unescape(m.group(1)))}
    origin = f'http://127.0.0.1:{server.server_address[1]}/'
    for nb in NOTEBOOKS:
        x = results[page_of(nb)]
        assert x['h1'] == title(nb), x
        assert x['sidebar'] == names and x['sidebar_width'] > 100, f"{x['page']}: sidebar {x['sidebar']}, {x['sidebar_width']} px"
        assert x['images'] == len(site[page_of(nb)].imgs) and not x['broken'], f"{x['page']}: broken pictures {x['broken']}"
        assert x['fetched'] and all(u.startswith(origin) for u, _ in x['fetched']), f"{x['page']}: fetched {x['fetched']}"
        assert all(st == 200 for _, st in x['fetched']), f"{x['page']}: failed to load {[f for f in x['fetched'] if f[1] != 200]}"
        assert x['toc'] > 0 or not [h for h in site[page_of(nb)].headings if h[0] == 'h2' and h[1] != 'On this page'], x
