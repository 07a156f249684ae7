"""Fit the PatchCore-style detector on the Good images of the train split only and score the test split.

Appends rows to benchmarks/results/anomaly.csv: one for the whole test split (`defect` empty) and one per defect type
(that type's Bad test images against all Good test images), each with image AUROC, pixel AUROC, AUPRO (Bad / defect
pixels positive), the fit time, scoring time per image, the bank's memory, the threshold chosen on valid's good images
for a false-reject target and the test rates at it, the command and the machine.
A fitted detector is saved (`--save`) and reused when the same command runs again, so a killed run resumes at scoring.

    python benchmarks/anomaly.py --dedupe 0.9 --arch efficientnet_lite0 --size 256 --bank 0.01 --border auto
"""
import argparse, datetime, json, os, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile, binomial_ci, BAD, GOOD
from defect_nbs.data import scan, usable, load_image, builtin_dataset
from defect_nbs.anomaly import (PatchCore, good_train, evaluate_anomaly, choose_anomaly_threshold, nearest_distance, faiss_available,
                                image_score, choose_border)
from defect_nbs.models import latency_stats
from defect_nbs.benchmark import machine_info, append_results
from defect_nbs.export import patchcore_to_onnx, OnnxPatchCore, check_patchcore_parity

def nn_timing(det, images, repeats=3) -> dict:
    "Nearest-neighbour search alone on these images' patches: torch (blocked cdist) and, when installed, faiss (exact L2)."
    q = det.patch_features(images).reshape(-1, det.bank.shape[1]).contiguous()
    out, ref = {}, None
    def best(fn):
        fn(); t = []
        for _ in range(repeats): t0 = time.perf_counter(); fn(); t.append(time.perf_counter() - t0)
        return min(t) * 1000 / len(images)
    out['nn_torch_ms'] = best(lambda: nearest_distance(q, det.bank, backend='torch'))
    try:
        import faiss
        index = faiss.IndexFlatL2(det.bank.shape[1]); index.add(det.bank.numpy())
        out['nn_faiss_ms'] = best(lambda: index.search(q.numpy(), 1))
        d_faiss = np.sqrt(np.maximum(index.search(q.numpy(), 1)[0][:, 0], 0))
        out['nn_faiss_max_diff'] = float(np.abs(d_faiss - nearest_distance(q, det.bank, backend='torch').numpy()).max())
    except ImportError: out['nn_faiss_ms'] = float('nan')
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--arch', default='efficientnet_lite0'); ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--strides', type=int, nargs='+', default=[8, 16])
    ap.add_argument('--bank', type=float, default=0.01, help='bank rows: a count (>= 1) or a fraction of all patches')
    ap.add_argument('--projection', type=int, default=64, help='random-projection dims for the coreset (0: none)')
    ap.add_argument('--sigma', type=float, default=4.0); ap.add_argument('--resize', default='pad', help='pad keeps the aspect (texture scale): measured better than squish on magnetic tile')
    ap.add_argument('--border', default='auto', help="band at each edge left out of the image score, as a fraction of the long side; 'auto': chosen on valid (image AUROC)")
    ap.add_argument('--false-reject', type=float, default=0.01, help='target false-reject rate for the threshold on valid good images')
    ap.add_argument('--save', help='detector file (default runs/anomaly/<arch>_<size>_<bank>.safetensors); reused if it exists with this configuration')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'anomaly.csv'))
    ap.add_argument('--nn', default='auto', choices=['auto', 'faiss', 'torch'], help='nearest-neighbour backend for scoring')
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    bank = int(a.bank) if a.bank >= 1 else a.bank
    cfg = dict(arch=a.arch, size=a.size, strides=a.strides, bank_size=bank, projection=a.projection or None, sigma=a.sigma, resize=a.resize)
    save = Path(a.save or f'runs/anomaly/{a.arch}_{a.size}_{a.bank:g}_{root.name}.safetensors')
    det = PatchCore.load(save) if save.exists() else None
    if det is None or {k: v for k, v in det.config.items() if k != 'border'} != cfg:   # the border is chosen after fitting
        det = PatchCore(**cfg)
        det.fit(df, quiet=False)
        print('fitted', det.fit_info, flush=True)
    else: print('reusing', save, det.fit_info, flush=True)
    det.nn_backend = a.nn
    val = usable(df)[lambda d: d.split == 'valid']
    _, val_maps = det.score(list(val.path))
    borders = choose_border(val_maps, val.label)
    det.config['border'] = borders['border'] if a.border == 'auto' else float(a.border)
    val_scores = np.array([image_score(m, det.config['border']) for m in val_maps]); del val_maps
    print('valid image AUROC by border:', {k: round(v, 3) for k, v in borders['table'].items()}, '->', det.config['border'], flush=True)
    th = choose_anomaly_threshold(val_scores[val.label.values == GOOD], [GOOD] * int((val.label == GOOD).sum()), a.false_reject, 'quantile')
    det.thresholds = {'image': th['threshold'], 'method': 'quantile', 'false_reject_target': a.false_reject}
    det.save(save)
    overall, per_type, table = evaluate_anomaly(det, df, 'test', quiet=False)
    y, s = (table.label == BAD).to_numpy(), table.score.to_numpy()
    test_imgs = [load_image(p) for p in table.path[:20]]
    lat = latency_stats([(lambda t0: (det.score([im]), time.perf_counter() - t0)[1])(time.perf_counter()) for im in test_imgs])
    nn = nn_timing(det, test_imgs[:8])
    print('nn search per image (ms):', nn, flush=True)
    onnx_path = patchcore_to_onnx(det, save.with_suffix('.onnx'), test_imgs[:16])   # raises ParityError beyond 1e-3 (relative)
    ort_det = OnnxPatchCore(onnx_path, threads=torch.get_num_threads())
    parity = check_patchcore_parity(det, ort_det, test_imgs)
    ms = {}
    for _ in range(3):                                           # interleaved: PyTorch (nn as configured) and ONNX Runtime, best of 3
        for name, d in (('torch', det), ('onnx', ort_det)):
            t0 = time.perf_counter(); d.score(test_imgs); ms[name] = min(ms.get(name, 1e9), (time.perf_counter() - t0) * 1000 / len(test_imgs))
    onnx_cols = dict(onnx_relative_diff=parity['relative_diff'], onnx_mb=round(onnx_path.stat().st_size / 2**20, 2),
                     onnx_ms_per_image=round(ms['onnx'], 1), torch_ms_per_image_same_run=round(ms['torch'], 1))
    print('ONNX detector:', onnx_cols, flush=True)
    fi = det.fit_info
    base = dict(method='patchcore (ours)', backbone=a.arch, size=a.size, strides=' '.join(map(str, a.strides)), bank_size=bank, border=det.config['border'], border_choice='valid AUROC' if a.border == 'auto' else 'fixed',
                valid_auroc_by_border=' '.join(f'{k:g}:{v:.3f}' for k, v in borders['table'].items()),
                bank_rows=fi['bank_rows'], projection=a.projection, fit_images=fi['n_images'], fit_patches=fi['n_patches'],
                fit_s=round(fi['fit_s'], 1), features_s=round(fi['features_s'], 1), coreset_s=round(fi['coreset_s'], 1),
                bank_mb=round(fi['bank_mb'], 2), nn_backend=a.nn if a.nn != 'auto' else ('faiss' if faiss_available() else 'torch'), ms_per_image=round(overall['ms_per_image'], 1), p50_ms_batch1=round(lat['p50_ms'], 1),
                **{k: round(v, 3) for k, v in nn.items()}, **onnx_cols, threshold=th['threshold'], valid_good=th['n_good'],
                valid_false_reject_rate=th['false_reject_rate'], data=root.name, dedupe=a.dedupe,
                time=datetime.datetime.now().isoformat(timespec='seconds'),
                command=command_line())
    rows = []
    for name, m, sel in [('', overall, np.ones(len(y), bool))] + [(r.defect, r._asdict(), (~y) | ((table.defect == r.defect).to_numpy() & y))
                                                                 for r in per_type.itertuples(index=False)]:
        yy, flagged = y[sel], s[sel] >= th['threshold']
        fr, tp = int((flagged & ~yy).sum()), int((flagged & yy).sum())
        rl, rh = binomial_ci(tp, int(yy.sum()))
        fl, fh = binomial_ci(fr, int((~yy).sum()))
        rows.append(dict(base, defect=name, image_auroc=m['image_auroc'], pixel_auroc=m['pixel_auroc'], aupro=m['aupro'],
                         n_test=int(sel.sum()), n_bad=int(yy.sum()), test_recall=tp / max(yy.sum(), 1), test_recall_low=rl, test_recall_high=rh,
                         test_false_reject_rate=fr / max((~yy).sum(), 1), test_false_reject_low=fl, test_false_reject_high=fh))
    out = pd.DataFrame(rows)
    out = out.assign(**machine_info())
    print(out[['defect', 'image_auroc', 'pixel_auroc', 'aupro', 'test_recall', 'test_false_reject_rate', 'n_bad']].round(4).to_string(), flush=True)
    print({k: base[k] for k in ('fit_s', 'features_s', 'coreset_s', 'bank_mb', 'ms_per_image', 'p50_ms_batch1', 'threshold')}, flush=True)
    append_results(out, a.out)

if __name__ == '__main__': main()
