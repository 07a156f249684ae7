"""Text and marker removal (`defect_nbs.clean`) on the magnetic-tile data: how well it finds drawn writing, how well it fills
it in, and the shortcut it removes.

Writing is drawn with `clean.overlay_text` (random strings in matplotlib's DejaVu fonts, random sizes, angles, positions and
inks, marker-like strokes), seeded per image, so the truth is known to the pixel. One row per run in
benchmarks/results/text_removal.csv (a run whose command is already there is skipped; drawn and cleaned images are cached and
reused, so a killed run resumes):

    python benchmarks/text_removal.py --dedupe 0.9 --step detect --n 200            # detection recall / precision, PSNR / SSIM, ms per image
    python benchmarks/text_removal.py --dedupe 0.9 --step train --condition clean
    python benchmarks/text_removal.py --dedupe 0.9 --step train --condition text_on_bad
    python benchmarks/text_removal.py --dedupe 0.9 --step train --condition text_on_bad_removed

`detect`: n images drawn from the whole dataset (seeded; the detector is not trained on them), writing drawn on each; found with
`find_text` (timed per image), filled in with `text_mask` + `inpaint` (Telea and Navier-Stokes); PSNR / SSIM over the drawn
writing's region (its polygons and ink grown by 3 px) against the image before the writing was drawn, before and after.
`train`: one recipe on one leak-free split (near-duplicates grouped), test images always the clean originals, Bad positive:
  clean                 the images as they are;
  text_on_bad           writing drawn on the train and valid Bad images only (the worst case: writing means Bad);
  text_on_bad_removed   the same images, every train and valid image (Good ones too) then cleaned by `clean_index`;
  text_on_bad_oracle    (a diagnostic) the same drawn images with their own drawn ink, grown like `clean_index`'s masks,
                        filled in by the same method: a perfect detector and no defect guard, so what is left is the filling;
  text_on_bad_removed_decoy  (a diagnostic) as text_on_bad_removed, and every train / valid Good image in which nothing was
                        found gets a filled-in patch too: the found regions of a random cleaned Bad image, scaled to its size.
  text_on_bad_removed_decoys  as text_on_bad_removed, then the library's `clean.add_decoys`: every train / valid image in
                        which nothing was found (whatever its label) gets the filled-in patches of a random cleaned image.
Each run also scores a copy of the test split with writing drawn on its Bad images (`roc_auc_text_test`: what a leaky test
would have said).
"""
import argparse, datetime, hashlib, json, sys, time
from pathlib import Path
import cv2, numpy as np, pandas as pd
from PIL import Image
sys.path.insert(0, str(Path(__file__).parent))
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset, usable, load_image, load_mask
from defect_nbs.clean import (overlay_text, find_text, text_mask, inpaint, detection_scores, detection_summary, image_quality,
                              truth_region, clean_index, use_clean, default_dilate, region_mask, add_decoys)
from defect_nbs.benchmark import append_results, machine_info

CONDITIONS = ('clean', 'text_on_bad', 'text_on_bad_removed', 'text_on_bad_oracle', 'text_on_bad_removed_decoy',
              'text_on_bad_removed_decoys')

def seed_of(path: str, seed: int) -> list:
    "The generator seed of one image's writing: the run's seed and the image's path."
    return [seed, int(hashlib.sha1(Path(path).name.encode()).hexdigest()[:8], 16)]

def drawn(path: str, seed: int, grey: bool):
    "The original image (grey as stored) and the writing drawn on it (image, items)."
    img = np.asarray(load_image(path, 'L'))
    return img, overlay_text(img, np.random.default_rng(seed_of(path, seed)), grey=grey)

