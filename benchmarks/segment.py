"""Train a U-Net on the real defect masks and score it on the test split; also score the weak (thresholded) masks.

Appends one row to benchmarks/results/segment.csv with the configuration, the machine, the timings and the test
metrics (defect IoU, Dice, pixel precision/recall; the image-level decision from the defect area, Bad positive, its
area threshold chosen on valid).

    python benchmarks/segment.py --dedupe 0.9 --encoder efficientnet_lite0 --size 224 --epochs 10
    python benchmarks/segment.py --dedupe 0.9 --model runs/seg256.safetensors --threshold valid   # a segment-head classifier's map
"""
import argparse, datetime, os, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, BAD
from defect_nbs.data import scan, usable, load_mask, builtin_dataset
from defect_nbs.models import load_model
from defect_nbs.segment import train_unet, evaluate_segmentation, weak_masks, pixel_metrics
from defect_nbs.benchmark import machine_info, append_results

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--encoder', default='efficientnet_lite0'); ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--epochs', type=int, default=10); ap.add_argument('--lr', type=float, default=2e-3); ap.add_argument('--bs', type=int, default=8)
    ap.add_argument('--no-pretrained', action='store_true')
    ap.add_argument('--model', help="instead of training a U-Net: a saved classifier with a 'segment' head, whose defect map is scored")
    ap.add_argument('--threshold', default='0.5', help="pixel probability threshold, or 'valid' to choose it on valid by IoU")
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'segment.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    t0 = time.perf_counter()
    if a.model:
        model = load_model(a.model)
        a.encoder, a.size, a.epochs = f"{model.config['arch']} ('segment' head of {Path(a.model).name})", model.preprocess.size, None
    else: model = train_unet(df, a.encoder, a.size, a.epochs, a.lr, a.bs, pretrained=not a.no_pretrained).model
    train_s = time.perf_counter() - t0 if not a.model else float('nan')
    ev = evaluate_segmentation(model, df, threshold=None if a.threshold == 'valid' else float(a.threshold))
    ev.pop('curves')
    test_bad = usable(df)[lambda d: (d.split == 'test') & (d.label == BAD) & (d['mask'].fillna('') != '')]
    weak = weak_masks(test_bad, tempfile.mkdtemp(), quiet=True)
    wk = pixel_metrics([load_mask(m) * 1.0 for m in weak['mask']], [load_mask(m) for m in test_bad['mask']])
    row = dict(ev, encoder=a.encoder, size=a.size, epochs=a.epochs, pretrained=not a.no_pretrained, train_seconds=round(train_s, 1),
               weak_defect_iou=wk['defect_iou'], weak_dice=wk['dice'], weak_pixel_precision=wk['pixel_precision'], weak_pixel_recall=wk['pixel_recall'],
               data=root.name, dedupe=a.dedupe, time=datetime.datetime.now().isoformat(timespec='seconds'),
               command=command_line(), **machine_info())
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k not in ('command',)}, flush=True)
    append_results(pd.DataFrame([row]), a.out)

if __name__ == '__main__': main()
