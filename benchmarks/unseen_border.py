"""The good-only detector on unseen defect types with its edge band (`border`) chosen WITHOUT the held-out type.

`benchmarks/unseen.py` scored the detector with the whole map (border 0). Here, for each defect type T: the border is
chosen on valid with T's Bad images removed (image AUROC, `anomaly.choose_border`), the threshold on valid's good images
for a 1 % false-reject target at that border, and the recall on T's test images (exact 95 % interval) and the test
false-reject rate are reported. Reuses the detector `unseen.py` fitted and cached (fitted on train Good images only).
One row per type in benchmarks/results/unseen_detector_border.csv.

    python benchmarks/unseen_border.py --dedupe 0.9
"""
import argparse, datetime, os, sys
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from unseen import detector, rate, auroc
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, BAD, GOOD
from defect_nbs.data import scan, usable, builtin_dataset
from defect_nbs.anomaly import choose_border, image_score, quantile_threshold
from defect_nbs.benchmark import machine_info

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float, default=0.9)
    ap.add_argument('--false-reject', type=float, default=0.01); ap.add_argument('--work', default='runs/unseen')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'unseen_detector_border.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    det, _ = detector(df, Path(a.work))
    rows = usable(df)[lambda d: d.split.isin(['valid', 'test'])].reset_index(drop=True)
    _, maps = det.score(list(rows.path))
    out = []
    for t in sorted(rows.defect[rows.label == BAD].unique()):
        v = ((rows.split == 'valid') & ~((rows.label == BAD) & (rows.defect == t))).to_numpy()
        b = choose_border([m for m, k in zip(maps, v) if k], rows.label[v])
        s = np.array([image_score(m, b['border']) for m in maps])
        th = quantile_threshold(s[v & (rows.label == GOOD).to_numpy()], a.false_reject)['threshold']
        test_t = ((rows.split == 'test') & (rows.label == BAD) & (rows.defect == t)).to_numpy()
        test_good = ((rows.split == 'test') & (rows.label == GOOD)).to_numpy()
        r, lo, hi, k, n = rate(s[test_t] >= th)
        fr = rate(s[test_good] >= th)
        out.append(dict(defect=t, border=b['border'], valid_auroc_by_border=' '.join(f'{x:g}:{y:.3f}' for x, y in b['table'].items()),
                        threshold=th, n_test_T=n, det_caught=k, det_recall=r, det_recall_low=lo, det_recall_high=hi,
                        det_auroc=auroc(s[test_t], s[test_good]), det_false_reject_rate=fr[0], det_false_reject_low=fr[1], det_false_reject_high=fr[2],
                        data=root.name, dedupe=a.dedupe, time=datetime.datetime.now().isoformat(timespec='seconds'),
                        command=command_line(), **machine_info()))
        print({k_: (round(v_, 3) if isinstance(v_, float) else v_) for k_, v_ in out[-1].items() if k_ in ('defect', 'border', 'det_recall', 'det_recall_low', 'det_recall_high', 'det_auroc', 'det_false_reject_rate')}, flush=True)
    pd.DataFrame(out).to_csv(a.out, index=False)

if __name__ == '__main__': main()
