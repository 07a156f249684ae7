"""Score class activation maps of a saved classifier against the real masks (threshold chosen on valid, metrics on test).

Appends one row per method and input size to benchmarks/results/localize.csv, with the command and the machine.

    python benchmarks/classify.py --dedupe 0.9 --size 160 --epochs 10 --tta --save runs/lite0_160.safetensors
    python benchmarks/localize.py runs/lite0_160.safetensors --dedupe 0.9 --methods cam gradcam --sizes 160 320
"""
import argparse, datetime, os, time
from pathlib import Path
import pandas as pd
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.models import load_model
from defect_nbs.cam import evaluate_localization
from defect_nbs.benchmark import machine_info, append_results

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model')
    ap.add_argument('--data', default=None)
    ap.add_argument('--dedupe', type=float, default=None)
    ap.add_argument('--methods', nargs='+', default=['cam', 'gradcam'])
    ap.add_argument('--sizes', nargs='+', type=int, default=[0], help='input sizes for the maps (0 = the size the model was trained at)')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'localize.csv'))
    a = ap.parse_args()
    model = load_model(a.model)
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    rows = []
    for method in a.methods:
        for size in a.sizes:
            t0 = time.perf_counter()
            r = evaluate_localization(model, df, method, size=size or None, quiet=False)
            r.update(seconds=round(time.perf_counter() - t0, 1), arch=model.config['arch'], trained_size=model.preprocess.size,
                     data=root.name, dedupe=a.dedupe, time=datetime.datetime.now().isoformat(timespec='seconds'),
                     command=command_line(), **machine_info())
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k not in ('command', 'host')}, flush=True)
            rows.append(r)
    append_results(pd.DataFrame(rows), a.out)

if __name__ == '__main__': main()
