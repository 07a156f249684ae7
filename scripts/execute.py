#!/usr/bin/env python
"""Execute notebooks in place, saving their outputs, the way `nbdev_test` runs them.

Cells flagged with a test flag (`#| slow`, `#| gpu`) are skipped unless named in `--flags`, as are `#| eval: false`
cells; a failing cell stops the notebook and leaves the file untouched. Run `nbdev_clean` afterwards.

    python scripts/execute.py nbs/13_benchmark.ipynb nbs/12_export.ipynb
    python scripts/execute.py --flags slow nbs/05_train.ipynb
"""
import argparse, os, re, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

TEST_FLAGS = {'slow', 'gpu'}
_directive = re.compile(r'^\s*#\s*\|\s*([\w-]+:?)\s*(.*)$')

def directives(source: str) -> dict:
    "The `#| name value` lines of a cell, as {name: value}."
    return {m[1]: m[2].strip() for m in map(_directive.match, source.splitlines()) if m}

def skipped(cell, flags) -> bool:
    if cell.cell_type != 'code': return True
    d = directives(cell.source)
    return d.get('eval:', '').lower() == 'false' or bool((TEST_FLAGS - set(flags)) & d.keys())

def execute(path: Path, flags=()) -> float:
    nb = read_nb(path)
    for c in nb.cells:   # every output cleared first: execnb keeps a cell's old outputs when it prints nothing now
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    start = time.time()
    os.environ.pop('IN_TEST', None)
    with working_directory(path.parent):
        CaptureShell(path).run_all(nb, exc_stop=True, preproc=lambda c: skipped(c, flags))
    write_nb(nb, path)
    return time.time() - start

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+', type=Path)
    ap.add_argument('--flags', nargs='*', default=[], help='test flags whose cells run too (slow, gpu)')
    args = ap.parse_args()
    for p in args.notebooks:
        print(f'{p}: {execute(p.resolve(), args.flags):.0f} s', flush=True)
    sys.exit(0)