def with_text_on(df: pd.DataFrame, rows, dest: Path, seed: int, grey: bool) -> pd.DataFrame:
    "`df` with writing drawn on the images of `rows` (PNG files under `dest`, reused when there); their mode follows the image."
    out = df.copy()
    dest.mkdir(parents=True, exist_ok=True)
    for i in rows:
        p = out.at[i, 'path']
        target = dest / f'{Path(p).stem}_{hashlib.sha1(p.encode()).hexdigest()[:8]}.png'
        if not target.exists():
            _, (img, _) = drawn(p, seed, grey)
            tmp = target.with_suffix('.tmp.png'); Image.fromarray(img).save(tmp); tmp.replace(target)
        out.at[i, 'path'] = str(target)
        out.at[i, 'mode'] = 'L' if grey else 'RGB'
    out.attrs = dict(df.attrs)
    return out

def step_detect(df, a) -> dict:
    rows = usable(df).sample(min(a.n, len(usable(df))), random_state=a.seed)
    counts, quality, det_s = [], [], []
    text_on_defect = 0
    for r in rows.itertuples():
        orig, (img, items) = drawn(r.path, a.seed, a.grey)
        t = time.perf_counter(); regions = find_text(img, limit_side=a.limit_side); det_s.append(time.perf_counter() - t)
        counts.append(detection_scores(items, regions, img.shape))
        where = truth_region(items, img.shape)
        mask = text_mask(img.shape, regions, a.dilate)
        ref = orig if img.ndim == 2 else np.repeat(orig[..., None], 3, -1)
        q = dict(before=image_quality(img, ref, where))
        for m in ('telea', 'ns'): q[m] = image_quality(inpaint(img, mask, m), ref, where)
        q['mask_share'] = float(mask.mean())
        quality.append(q)
        if isinstance(r.mask, str) and r.mask and (load_mask(r.mask) & where).any(): text_on_defect += 1
    s = detection_summary(counts)
    mean = lambda m, k: float(np.mean([q[m][k] for q in quality if np.isfinite(q[m][k])]))
    return dict(detection_recall=s['text_recall'], detection_recall_ci=str(s['text_recall_ci']), n_text=s['text_recall_n'],
                stroke_recall=s['stroke_recall'], n_strokes=s['stroke_recall_n'], recall_all=s['recall'],
                detection_precision=s['precision'], detection_precision_ci=str(s['precision_ci']), n_regions=s['precision_n'],
                psnr=mean(a.method, 'psnr'), ssim=mean(a.method, 'ssim'), psnr_before=mean('before', 'psnr'), ssim_before=mean('before', 'ssim'),
                psnr_ns=mean('ns', 'psnr'), ssim_ns=mean('ns', 'ssim'), psnr_telea=mean('telea', 'psnr'), ssim_telea=mean('telea', 'ssim'),
                mask_share=float(np.mean([q['mask_share'] for q in quality])), ms_per_image=1000 * float(np.mean(det_s)),
                ms_per_image_p95=1000 * float(np.percentile(det_s, 95)), n_images=len(rows), n_text_on_defect=text_on_defect)

def chain_scores(text_df, cleaned, a) -> dict:
    "Detection in the chain itself: the drawn Bad images of train/valid against what clean_index found; Good images touched."
    counts = []
    written = cleaned[(cleaned.label == BAD) & cleaned.split.isin(['train', 'valid'])]
    for r in written.itertuples():
        _, (img, items) = drawn(text_df.at[r.Index, 'original_path'] if 'original_path' in text_df else r.path, a.seed, a.grey)
        regions = json.loads(r.text_boxes) if r.text_boxes else []
        counts.append(detection_scores(items, regions, img.shape))
    s = detection_summary(counts)
    goods = cleaned[(cleaned.label == GOOD) & cleaned.split.isin(['train', 'valid'])]
    return dict(detection_recall=s['text_recall'], detection_recall_ci=str(s['text_recall_ci']), n_text=s['text_recall_n'],
                stroke_recall=s['stroke_recall'], n_strokes=s['stroke_recall_n'], detection_precision=s['precision'],
                detection_precision_ci=str(s['precision_ci']), n_regions=s['precision_n'],
                good_images_touched=float((goods.text_regions > 0).mean()), n_good_cleaned=len(goods),
                n_text_near_defect=int(written.text_near_defect.sum()), n_clean_errors=int((cleaned.clean_error != '').sum()))

