"""Unseen defect types: a supervised classifier trained without one defect type, against the good-only detector, on that type.

For each held-out defect type T (issue 16, "unseen defect types"):
- the classifier is trained with T's Bad images removed from train AND valid (T plays no part in training, early
  stopping, calibration or the threshold); its threshold is chosen on that reduced valid split for the target Bad
  recall (`train.evaluate`), then applied to the test split: recall on T's test images with its exact 95 % interval,
  the false-reject rate on the test good images, and the ROC-AUC of T's test images against all test good images;
- the PatchCore detector (its defaults), fitted once on the train split's Good images only (it never sees a Bad image,
  so one fit serves every T; cached under `--work`), with its threshold from valid's Good images for a false-reject
  target (quantile): the same figures on T;
- their OR (Bad if either flags the image): recall on T and the test false-reject rate;
- beside these, the classifier at the detector's kind of operating point (threshold: the valid good images' quantile
  for the same false-reject target; `clf_fr_*`) and its OR with the detector (`or_fr_*`), so both compare at equal
  false rejects.

One row per held-out type in benchmarks/results/unseen.csv (Bad positive), with the configuration, the command and the
machine. A type already in the file with the same configuration is skipped, so the script resumes, and one type per
invocation keeps each run short:

    python benchmarks/unseen.py --dedupe 0.9 --defect blowhole                  # 192 px, 1 frozen + 8 epochs: about 3.5 min here
    python benchmarks/unseen.py --dedupe 0.9 --defect none       # the baseline: trained on every type, a row per type
    python benchmarks/unseen.py --dedupe 0.9 --size 160 --epochs 5 --defect blowhole   # the pilot (1.6 min of training)
"""
import argparse, datetime, hashlib, json, os, time
from dataclasses import asdict, replace
from pathlib import Path
import numpy as np, pandas as pd, torch
from sklearn.metrics import roc_auc_score
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, binomial_ci, BAD, GOOD
from defect_nbs.data import scan, usable, check_no_leak, builtin_dataset
from defect_nbs.train import RECIPES, train_classifier, evaluate
from defect_nbs.anomaly import PatchCore, good_train, choose_anomaly_threshold
from defect_nbs.benchmark import machine_info, append_results

def without_type(df: pd.DataFrame, defect: str) -> pd.DataFrame:
    "The index with `defect`'s Bad images removed from train and valid (test is kept whole)."
    drop = (df.label == BAD) & (df.defect == defect) & df.split.isin(['train', 'valid'])
    out = df[~drop].reset_index(drop=True)
    check_no_leak(out)
    seen = usable(out)[lambda d: (d.label == BAD) & (d.defect == defect)]
    assert set(seen.split) <= {'test'}, f'{defect} still in {set(seen.split)}'
    return out

def detector(df: pd.DataFrame, work: Path) -> tuple[PatchCore, pd.DataFrame]:
    "The default PatchCore fitted on the train split's Good images (cached), and its scores on valid and test (cached)."
    det_file, scores_file = work / 'patchcore.safetensors', work / 'patchcore_scores.csv'
    cfg = PatchCore().config
    det = PatchCore.load(det_file) if det_file.exists() else None
    if det is None or det.config != cfg:
        fit_rows = good_train(df)
        assert (fit_rows.label == GOOD).all() and (fit_rows.split == 'train').all()
        det = PatchCore(**cfg).fit(fit_rows, quiet=False)
        det.save(det_file)
        scores_file.unlink(missing_ok=True)
        print('fitted', det.fit_info, flush=True)
    else: print('reusing', det_file, det.fit_info, flush=True)
    if scores_file.exists():
        scores = pd.read_csv(scores_file, keep_default_na=False)
        if scores.fit_s.iloc[0] == round(det.fit_info['fit_s'], 6): return det, scores.drop(columns='fit_s')
    rows = usable(df)[lambda d: d.split.isin(['valid', 'test'])]
    t0 = time.perf_counter()
    s, _ = det.score(list(rows.path))
    print(f'scored {len(rows)} images in {time.perf_counter() - t0:.1f} s', flush=True)
    scores = rows[['path', 'split', 'label', 'defect']].assign(score=s)
    scores.assign(fit_s=round(det.fit_info['fit_s'], 6)).to_csv(scores_file, index=False)
    return det, scores

def rate(flags) -> tuple[float, float, float, int, int]:
    "Rate of True in `flags`, its exact 95 % interval, the count and n."
    flags = np.asarray(flags, bool); k, n = int(flags.sum()), len(flags)
    lo, hi = binomial_ci(k, n)
    return k / max(n, 1), lo, hi, k, n

