"""The house's code-shape figures (issue 18): lines per exported cell, long lines, checks that hide their values,
explicit `show_doc`, functions over 40 lines, private imports across modules, long signatures without docments
(read from the exported modules: run `nbdev_export` first).

    python scripts/house_stats.py            # the figures
    python scripts/house_stats.py --list     # also the offending cells, lines and functions
"""
import ast, io, json, re, statistics, sys, tokenize
from pathlib import Path

root = Path(__file__).resolve().parents[1]
nbs = sorted((root / 'nbs').glob('[0-9]*.ipynb'))

def exported_cells(nb):
    for c in json.loads(nb.read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', src): yield src

def undocumented_signatures() -> list[str]:
    "Public functions of the exported modules with six or more parameters and no docments comment on any of them."
    out = []
    for f in sorted((root / 'defect_nbs').glob('*.py')):
        if f.name.startswith('_'): continue
        src = f.read_text()
        commented = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT}
        for n in ast.walk(ast.parse(src)):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith('_'):
                args = [a for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs if a.arg not in ('self', 'cls')]
                if len(args) >= 6 and not any(a.lineno in commented for a in args): out.append(f'{f.stem}.{n.name}')
    return out

def main(listing=False):
    cell_lines, lines, long_lines, bool_checks, show_docs, long_fns, private = [], 0, [], [], 0, [], []
    for nb in nbs:
        text = json.loads(nb.read_text())
        for c in text['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] != 'code': continue
            show_docs += len(re.findall(r'^\s*show_doc\(', src, re.M))
            bool_checks += [(nb.name, s) for l in src.splitlines() for s in l.split('; ')
                            if re.match(r'\s*test_eq\(.*,\s*(?:True|False)\)\s*(#.*)?$', s)]
        for src in exported_cells(nb):
            body = [l for l in src.splitlines() if not l.lstrip().startswith('#|')]
            cell_lines.append(len(body)); lines += len(body)
            long_lines += [(nb.name, l) for l in body if len(l) > 120]
            private += [(nb.name, l.strip()) for l in body if re.match(r'\s*from\s+\.+\w*\s+import\s+.*\b_[a-z]\w*', l)]
            try: tree = ast.parse(src)
            except SyntaxError: continue
            for n in ast.walk(tree):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 40:
                    long_fns.append((nb.name, n.name, n.end_lineno - n.lineno + 1))
    cell_lines.sort()
    p90 = cell_lines[int(0.9 * (len(cell_lines) - 1))]
    print(f'exported cells: {len(cell_lines)}; lines per cell median {statistics.median(cell_lines):g}, p90 {p90}')
    print(f'exported lines over 120 characters: {len(long_lines)} of {lines} ({100 * len(long_lines) / lines:.1f} %)')
    print(f'test_eq(..., True/False): {len(bool_checks)}; explicit show_doc: {show_docs}')
    print(f'functions over 40 lines: {len(long_fns)} ' + ', '.join(f'{f} {n}' for _, f, n in long_fns))
    print(f'private names imported across modules: {len(private)}')
    undocumented = undocumented_signatures()
    print(f'public functions with 6+ parameters and no docments: {len(undocumented)} ' + ', '.join(undocumented))
    if listing:
        for nb, l in long_lines: print(f'{nb}: {len(l)}: {l[:100]}')
        for nb, l in bool_checks: print(f'{nb}: {l}')
        for nb, l in private: print(f'{nb}: {l}')

if __name__ == '__main__': main('--list' in sys.argv)
