#!/usr/bin/env bash
# Build the documentation site offline, without Quarto: nbdev's own notebook processing, then smalldocs.
#
#   scripts/docs.sh                 build into _docs/ (settings.ini doc_path); open _docs/index.html
#   scripts/docs.sh OUT             build into OUT/ (emptied first, if it is an earlier build)
#   scripts/docs.sh --strict [OUT]  exit 1 on any warning: broken link, failing show_doc, ignored option
#   DOCS_PROC=DIR scripts/docs.sh   keep the processed project (notebooks + config smalldocs reads) in DIR
#   PYTHON=...                      the interpreter (default .venv/bin/python, else python3)
#
# What it does, in the order nbdev_docs would (nbdev.quarto._pre_docs + nbdev.serve.proc_nbs):
#   1. every notebook nbdev would render (nbglob of nbs/) goes through nbdev's FilterDefaults processors:
#      front matter from the `# title` / `> description` cell, `#| hide` and `#| export` cells removed,
#      a `show_doc` added after each exported definition, `exports` folded, `hide_line`, backticked names
#      linked (nbdev.doclinks). The show_doc cells run against the exported package (`from lib.mod import *`),
#      not by re-running the notebook's cells, so the build is fast and has no side effects.
#   2. processed notebooks are named as nbdev's Quarto site names them (00_core.ipynb -> core.html, the
#      `output-file` nbdev sets and smalldocs ignores), links between notebooks and nbdev's doc links
#      (doc_host + doc_baseurl) are made relative, so the site works from file:// and offline.
#   3. the config: _quarto.yml (minus the Quarto-only keys smalldocs warns about), title/description/repo
#      from settings.ini (as nbdev.yml), a sidebar with the home page first, then the chapters in order.
#   4. smalldocs renders it (pure Python). Nothing under nbs/ is written.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python; PY=${PYTHON:-$PY}
export IN_TEST=1 MPLBACKEND=Agg PYTHONWARNINGS=ignore
exec "$PY" - "$@" <<'PYEOF'
import atexit, os, re, shutil, sys, tempfile, warnings
from pathlib import Path
warnings.simplefilter('ignore')
import yaml
from execnb.nbio import read_nb, write_nb, mk_cell
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.doclinks import nbglob, _nbpath2html
from nbdev.process import Processor
from nbdev.processors import FilterDefaults, exec_show_docs, _default_exp, _re_showdoc

args = sys.argv[1:]
strict = '--strict' in args
args = [a for a in args if a != '--strict']
if any(a.startswith('-') for a in args) or len(args) > 1: sys.exit(f'usage: scripts/docs.sh [--strict] [OUT_DIR]; got {args}')
cfg = get_config()
repo, nbs = cfg.config_path, cfg.nbs_path
out = Path(args[0] if args else repo / cfg.doc_path.name).resolve()
problems = []

def note(msg):
    problems.append(msg); print(f'warning: {msg}', file=sys.stderr)

# ---------------------------------------------------------------- 1. nbdev's notebook processing
class show_docs_from_lib(Processor):
    "Run the show_doc cells with the notebook's exported module(s) imported (replaces nbdev's exec_show_docs)."
    def begin(self):
        self.k = None
        if not getattr(self.nb, 'has_docs_', None): return
        mods = {_default_exp(self.nb)} | {a[0] for c in self.nb.cells for d, a in getattr(c, 'directives_', {}).items()
                                          if d in ('export', 'exports') and a}
        self.k = CaptureShell()
        self.k.run_cell('from nbdev.showdoc import show_doc')
        for m in sorted(filter(None, mods)):
            self.k.run_cell(f'from {cfg.lib_name}.{m} import *')
            if self.k.exc: note(f'{Path(str(self.nb.path_)).name}: cannot import {cfg.lib_name}.{m}: {self.k.exc!r}'); self.k.exc = None
    def __call__(self, cell):
        if self.k is None or cell.cell_type != 'code' or not cell.source or not _re_showdoc.search(cell.source): return
        self.k.cell(cell)
        if self.k.exc:
            note(f'{Path(str(self.nb.path_)).name}: {cell.source.splitlines()[-1]} failed ({self.k.exc!r}); run nbdev_export?')
            self.k.exc, cell.source = None, None     # drop the cell rather than show a traceback

class DocProcs(FilterDefaults):
    def base_procs(self): return [show_docs_from_lib if p is exec_show_docs else p for p in super().base_procs()]

keep = bool(os.environ.get('DOCS_PROC'))
stage = Path(os.environ['DOCS_PROC']).resolve() if keep else Path(tempfile.mkdtemp(prefix='defect_nbs_docs_'))
MARK = '.defect_nbs_docs_proc'          # a folder this script made, so it may empty it
if stage == out or out in stage.parents or stage in (repo, *repo.parents) or repo in stage.parents and nbs in (stage, *stage.parents):
    sys.exit(f'DOCS_PROC {stage}: give a folder of its own, outside nbs/ and the output')
if stage.exists() and any(stage.iterdir()) and not (stage / MARK).exists():
    sys.exit(f'DOCS_PROC {stage} is not empty and was not made by scripts/docs.sh; give another folder')
if keep and stage.exists(): shutil.rmtree(stage)
if not keep: atexit.register(shutil.rmtree, stage, ignore_errors=True)
stage.mkdir(parents=True, exist_ok=True); (stage / MARK).touch()