def variant(kind: str, a) -> str:
    "The cache folder name of `kind` (cleaned copies, decoys) made with this run's filling options."
    return f'{kind}_{a.method}_{a.dilate}' + (f'_guard{a.guard}' if a.guard is not None else '')

def step_train(df, a) -> dict:
    from defect_nbs.train import TrainConfig, train_classifier, evaluate, predict
    from sklearn.metrics import roc_auc_score
    cfg = TrainConfig(arch=a.arch, size=a.size, epochs=a.epochs, freeze_epochs=a.freeze_epochs, seed=a.seed)
    cache = cache_dir('text_removal', hashlib.sha1(json.dumps([str(df.attrs.get('root')), a.dedupe, a.seed, a.grey]).encode()).hexdigest()[:12])
    out = dict(condition=a.condition)
    train_df = df
    t_clean = 0.0
    if a.condition != 'clean':
        bad_tv = df.index[(df.label == BAD) & df.split.isin(['train', 'valid']) & (df.problem == '')]
        train_df = with_text_on(df, bad_tv, cache / 'drawn', a.seed, a.grey)
        train_df['original_path'] = df['path']
    if a.condition == 'text_on_bad_oracle':   # every drawn item's ink, grown as clean_index grows its masks, filled in
        oracle = cache / f'oracle_{a.method}_{a.dilate}'; oracle.mkdir(parents=True, exist_ok=True)
        for i in bad_tv:
            target = oracle / Path(train_df.at[i, 'path']).name
            if not target.exists():
                _, (img, items) = drawn(df.at[i, 'path'], a.seed, a.grey)
                d = default_dilate(img.shape) if a.dilate is None else a.dilate
                ink = cv2.dilate(np.any([it['ink'] for it in items], 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * d + 1,) * 2))
                Image.fromarray(inpaint(img, ink.astype(bool), a.method)).save(target)
            train_df.at[i, 'path'] = str(target)
    if a.condition.startswith('text_on_bad_removed'):
        t = time.perf_counter()
        cleaned = clean_index(train_df, dest=cache / variant('cleaned', a),
                              splits=['train', 'valid'], dilate=a.dilate, method=a.method, limit_side=a.limit_side, guard=a.guard)
        t_clean = time.perf_counter() - t
        out.update(chain_scores(train_df, cleaned, a))
        if a.condition == 'text_on_bad_removed_decoys':   # the library's step: label-free, every image with nothing found
            cleaned = add_decoys(cleaned, dest=cache / variant('decoys', a),
                                 splits=('train', 'valid'), seed=a.seed, dilate=a.dilate, method=a.method, quiet=True)
            out['n_decoys'] = int((cleaned.decoy_of != '').sum())
        train_df = use_clean(cleaned.drop(columns=['original_path'])).assign(original_path=train_df['original_path'])
    if a.condition == 'text_on_bad_removed_decoy':   # the same filled-in patches on Good images, so that a patch says nothing
        tv = cleaned.split.isin(['train', 'valid'])
        donors = cleaned[tv & (cleaned.label == BAD) & (cleaned.text_regions > 0)]
        decoy = cache / variant('decoy', a); decoy.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([a.seed, 7])
        goods = cleaned.index[tv & (cleaned.label == GOOD) & (cleaned.text_regions == 0) & (cleaned.clean_error == '')]
        for i in goods:
            donor = donors.iloc[int(rng.integers(len(donors)))]
            target = decoy / f'{Path(cleaned.at[i, "path"]).stem}.png'
            if not target.exists():
                img = np.asarray(load_image(cleaned.at[i, 'path'], 'L'))
                sx, sy = img.shape[1] / donor.width, img.shape[0] / donor.height
                regions = [dict(r, polygon=(np.asarray(r['polygon']) * [sx, sy]).tolist()) for r in json.loads(donor.text_boxes)]
                Image.fromarray(inpaint(img, text_mask(img.shape, regions, a.dilate), a.method)).save(target)
            train_df.at[i, 'path'] = str(target)
        out['n_decoys'] = len(goods)
    learn = train_classifier(train_df, cfg, quiet=False)
    ev = evaluate(learn, train_df)
    test_rows = train_df[train_df.split == 'test']
    assert (test_rows.path == df.loc[test_rows.index, 'path']).all(), 'the test split must be the clean originals'
    # what a leaky test would have said: the test split's Bad images with writing drawn too
    text_test = with_text_on(df, df.index[(df.label == BAD) & (df.split == 'test') & (df.problem == '')], cache / 'drawn_test', a.seed, a.grey)
    pt = predict(learn, text_test, 'test')
    out.update(roc_auc=ev.test['roc_auc'], pr_auc=ev.test['pr_auc'], roc_auc_text_test=float(roc_auc_score(label_to_int(pt.label), pt.p_bad)),
               accuracy_at_valid_threshold=ev.test['accuracy'], recall_at_valid_threshold=ev.test['recall'],
               n_test_bad=int((test_rows.label == BAD).sum()), n_test_good=int((test_rows.label == GOOD).sum()),
               train_seconds=round(learn.train_seconds, 1), clean_seconds=round(t_clean, 1), config=json.dumps(cfg.__dict__))
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--dedupe', type=float, default=None, help='near-duplicate threshold for grouping (e.g. 0.9)')
    ap.add_argument('--step', choices=('detect', 'train'), required=True)
    ap.add_argument('--condition', choices=CONDITIONS, default='clean')
    ap.add_argument('--n', type=int, default=200, help='detect: images to draw on')
    ap.add_argument('--grey', action='store_true', help='grey inks only (the images stay grey; no ink is found by its colour)')
    ap.add_argument('--method', default='telea', choices=('telea', 'ns'))
    ap.add_argument('--dilate', type=int, default=None, help='mask growth in px (default: 2 %% of the longer side, 3-30 px)')
    ap.add_argument('--guard', type=int, default=None, help='px the defect mask is grown by before it is kept from the filling (default: as --dilate)')
    ap.add_argument('--limit-side', type=int, default=736, help="the detector's input: shorter side scaled to this")
    ap.add_argument('--arch', default='efficientnet_lite0'); ap.add_argument('--size', type=int, default=160)
    ap.add_argument('--epochs', type=int, default=5); ap.add_argument('--freeze-epochs', type=int, default=1)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'text_removal.csv'))
    a = ap.parse_args()
    command = command_line()
    if Path(a.out).exists() and command in set(pd.read_csv(a.out)['command']):
        print(f'already in {a.out}: {command}'); return
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe if a.dedupe else False)
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    res = step_detect(df, a) if a.step == 'detect' else step_train(df, a)
    row = dict(run=a.step if a.step == 'detect' else f'train {a.condition}', condition='' if a.step == 'detect' else a.condition,
               **{k: v for k, v in res.items() if k != 'condition'}, method=a.method, dilate=a.dilate if a.dilate is not None else 'auto',
               grey=a.grey, limit_side=a.limit_side, guard=a.guard if a.guard is not None else 'as dilate', cpu_s=round(time.process_time() - t_cpu, 1), wall_s=round(time.perf_counter() - t_wall, 1),
               data=root.name, dedupe=a.dedupe, n_index=len(df), split='default (70/15/15, seed 42), near-duplicates grouped' if a.dedupe else 'default',
               time=datetime.datetime.now().isoformat(timespec='seconds'), command=command, **machine_info())
    append_results(pd.DataFrame([row]), a.out)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, default=str), flush=True)

if __name__ == '__main__': main()
