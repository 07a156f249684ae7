"""Average the Bad-vs-good logits of saved classifiers and evaluate the ensemble like one model.

Each model's P(Bad) (plain forward pass, no TTA) on the valid and test splits; the ensemble is the mean logit. Temperature
and the threshold for the target Bad recall are fitted on valid and reported on test (Bad positive), for every single
model and for the ensemble. Appends one JSON line to benchmarks/results/ensemble.jsonl.

    python benchmarks/ensemble.py runs/lite0_160.safetensors runs/seg256.safetensors --dedupe 0.9
"""
import argparse, datetime, json, os
from pathlib import Path
import numpy as np, torch
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, label_to_int, progress
from defect_nbs.data import scan, usable, load_image, builtin_dataset
from defect_nbs.models import load_model
from defect_nbs.core import log_odds
from defect_nbs.metrics import binary_metrics, fit_temperature, apply_temperature, threshold_for_recall
from defect_nbs.benchmark import machine_info

def p_bad(model, paths, bs=32):
    return np.concatenate([1 - model.predict([load_image(p, model.preprocess.mode) for p in paths[i:i + bs]])[:, 0]
                           for i in progress(range(0, len(paths), bs), desc=model.config['arch'])])

def evaluate(z, y, target_recall):
    "Held-out metrics of logits `z` ({split: array}): temperature and threshold from valid, metrics on test."
    pv, pt = 1 / (1 + np.exp(-z['valid'])), 1 / (1 + np.exp(-z['test']))
    t = fit_temperature(y['valid'], pv); pv, pt = apply_temperature(pv, t), apply_temperature(pt, t)
    thr = threshold_for_recall(y['valid'], pv, target_recall)
    return dict(valid_roc_auc=binary_metrics(y['valid'], pv)['roc_auc'], temperature=t, threshold=thr,
                test=binary_metrics(y['test'], pt, thr), test_at_half=binary_metrics(y['test'], pt, 0.5))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='+'); ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--target-recall', type=float, default=0.99); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'ensemble.jsonl'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = usable(scan(root, quiet=True, dedupe=a.dedupe or False))
    rows = {s: df[df.split == s] for s in ('valid', 'test')}
    y = {s: label_to_int(r.label) for s, r in rows.items()}
    z = {m: {s: log_odds(p_bad(load_model(m), list(r.path)), 1e-7) for s, r in rows.items()} for m in a.models}
    results = {Path(m).stem: evaluate(z[m], y, a.target_recall) for m in a.models}
    results['ensemble (mean logit)'] = evaluate({s: np.mean([z[m][s] for m in a.models], 0) for s in rows}, y, a.target_recall)
    for name, r in results.items():
        t = r['test']
        print(f"{name:24s} valid ROC-AUC {r['valid_roc_auc']:.4f} | test ROC-AUC {t['roc_auc']:.4f} PR-AUC {t['pr_auc']:.4f} | "
              f"at the valid threshold: accuracy {t['accuracy']:.3f}, Bad recall {t['recall']:.3f} (fp {t['fp']}, fn {t['fn']})")
    record = dict(time=datetime.datetime.now().isoformat(timespec='seconds'), data=root.name, dedupe=a.dedupe, models=a.models,
                  target_recall=a.target_recall, n_valid=len(y['valid']), n_test=len(y['test']), results=results,
                  machine=machine_info(a.threads), command=command_line())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, 'a') as f: f.write(json.dumps(record, default=float) + '\n')

if __name__ == '__main__': main()