notebooks = [Path(p).relative_to(nbs) for p in nbglob(nbs, as_path=True)]
notebooks.sort(key=lambda p: (len(p.parts), p.parts[:-1], p.stem != 'index', str(p)))   # home page first, then in order
names = {p: _nbpath2html(p).with_suffix('.ipynb') for p in notebooks}               # 00_core.ipynb -> core.ipynb (core.html)
clash = [n for n in set(names.values()) if list(names.values()).count(n) > 1]
if clash: sys.exit(f'two notebooks would render to the same page: {clash}')
doc_url = f"{cfg.doc_host.rstrip('/')}{cfg.get('doc_baseurl', '/').rstrip('/')}/"

def fix_links(text: str, old: Path) -> str:
    "Links to other notebooks -> their staged names; nbdev's absolute doc links -> relative (the site works offline)."
    new = names[old]
    def nb_link(m):
        target = Path(os.path.normpath(old.parent / m.group(2)))
        if target not in names: return m.group(0)
        return m.group(1) + os.path.relpath(names[target], new.parent).replace(os.sep, '/') + (m.group(3) or '')
    text = re.sub(r'(\]\(|href=")([^)"#\s:]+\.ipynb)(#[^)"\s]*)?', nb_link, text)
    return text.replace(doc_url, '../' * (len(new.parts) - 1))

def terminal(text: str) -> str:
    "A stream as a terminal (and Jupyter) shows it: a carriage return overwrites the line (tqdm bars end as one line)."
    return '\n'.join(next((seg for seg in reversed(line.split('\r')) if seg), '') for line in text.split('\n'))

for old in notebooks:
    new = names[old]
    nb = read_nb(nbs / old)
    DocProcs()(nb)
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = fix_links(c.source, old)
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream': o['text'] = [terminal(''.join(o.get('text', '')))]
            md = o.get('data', {}).get('text/markdown')
            if md: o['data']['text/markdown'] = [fix_links(''.join(md), old)]
    if nb.cells and nb.cells[0].cell_type == 'raw' and nb.cells[0].source.startswith('---'):   # nbdev's front matter
        fm = yaml.safe_load(nb.cells[0].source.strip().strip('-')) or {}
        fm.pop('output-file', None)       # smalldocs ignores it; the staged file name gives the same page name
        nb.cells[0] = mk_cell(f'---\n{yaml.safe_dump(fm, sort_keys=False)}---\n', 'raw')
    (stage / new).parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, stage / new)

# other files the pages may use (styles.css, pictures), as nbdev's proc_nbs copies them
for p in sorted(nbs.rglob('*')):
    r = p.relative_to(nbs)
    if p.is_file() and p.suffix != '.ipynb' and not any(s[0] in '._' for s in r.parts) \
       and r.name not in ('nbdev.yml', 'sidebar.yml', 'settings.ini'):
        (stage / r).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, stage / r)

# ---------------------------------------------------------------- 2. the config smalldocs reads
qy = yaml.safe_load((repo / '_quarto.yml').read_text()) or {}
fmt = qy.get('format') or {}
for k in [k for k in fmt if k != 'html']: fmt.pop(k)      # commonmark etc.: Quarto-only outputs
if isinstance(fmt.get('html'), dict): fmt['html'].pop('keep-md', None)
qy.pop('metadata-files', None)
web = qy.setdefault('website', {})
web.update({'title': cfg.get('title', cfg.lib_name), 'description': cfg.description, 'repo-url': cfg.git_url,
            'repo-branch': cfg.branch, 'site-url': doc_url.rstrip('/')})
if 'page-footer' not in web:      # settings.ini's description and copyright, on every page
    web['page-footer'] = {'left': cfg.description, 'right': f"© {cfg.get('copyright', cfg.get('author', ''))}"}
def entry(p): return str(names[p]).replace(os.sep, '/')
contents, sections = [], {}
for p in notebooks:
    if len(p.parts) == 1: contents.append(entry(p))
    else:
        if p.parts[0] not in sections:
            sections[p.parts[0]] = {'section': p.parts[0], 'contents': []}; contents.append(sections[p.parts[0]])
        sections[p.parts[0]]['contents'].append(entry(p))
sb = web.get('sidebar') or {}
sb = dict(sb[0] if isinstance(sb, list) else sb)
sb['contents'] = contents
web['sidebar'] = sb
qy.setdefault('project', {})['output-dir'] = str(out)
(stage / '_quarto.yml').write_text(yaml.safe_dump(qy, sort_keys=False))

# ---------------------------------------------------------------- 3. render
from smalldocs.site import build
site = build(stage, quiet=True)
for w in site.warnings: note(w)
# Offline: Bootswatch themes @import their web font from fonts.googleapis.com, a request that fails (or stalls the
# first paint) without a network. Drop it; the theme's own fallback fonts (system sans-serif) are used instead.
for css in sorted(out.glob('site_libs/**/*.css')):
    text = css.read_text(encoding='utf-8')
    local = re.sub(r'@import\s+url\(\s*["\']?(?:https?:)?//[^)]*\)[^;]*;', '', text)
    if local != text: css.write_text(local, encoding='utf-8')
print(f'docs: {len(site.pages)} pages in {out}' + (f' (processed project kept in {stage})' if keep else ''))
sys.exit(1 if strict and problems else 0)
PYEOF
