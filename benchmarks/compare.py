"""Compare architectures on one split of a dataset (default: the magnetic-tile data, near-duplicates grouped).

Appends the table (one row per model, held-out metrics with Bad positive, params, GFLOPs, latency p50/p95 at batch 1,
training time) with the command and the machine to benchmarks/results/compare.csv.

    python benchmarks/compare.py --size 160 --epochs 8 efficientnet_lite0 mobilenetv3 resnet50 convnextv2 deit swin
    python benchmarks/compare.py --seed-row efficientnet_lite0        # adds the seed projects' recipe as a row
"""
import argparse, datetime, os, sys
from dataclasses import replace
from pathlib import Path
import pandas as pd
from defect_nbs.core import command_line
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.train import TrainConfig, RECIPES
from defect_nbs.compare import compare
from defect_nbs.models import network_available

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('archs', nargs='+')
    ap.add_argument('--data', default=None)
    ap.add_argument('--size', type=int, default=160)
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--dedupe', type=float, default=0.9)
    ap.add_argument('--seed-row', action='store_true', help="also run the seed recipe with the first architecture")
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'compare.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    cfg = TrainConfig(size=a.size, epochs=a.epochs, bs=a.bs)
    online = network_available()
    cands = [(arch, dict(arch=arch, pretrained=online or arch.startswith('efficientnet_lite'))) for arch in a.archs]
    if a.seed_row:
        seed_recipe = RECIPES['seed_project']
        cands.append((f'{a.archs[0]} (seed recipe)', dict(arch=a.archs[0], frozen_only=True, balance=seed_recipe.balance,
                                                           keep_best=False, patience=0)))
    table = compare(df, cands, cfg)
    table.insert(0, 'time', datetime.datetime.now().isoformat(timespec='seconds'))
    table['data'], table['split'] = root.name, f'default 70/15/15 seed 42, dedupe {a.dedupe}'
    table['command'] = command_line()
    print(table.drop(columns=['command']).round(4).to_string())
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, mode='a', header=not out.exists(), index=False)

if __name__ == '__main__': main()
