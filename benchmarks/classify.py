"""Train and evaluate one classifier recipe on a dataset (default: the magnetic-tile data), CPU or GPU.

Writes a JSON line per run to benchmarks/results/classify.jsonl with the config, the machine, the timings and the
held-out metrics (Bad positive; threshold and temperature chosen on valid, reported on test).

    python benchmarks/classify.py --size 224 --epochs 15                 # the default split
    python benchmarks/classify.py --size 224 --epochs 15 --folds 5       # 5 grouped, stratified folds
    python benchmarks/classify.py --recipe seed --epochs 15              # the seed projects' recipe
"""
import argparse, hashlib, json, os, time, datetime
from dataclasses import asdict, replace
from pathlib import Path
import numpy as np, torch
from defect_nbs.core import command_line
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset, fold_splits
from defect_nbs.train import RECIPES, train_classifier, evaluate, export_classifier
from defect_nbs.benchmark import machine_info

def machine(): return dict(device=str(default_device()), **machine_info())

def run_one(df, cfg, tta, target_recall, tag, save=None):
    start = time.perf_counter()
    learn = train_classifier(df, cfg, quiet=False)
    train_s = time.perf_counter() - start
    ev = evaluate(learn, df, target_recall=target_recall, tta=tta)
    if save: export_classifier(learn, save, ev)
    epochs_run = len(learn.recorder.values)
    out = dict(tag=tag, train_seconds=round(train_s, 1), epochs_run_last_fit=epochs_run, temperature=ev.temperature,
               threshold=ev.threshold, target_recall=target_recall, tta=tta, test=ev.test, test_at_half=ev.test_at_half, ece=ev.ece)
    if ev.per_class is not None:
        out['per_class'] = ev.per_class.rename_axis('class').reset_index().to_dict('records')
        print(ev.per_class.round(3).to_string(), flush=True)
    print(json.dumps({k: out[k] for k in ('tag', 'train_seconds')}),
          {k: round(ev.test[k], 4) for k in ('accuracy', 'recall', 'precision', 'roc_auc', 'fn', 'fp')},
          '@0.5:', {k: round(ev.test_at_half[k], 4) for k in ('accuracy', 'recall', 'roc_auc')}, flush=True)
    return out, ev

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--recipe', default='ours', choices=sorted(RECIPES) + ['seed'],
                    help="'seed' is the old name of 'seed_project' (committed runs use it)")
    ap.add_argument('--folds', type=int, default=0, help='0 = the default split; k = k grouped stratified folds')
    ap.add_argument('--tta', action='store_true')
    ap.add_argument('--dedupe', type=float, default=None, help='merge near-duplicate images into one group before splitting (threshold, e.g. 0.9)')
    ap.add_argument('--target-recall', type=float, default=0.99)
    ap.add_argument('--save', default=None, help='save the (default-split) model here (.safetensors)')
    ap.add_argument('--tag', default='')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'classify.jsonl'))
    for k, v in asdict(RECIPES['ours']).items():
        if isinstance(v, bool): ap.add_argument(f'--{k.replace("_", "-")}', type=lambda s: s.lower() in ('1', 'true', 'yes'), default=None)
        elif isinstance(v, tuple): ap.add_argument(f'--{k.replace("_", "-")}', type=lambda s: tuple(int(x) for x in s.split(',') if x), default=None)
        else: ap.add_argument(f'--{k.replace("_", "-")}', type=str if v is None else type(v), default=None)   # None default: a string option
    a = ap.parse_args()
    cfg = replace(RECIPES['seed_project' if a.recipe == 'seed' else a.recipe], **{k: getattr(a, k) for k in asdict(RECIPES['ours']) if getattr(a, k) is not None})
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe if a.dedupe else False)
    record = dict(time=datetime.datetime.now().isoformat(timespec='seconds'), data=str(root.name), n_images=len(df), dedupe=a.dedupe,
                  recipe=a.recipe, config=asdict(cfg), machine=machine(), command=command_line())
    if a.folds:
        # each finished fold is kept beside the results, so a run that is killed resumes at the next fold
        partial = Path(a.out).with_suffix(f'.partial-{hashlib.sha1(record["command"].encode()).hexdigest()[:10]}.jsonl')
        done = [json.loads(l) for l in partial.read_text().splitlines()] if partial.exists() else []
        if done: print(f'resuming: {len(done)} fold(s) already in {partial}', flush=True)
        runs = []
        for i, f in enumerate(fold_splits(df, a.folds, seed=cfg.seed)):
            if i < len(done): runs.append(done[i]); continue
            runs.append(run_one(f, cfg, a.tta, a.target_recall, f'{a.tag} fold {i}')[0])
            with open(partial, 'a') as fh: fh.write(json.dumps(runs[-1], default=float) + '\n')
        keys = ('accuracy', 'balanced_accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc')
        record.update(split=f'{a.folds} grouped stratified folds', folds=runs,
                      mean={k: float(np.mean([r['test'][k] for r in runs])) for k in keys},
                      std={k: float(np.std([r['test'][k] for r in runs])) for k in keys},
                      mean_at_half={k: float(np.mean([r['test_at_half'][k] for r in runs])) for k in keys})
        print('mean', {k: round(v, 4) for k, v in record['mean'].items()}, 'std', {k: round(v, 4) for k, v in record['std'].items()})
    else:
        out, ev = run_one(df, cfg, a.tta, a.target_recall, a.tag or 'default split', a.save)
        record.update(split='default (70/15/15, seed 42' + (f', near-duplicates grouped at {a.dedupe})' if a.dedupe else ')'), **out)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, 'a') as f: f.write(json.dumps(record, default=float) + '\n')
    if a.folds: partial.unlink(missing_ok=True)

if __name__ == '__main__': main()
