"""Choose bucket thresholds on the validation split for an escape-rate target; report escape, false-reject and review rates on test.

The classifier's calibrated P(Bad) (temperature from the checkpoint) and, as the localizer, the peak of the same
model's class activation map (or of its learned defect map, for a model with a `segment` head). Appends to benchmarks/results/operating_point.csv (and writes the validation trade-off
front next to it).

    python benchmarks/operating_point.py runs/lite0_160.safetensors --dedupe 0.9
    python benchmarks/operating_point.py runs/lite0_160.safetensors --localizer runs/seg256.safetensors --dedupe 0.9
"""
import argparse, datetime, os
from pathlib import Path
import numpy as np, pandas as pd, torch
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, progress
from defect_nbs.data import scan, usable, load_image, builtin_dataset
from defect_nbs.models import load_model, DefectMapHead
from defect_nbs.metrics import apply_temperature
from defect_nbs.cam import class_activation_maps
from defect_nbs.ensemble import bucket, bucket_rates, choose_rule, tradeoff
from defect_nbs.benchmark import machine_info, append_results

def scores(model, rows, localizer=None):
    "Calibrated P(Bad) of `model` and the map peak of `localizer` (default: the same model)."
    localizer = localizer or model
    p, s = [], []
    for i in progress(range(0, len(rows), 32), desc='images'):
        ims = [load_image(f, model.preprocess.mode) for f in rows.path[i:i + 32]]
        p.append(1 - model.predict(ims)[:, 0])
        s.append(class_activation_maps(localizer, ims).reshape(len(ims), -1).max(1))
    return apply_temperature(np.concatenate(p), model.meta.get('temperature', 1.0)), np.concatenate(s)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model'); ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--localizer', help='another saved model whose map peak is the localization evidence (default: the classifier itself)')
    ap.add_argument('--max-escape', type=float, default=0.005); ap.add_argument('--max-false-reject', type=float, default=0.01)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'operating_point.csv'))
    a = ap.parse_args()
    model = load_model(a.model)
    localizer = load_model(a.localizer) if a.localizer else model
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = usable(scan(root, quiet=True, dedupe=a.dedupe or False))
    val, test = df[df.split == 'valid'], df[df.split == 'test']
    (pv, sv), (pt, st) = scores(model, val, localizer), scores(model, test, localizer)
    rows = []
    peak = 'defect-map peak' if isinstance(localizer.head, DefectMapHead) else 'CAM peak'
    if a.localizer: peak += f' of {Path(a.localizer).stem}'
    for name, sv_, st_ in ((f'classifier + {peak}', sv, st), ('classifier only', None, None)):
        rule = choose_rule(pv, val.label, sv_, a.max_escape, a.max_false_reject)
        r = dict(evidence=name, **rule.__dict__, **{f'valid_{k}': v for k, v in bucket_rates(bucket(pv, sv_, rule).bucket, val.label).items()},
                 **{f'test_{k}': v for k, v in bucket_rates(bucket(pt, st_, rule).bucket, test.label).items()})
        print(r, flush=True); rows.append(r)
        tradeoff(pv, val.label, sv_, a.max_false_reject).assign(evidence=name).to_csv(Path(a.out).with_name(f'operating_point_front_{("map" if "map" in peak else "cam") if sv_ is not None else "clf"}_{Path(a.model).stem}{"+" + Path(a.localizer).stem if a.localizer else ""}.csv'), index=False)
    table = pd.DataFrame(rows).assign(max_escape=a.max_escape, max_false_reject=a.max_false_reject, model=a.model, data=root.name,
                                      dedupe=a.dedupe, localizer=a.localizer or a.model, time=datetime.datetime.now().isoformat(timespec='seconds'),
                                      command=command_line(), **machine_info())
    append_results(table, a.out)

if __name__ == '__main__': main()
