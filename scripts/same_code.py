"""Check that notebooks' exported code is unchanged in behaviour against a git ref.

    python scripts/same_code.py nbs/01_data.ipynb [more.ipynb ...] [--ref HEAD]

Per notebook: the exported cells (#| export / exports / exporti) are concatenated in order and parsed; the AST must
be identical to the ref's, except docstrings, whose whitespace is normalised (reflowing a docstring is allowed;
changing its words is reported as a docstring change, not a failure). Comments are not in the AST: changed comments
(docments!) are listed so that you can check them. Exit 1 on any AST difference.
"""
import ast, io, json, re, subprocess, sys, tokenize, difflib

def exported(nb_text):
    out = []
    for c in json.loads(nb_text)['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', src): out.append(src)
    return '\n'.join(out)

def norm(tree):
    docs = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body:
            s = n.body[0]
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                docs.append(' '.join(s.value.value.split())); s.value.value = '<doc>'
    return ast.dump(tree, include_attributes=False), docs

def comments(src):
    try: return [t.string.lstrip('#').strip() for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT and not t.string.startswith('#|')]
    except (tokenize.TokenError, IndentationError): return []

def main(args):
    ref = 'HEAD'
    if '--ref' in args: i = args.index('--ref'); ref = args[i + 1]; args = args[:i] + args[i + 2:]
    bad = 0
    for path in args:
        old = exported(subprocess.run(['git', 'show', f'{ref}:{path}'], capture_output=True, text=True, check=True).stdout)
        new = exported(open(path).read())
        (a, da), (b, db) = norm(ast.parse(old)), norm(ast.parse(new))
        if a != b:
            bad = 1
            d = list(difflib.unified_diff(a.split(', '), b.split(', '), lineterm='', n=2))[:40]
            print(f'{path}: AST CHANGED\n  ' + '\n  '.join(d))
        else: print(f'{path}: same AST')
        for x, y in zip(da, db):
            if x != y: print(f'  docstring changed:\n    - {x}\n    + {y}')
        if len(da) != len(db): print(f'  number of docstrings {len(da)} -> {len(db)}'); bad = 1
        co, cn = comments(old), comments(new)
        if co != cn:
            for l in difflib.unified_diff(co, cn, lineterm='', n=0):
                if not l.startswith(('---', '+++', '@@')): print('  comment ' + l)
    sys.exit(bad)

if __name__ == '__main__': main(sys.argv[1:])
