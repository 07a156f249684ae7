"""What synthetic defects (`defect_nbs.synth`) buy on real held-out images: train one classifier recipe with and without them.

Synthetic Bad images are made from the train split only and added to it (valid and test stay real); everything is scored
on real valid/test images, Bad positive. One row per run in benchmarks/results/synthetic.csv: image ROC-AUC / PR-AUC
(means over folds, with `*_std`), the classifier-only good/bad/review rule chosen on valid (escape <= 0.5 %, false
rejects <= 1 %) and its test rates, the `segment` head's defect map against the test masks (pixel AP, defect IoU at the
pixel threshold chosen on valid), the CPU seconds and the command. A run whose command is already in the CSV is skipped;
with --folds, each finished fold is kept beside the results so a killed run resumes at the next fold.

    python benchmarks/synthetic.py --dedupe 0.9 --synthetic none --head segment --size 256 --epochs 10 --freeze-early true
    python benchmarks/synthetic.py --dedupe 0.9 --synthetic cutpaste --head segment --size 256 --epochs 10 --freeze-early true
    python benchmarks/synthetic.py --dedupe 0.9 --synthetic cutpaste --real-fraction 0.25 ...   # a quarter of the real train Bad images
"""
import argparse, datetime, hashlib, json, os, sys, time
from dataclasses import asdict, replace
from pathlib import Path
import numpy as np, pandas as pd, torch
sys.path.insert(0, str(Path(__file__).parent))
from classify import machine   # the same machine record as the classifier benchmark
from defect_nbs.core import command_line
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset, fold_splits, usable
from defect_nbs.synth import add_synthetic, SYNTHETIC_METHODS
from defect_nbs.gan import add_gan_defects
from defect_nbs.train import RECIPES, train_classifier, evaluate
from defect_nbs.segment import evaluate_segmentation, split_masks
from defect_nbs.ensemble import choose_rule, bucket, bucket_rates
from defect_nbs.benchmark import append_results