def auroc(bad_scores, good_scores) -> float:
    y = np.r_[np.ones(len(bad_scores)), np.zeros(len(good_scores))]
    return float(roc_auc_score(y, np.r_[bad_scores, good_scores])) if len(bad_scores) and len(good_scores) else float('nan')

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--dedupe', type=float, default=0.9)
    ap.add_argument('--defect', nargs='+', default=['all'], help="types to hold out in turn; 'all' = every type; 'none' = the baseline trained on every type")
    ap.add_argument('--size', type=int, default=192); ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--head', default='segment'); ap.add_argument('--resize', default='squish')
    ap.add_argument('--freeze-early', type=lambda s: s.lower() in ('1', 'true', 'yes'), default=True)
    ap.add_argument('--target-recall', type=float, default=0.99, help="the classifier's Bad recall on the reduced valid split")
    ap.add_argument('--false-reject', type=float, default=0.01, help="the detector's false-reject target on valid good images")
    ap.add_argument('--work', default='runs/unseen', help='the cached detector, its scores and each run\'s predictions')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'unseen.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    check_no_leak(df)
    types = sorted(usable(df)[lambda d: d.label == BAD].defect.unique())
    todo = types if a.defect == ['all'] else a.defect
    for t in todo:
        if t not in types + ['none']: raise SystemExit(f'unknown defect type {t!r}; the data has {types}')
    cfg = replace(RECIPES['ours'], arch='efficientnet_lite0', head=a.head, resize=a.resize, size=a.size, epochs=a.epochs, freeze_early=a.freeze_early)
    det_cfg = PatchCore().config
    config = json.dumps(dict(classifier=asdict(cfg), detector=det_cfg, target_recall=a.target_recall, false_reject=a.false_reject,
                             dedupe=a.dedupe, data=root.name), sort_keys=True, default=str)
    config_id = hashlib.sha1(config.encode()).hexdigest()[:10]
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    done = pd.read_csv(a.out, dtype=str, keep_default_na=False) if Path(a.out).exists() else pd.DataFrame(columns=['held_out', 'config_id'])
    det, det_scores = None, None
    for held in todo:
        if ((done.held_out == held) & (done.config_id == config_id)).any():
            print(f'{held}: already in {a.out} with this configuration ({config_id}), skipped', flush=True); continue
        if det is None:
            det, det_scores = detector(df, work)
            vg = det_scores[(det_scores.split == 'valid') & (det_scores.label == GOOD)]
            det_th = choose_anomaly_threshold(vg.score, vg.label, a.false_reject, method='quantile')
            print('detector threshold', {k: det_th[k] for k in ('threshold', 'false_rejects', 'n_good')}, flush=True)
        reduced = df if held == 'none' else without_type(df, held)
        tr = usable(reduced)
        print(f'{held}: training on {len(tr[tr.split == "train"])} images '
              f'({int(((tr.split == "train") & (tr.label == BAD)).sum())} Bad), valid {int((tr.split == "valid").sum())} '
              f'({int(((tr.split == "valid") & (tr.label == BAD)).sum())} Bad)', flush=True)
        start = time.perf_counter()
        learn = train_classifier(reduced, cfg, quiet=False)
        train_s = time.perf_counter() - start
        keep = [c for c in learn.cbs if type(c).__name__ == 'KeepBest']
        best_epoch = keep[0].best_epoch + 1 if keep and keep[0].best_epoch is not None else np.nan   # of the all-layers fit, counted from 1
        ev = evaluate(learn, reduced, target_recall=a.target_recall)
        preds = ev.preds.merge(det_scores[['path', 'score']], on='path', how='left').merge(df[['path', 'group']], on='path', how='left')
        preds.to_csv(work / f'preds_{held}_{config_id}.csv', index=False)
        test = preds[preds.split == 'test']
        assert test.score.notna().all(), 'a test image has no detector score'
        good = test[test.label == GOOD]
        clf_flag = lambda d: d.p_cal.to_numpy() >= ev.threshold
        # a second operating point for the classifier, on the detector's terms: the valid-good quantile for the false-reject target
        vgood = preds[(preds.split == 'valid') & (preds.label == GOOD)]
        clf_fr_th = choose_anomaly_threshold(vgood.p_cal, vgood.label, a.false_reject, method='quantile')['threshold']
        clf_fr_flag = lambda d: d.p_cal.to_numpy() >= clf_fr_th
        det_flag = lambda d: d.score.to_numpy() >= det_th['threshold']
        val = preds[preds.split == 'valid']
        base = dict(held_out=held, config_id=config_id, n_test_good=len(good),
                    clf_threshold=ev.threshold, clf_temperature=ev.temperature,
                    clf_valid_bad=int((val.label == BAD).sum()), clf_valid_recall=rate(clf_flag(val[val.label == BAD]))[0],
                    clf_false_reject_rate=rate(clf_flag(good))[0], clf_false_reject_low=rate(clf_flag(good))[1],
                    clf_false_reject_high=rate(clf_flag(good))[2],
                    det_threshold=det_th['threshold'], det_valid_good=det_th['n_good'], det_valid_false_reject_rate=det_th['false_reject_rate'],
                    det_false_reject_rate=rate(det_flag(good))[0], det_false_reject_low=rate(det_flag(good))[1],
                    det_false_reject_high=rate(det_flag(good))[2],
                    or_false_reject_rate=rate(clf_flag(good) | det_flag(good))[0],
                    or_false_reject_low=rate(clf_flag(good) | det_flag(good))[1], or_false_reject_high=rate(clf_flag(good) | det_flag(good))[2],
                    clf_fr_threshold=clf_fr_th, clf_fr_false_reject_rate=rate(clf_fr_flag(good))[0],
                    or_fr_false_reject_rate=rate(clf_fr_flag(good) | det_flag(good))[0],
                    or_fr_false_reject_low=rate(clf_fr_flag(good) | det_flag(good))[1], or_fr_false_reject_high=rate(clf_fr_flag(good) | det_flag(good))[2])
        rows = []
        for t in (types if held == 'none' else [held]):
            bad = test[(test.label == BAD) & (test.defect == t)]
            other = test[(test.label == BAD) & (test.defect != t)]
            c, d = clf_flag(bad), det_flag(bad)
            cr, dr, orr = rate(c), rate(d), rate(c | d)
            rows.append(dict(defect=t, **{k: base[k] for k in ('held_out', 'config_id')}, n_test_T=len(bad), n_test_T_groups=bad.group.nunique(),
                             clf_recall=cr[0], clf_recall_low=cr[1], clf_recall_high=cr[2], clf_caught=cr[3],
                             clf_auroc=auroc(bad.p_cal, good.p_cal), clf_recall_other_types=rate(clf_flag(other))[0],
                             det_recall=dr[0], det_recall_low=dr[1], det_recall_high=dr[2], det_caught=dr[3],
                             det_auroc=auroc(bad.score, good.score),
                             or_recall=orr[0], or_recall_low=orr[1], or_recall_high=orr[2], or_caught=orr[3],
                             # both at the valid-good false-reject target (classifier threshold: valid good quantile)
                             clf_fr_recall=rate(clf_fr_flag(bad))[0], clf_fr_recall_low=rate(clf_fr_flag(bad))[1], clf_fr_recall_high=rate(clf_fr_flag(bad))[2],
                             or_fr_recall=rate(clf_fr_flag(bad) | d)[0], or_fr_recall_low=rate(clf_fr_flag(bad) | d)[1], or_fr_recall_high=rate(clf_fr_flag(bad) | d)[2],
                             **{k: v for k, v in base.items() if k not in ('held_out', 'config_id')},
                             clf_arch=cfg.arch, clf_head=cfg.head, clf_resize=cfg.resize, clf_size=cfg.size, clf_epochs=cfg.epochs,
                             clf_freeze_epochs=cfg.freeze_epochs, clf_freeze_early=cfg.freeze_early, clf_best_epoch=best_epoch,
                             train_s=round(train_s, 1), target_recall=a.target_recall, false_reject_target=a.false_reject,
                             det_config=json.dumps(det_cfg), det_fit_s=round(det.fit_info['fit_s'], 1), det_fit_images=det.fit_info['n_images'],
                             data=root.name, dedupe=a.dedupe, config=config,
                             time=datetime.datetime.now().isoformat(timespec='seconds'),
                             command=command_line()))
        out = pd.DataFrame(rows).assign(**machine_info())
        show = ['defect', 'held_out', 'n_test_T', 'clf_recall', 'clf_recall_low', 'clf_recall_high', 'clf_auroc', 'clf_false_reject_rate',
                'det_recall', 'det_auroc', 'det_false_reject_rate', 'or_recall', 'or_false_reject_rate',
                'clf_fr_recall', 'clf_fr_false_reject_rate', 'or_fr_recall', 'or_fr_false_reject_rate', 'train_s']
        print(out[show].round(3).to_string(index=False), flush=True)
        append_results(out, a.out)
        done = pd.read_csv(a.out, dtype=str, keep_default_na=False)

if __name__ == '__main__': main()