def keep_real_bad(df: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    "`df` with only `fraction` of the train Bad images (per defect type, seeded); valid and test untouched."
    if fraction >= 1: return df
    bad = df[(df.split == 'train') & (df.label == BAD)]
    keep = bad.groupby('defect', group_keys=False).apply(lambda g: g.sample(max(1, round(fraction * len(g))), random_state=seed))
    out = df.drop(bad.index.difference(keep.index)).reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out

def pixel_ap(model, df) -> float:
    "Average precision of the defect map's pixels on the test images with masks and the Good ones (defect pixels positive)."
    from sklearn.metrics import average_precision_score
    probs, masks, _ = split_masks(model, df, 'test')
    return float(average_precision_score(np.concatenate([m.ravel() for m in masks]), np.concatenate([p.ravel() for p in probs])))

def run_one(df, cfg, a, tag):
    "Train on `df` (+ synthetic images), evaluate on its real valid/test; one dict of numbers."
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    df = keep_real_bad(df, a.real_fraction, cfg.seed)
    n_real_bad = int(((df.split == 'train') & (df.label == BAD)).sum())
    if a.synthetic == 'dcgan':   # a DCGAN trained on this run's train defect crops (its time counts in cpu_s)
        train_df = add_gan_defects(df, a.per_bad, epochs=cfg.gan_epochs, seed=cfg.seed, quiet=True)
    else: train_df = df if a.synthetic == 'none' else add_synthetic(df, a.synthetic, per_bad=a.per_bad, seed=cfg.seed, blend=a.blend, quiet=True)
    n_syn = int((train_df.get('synthetic', pd.Series('', index=train_df.index)) != '').sum())
    synth_s = time.perf_counter() - t_wall
    learn = train_classifier(train_df, cfg, quiet=False)
    ev = evaluate(learn, df)   # the real rows only: valid and test never hold a synthetic image anyway
    val, test = ev.preds[ev.preds.split == 'valid'], ev.preds[ev.preds.split == 'test']
    rule = choose_rule(val.p_cal.to_numpy(), val.label, max_escape=a.max_escape, max_false_reject=a.max_false_reject)
    rates = bucket_rates(bucket(test.p_cal.to_numpy(), rule=rule).bucket, test.label, rule=rule)
    out = dict(tag=tag, roc_auc=ev.test['roc_auc'], pr_auc=ev.test['pr_auc'], review_rate=rates['review_rate'],
               escape_rate=rates['escape_rate'], false_reject_rate=rates['false_reject_rate'], escapes=rates['escapes'],
               n_test_bad=rates['n_bad'], n_test_good=rates['n_good'], n_train_real_bad=n_real_bad, n_synthetic=n_syn,
               train_seconds=round(learn.train_seconds, 1), synth_seconds=round(synth_s, 1))
    if cfg.head == 'segment':
        learn.model.eval()
        seg = evaluate_segmentation(learn.model, df, threshold=None)
        out.update(defect_iou=seg['defect_iou'], pixel_threshold=seg['pixel_threshold'], pixel_ap=pixel_ap(learn.model, df))
    out.update(cpu_s=round(time.process_time() - t_cpu, 1), wall_s=round(time.perf_counter() - t_wall, 1))
    print(json.dumps(out, default=float), flush=True)
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--dedupe', type=float, default=None, help='near-duplicate threshold for grouping (e.g. 0.9)')
    ap.add_argument('--synthetic', default='none', choices=('none', 'dcgan') + SYNTHETIC_METHODS)
    ap.add_argument('--per-bad', type=float, default=1.0, help='synthetic images per real train Bad image')
    ap.add_argument('--blend', default='alpha')
    ap.add_argument('--real-fraction', type=float, default=1.0, help='share of the real train Bad images kept (per defect type)')
    ap.add_argument('--folds', type=int, default=0, help='0 = the default split; k = k grouped stratified folds')
    ap.add_argument('--max-escape', type=float, default=0.005); ap.add_argument('--max-false-reject', type=float, default=0.01)
    ap.add_argument('--recipe', default='ours', choices=sorted(RECIPES))
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'synthetic.csv'))
    own = ('synthetic', 'synthetic_per_bad')   # given by --synthetic / --per-bad above, and added here per run (after --real-fraction)
    for k, v in ((k, v) for k, v in asdict(RECIPES['ours']).items() if k not in own):   # the recipe's options, as in classify.py
        if isinstance(v, bool): ap.add_argument(f'--{k.replace("_", "-")}', type=lambda s: s.lower() in ('1', 'true', 'yes'), default=None)
        elif isinstance(v, tuple): ap.add_argument(f'--{k.replace("_", "-")}', type=lambda s: tuple(int(x) for x in s.split(',') if x), default=None)
        else: ap.add_argument(f'--{k.replace("_", "-")}', type=str if v is None else type(v), default=None)   # None default: a string option
    a = ap.parse_args()
    cfg = replace(RECIPES[a.recipe], **{k: getattr(a, k) for k in asdict(RECIPES['ours']) if k not in own and getattr(a, k) is not None})
    command = command_line()
    if Path(a.out).exists() and command in set(pd.read_csv(a.out)['command']):
        print(f'already in {a.out}: {command}'); return
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe if a.dedupe else False)
    partial = Path(a.out).with_suffix(f'.partial-{hashlib.sha1(command.encode()).hexdigest()[:10]}.jsonl')
    done = [json.loads(l) for l in partial.read_text().splitlines()] if partial.exists() else []
    if done: print(f'resuming: {len(done)} run(s) already in {partial}', flush=True)
    splits = fold_splits(df, a.folds, seed=cfg.seed) if a.folds else [df]
    runs = []
    for i, f in enumerate(splits):
        if i < len(done): runs.append(done[i]); continue
        runs.append(run_one(f, cfg, a, f'fold {i}' if a.folds else 'default split'))
        with open(partial, 'a') as fh: fh.write(json.dumps(runs[-1], default=float) + '\n')
    runs = pd.DataFrame(runs)
    keys = ['roc_auc', 'pr_auc', 'review_rate', 'escape_rate', 'false_reject_rate'] + [k for k in ('pixel_ap', 'defect_iou') if k in runs]
    row = dict(synthetic=a.synthetic, per_bad=a.per_bad if a.synthetic != 'none' else 0.0, blend=a.blend if a.synthetic != 'none' else '',
               real_fraction=a.real_fraction, folds=a.folds or 1,
               **{k: float(runs[k].mean()) for k in keys}, **{f'{k}_std': float(runs[k].std(ddof=0)) for k in keys},
               n_train_real_bad=float(runs.n_train_real_bad.mean()), n_synthetic=float(runs.n_synthetic.mean()),
               escapes=int(runs.escapes.sum()), n_test_bad=int(runs.n_test_bad.sum()), n_test_good=int(runs.n_test_good.sum()),
               train_seconds=float(runs.train_seconds.sum()), cpu_s=float(runs.cpu_s.sum()), wall_s=float(runs.wall_s.sum()),
               split=f'{a.folds} grouped stratified folds' if a.folds else 'default (70/15/15, seed 42)',
               data=root.name, dedupe=a.dedupe, n_images=len(df), config=json.dumps(asdict(cfg)),
               time=datetime.datetime.now().isoformat(timespec='seconds'), command=command, **machine())
    append_results(pd.DataFrame([row]), a.out)
    partial.unlink(missing_ok=True)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k in keys or k.endswith('_std')}, flush=True)

if __name__ == '__main__': main()
