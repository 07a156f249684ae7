"""anomalib's PatchCore, side by side with ours (issue 16, "the peer"): same leak-free split, same backbone weights.

Three steps, two environments. Steps 1 and 3 run in the project's environment (/work/main/.venv); step 2 runs in
anomalib's own environment, which reuses the project's torch (2.14.1) and torchvision through a `.pth` file, so no
second torch is downloaded:

    # the environment (once; outside the repo; about 3 minutes from the local package index)
    python3.11 -m venv /work/venv-anomalib
    echo /work/main/.venv/lib/python3.11/site-packages > /work/venv-anomalib/lib/python3.11/site-packages/main_venv.pth
    /work/venv-anomalib/bin/pip install --no-deps anomalib==2.7.0
    /work/venv-anomalib/bin/pip install docstring-parser einops freia imagecodecs "jsonargparse[signatures]>=4.27.7,<4.47.0" \
        kornia lightning lightning-utilities matplotlib omegaconf opencv-python-headless pandas pillow platformdirs rich \
        rich-argparse scikit-image scikit-learn tifffile timm torchmetrics       # pip resolves torch from the .pth: no reinstall

    export OMP_NUM_THREADS=2
    # 1. the split (scan, near-duplicates grouped at 0.9) and our offline ImageNet weights, as files
    flock /tmp/torch.lock .venv/bin/python benchmarks/anomalib_peer.py prepare --dedupe 0.9
    # 2. anomalib's PatchcoreModel fitted on train Good, scoring test (its pre-processor, its maps and image scores)
    flock /tmp/torch.lock /work/venv-anomalib/bin/python benchmarks/anomalib_peer.py run
    # 3. the metrics with OUR definitions (defect_nbs.anomaly.anomaly_metrics), rows appended to results/anomaly.csv
    .venv/bin/python benchmarks/anomalib_peer.py metrics

On 2 CPU cores its greedy selection takes ~0.3 s per step, so a 1 % bank (6,809 steps) would take ~33 minutes: `run` times
a probe of its own steps, extrapolates, and uses the largest ratio whose selection fits `--coreset-budget-s` (240 s),
recording both ratios and the extrapolated 1 % fit time in its rows.

Files go to runs/anomalib_peer/ (git-ignored): split.csv, backbone.safetensors, scores.npz, run.json.

What is the same as ours: the split (fit on the train split's usable Good images only; scored on test), the backbone
(timm `tf_efficientnet_lite0`, our offline ImageNet weights loaded into anomalib's `TimmFeatureExtractor`, checked
tensor by tensor), the levels (timm blocks 2 and 4: strides 8 and 16, 40 + 112 = 152 dims), 3x3 local averaging, a 1 %
greedy coreset, the map upsampled and blurred with sigma 4, the metric code.
What differs (anomalib's choices, kept): its pre-processor squashes every image to 256x256 (ours pads to keep the aspect);
its coreset runs k-center greedy on a 331-dim sparse random projection (ours on 64 dims); its image score is the
largest patch distance re-weighted by the paper's neighbourhood softmax (num_neighbors=9; ours: the largest map value,
optionally without an edge band); its map is nearest-upsampled then blurred (ours: bilinear). Its post-processor's
min-max normalisation is monotone and left out (AUROC and AUPRO are unchanged by it). Its map (256x256 squashed) is
resized back to each image's own size, then shrunk to 256 px on the long side with the mask, as for ours.
"""
import argparse, datetime, json, os, resource, shlex, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / 'runs' / 'anomalib_peer'
LAYERS = ['blocks.2', 'blocks.4']          # tf_efficientnet_lite0: strides 8 and 16 (timm feature_info)
TIMM_NAME = 'tf_efficientnet_lite0'

def prepare(a):
    "Project env: write the split and our offline backbone weights."
    import torch
    from safetensors.torch import save_file
    from defect_nbs.core import find_magnetic_tile
    from defect_nbs.data import scan, usable
    from defect_nbs.models import create_model
    root = Path(a.data) if a.data else find_magnetic_tile()
    df = usable(scan(root, dedupe=a.dedupe, quiet=True))
    WORK.mkdir(parents=True, exist_ok=True)
    df[['path', 'label', 'defect', 'mask', 'split']].to_csv(WORK / 'split.csv', index=False)
    state = {k: v.contiguous() for k, v in create_model('efficientnet_lite0', pretrained=True).backbone.state_dict().items()}
    save_file(state, str(WORK / 'backbone.safetensors'))
    json.dump(dict(data=root.name, dedupe=a.dedupe), open(WORK / 'prepare.json', 'w'))
    print(f'{len(df)} images ({(df.split == "train").sum()} train, {(df.split == "test").sum()} test); {len(state)} tensors', flush=True)

def probe_size(n, ratio): return int(n * ratio)        # KCenterGreedy's coreset_size

def _rss_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run(a):
    "anomalib env: fit anomalib's PatchcoreModel on train Good with our weights, score test, save scores and maps."
    import pandas as pd, torch, anomalib
    from PIL import Image
    from safetensors.torch import load_file
    from torchvision.transforms.functional import pil_to_tensor
    from anomalib.models import Patchcore
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel
    from anomalib.models.components import KCenterGreedy
    df = pd.read_csv(WORK / 'split.csv', keep_default_na=False)
    model = PatchcoreModel(layers=LAYERS, backbone=TIMM_NAME, pre_trained=False, num_neighbors=a.neighbors)
    net = model.feature_extractor.feature_extractor
    ours = load_file(str(WORK / 'backbone.safetensors'))
    missing, unexpected = net.load_state_dict(ours, strict=False)
    loaded = [k for k in net.state_dict() if k in ours]
    # keys of the features-only net that our weights do not hold (beyond its levels' reach) are allowed; none that it uses
    assert not [k for k in missing if not k.startswith(('blocks.5', 'blocks.6', 'conv_head', 'bn2'))], missing
    same = all(torch.equal(net.state_dict()[k], ours[k]) for k in loaded)
    probe = 'blocks.4.0.conv_pw.weight'
    print(f'weights: {len(loaded)} tensors loaded, all equal: {same}; {probe} sum {net.state_dict()[probe].sum():.6f} vs ours {ours[probe].sum():.6f};'
          f' missing {len(missing)}, unexpected {len(unexpected)}; feature_info {net.feature_info.reduction()} {net.feature_info.channels()}', flush=True)
    assert same and probe in loaded
    transform = Patchcore.configure_pre_processor(image_size=(a.size, a.size)).transform
    def batch(paths):
        ims = [Image.open(p).convert('RGB') for p in paths]
        return torch.stack([transform(pil_to_tensor(im).float() / 255) for im in ims]), [im.size for im in ims]
    train = df[(df.split == 'train') & (df.label == 'good')]
    assert len(train), 'no good training images in split.csv'
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', torch.get_num_threads())))
    model.train()                                             # training mode: forward stores embeddings (the extractor stays in eval)
    t0 = time.perf_counter()
    for i in range(0, len(train), a.batch): model(batch(list(train.path[i:i + a.batch]))[0])
    t_feat = time.perf_counter() - t0
    n_patches = sum(e.shape[0] for e in model.embedding_store)
    # anomalib's k-center greedy on 2 CPU cores: time its own steps (projection, then `a.probe` greedy iterations) at the
    # requested ratio, extrapolate the full selection, and use the largest ratio whose selection fits `a.coreset_budget_s`
    emb = torch.vstack(model.embedding_store); model.embedding_store.clear()
    t1 = time.perf_counter()
    probe = KCenterGreedy(embedding=emb, sampling_ratio=a.coreset)
    probe.model.fit(emb); probe.features = probe.model.transform(emb); probe.reset_distances()
    t_proj = time.perf_counter() - t1
    idx = torch.randint(high=probe.n_observations, size=(1,)).squeeze(); t1 = time.perf_counter()
    for _ in range(a.probe):
        probe.update_distances(cluster_center=idx); idx = probe.get_new_idx(); probe.min_distances.scatter_(0, idx.unsqueeze(0).unsqueeze(1), 0.0)
    per_iter = (time.perf_counter() - t1) / a.probe
    proj_dims = int(probe.features.shape[1]); del probe
    coreset_full_est = t_proj + per_iter * probe_size(n_patches, a.coreset)
    ratio = a.coreset if coreset_full_est <= a.coreset_budget_s else max(1, int((a.coreset_budget_s - t_proj) / per_iter)) / n_patches
    print(f'coreset probe: projection to {proj_dims} dims {t_proj:.1f} s, {per_iter * 1000:.0f} ms per greedy step; {a.coreset:g} '
          f'({probe_size(n_patches, a.coreset)} rows) would take {coreset_full_est:.0f} s -> ratio used {ratio:.5f}', flush=True)
    model.embedding_store = [emb]; del emb
    t1 = time.perf_counter()
    model.subsample_embedding(ratio)
    t_core = time.perf_counter() - t1
    fit_s = t_feat + t_core
    rss_fit = _rss_mb()
    bank = model.memory_bank
    print(f'fit {fit_s:.1f} s (features {t_feat:.1f} s, coreset {t_core:.1f} s); {n_patches} patches -> bank {tuple(bank.shape)}'
          f' {bank.numel() * 4 / 2**20:.2f} MB; peak RSS {rss_fit:.0f} MB', flush=True)
    model.eval()
    test = df[df.split == 'test']
    scores, maps, sizes = [], [], []
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(test), a.batch):
            x, sz = batch(list(test.path[i:i + a.batch]))
            out = model(x)
            scores += out.pred_score.flatten().tolist(); maps += list(out.anomaly_map[:, 0].numpy()); sizes += sz
    ms = (time.perf_counter() - t0) * 1000 / len(test)
    np.savez_compressed(WORK / 'scores.npz', scores=np.array(scores, np.float32), maps=np.stack(maps).astype(np.float32),
                        sizes=np.array(sizes), paths=np.array(list(test.path)))
    info = dict(anomalib=anomalib.__version__, torch=torch.__version__, fit_s=round(fit_s, 1), features_s=round(t_feat, 1),
                coreset_s=round(t_core, 1), coreset_requested=a.coreset, coreset_used=ratio, coreset_projection_dims=proj_dims,
                coreset_projection_s=round(t_proj, 1), coreset_ms_per_step=round(per_iter * 1000, 1),
                fit_s_full_coreset_est=round(t_feat + coreset_full_est, 1), fit_images=len(train), fit_patches=n_patches, bank_rows=int(bank.shape[0]),
                bank_mb=round(bank.numel() * 4 / 2**20, 2), ms_per_image=round(ms, 1), peak_rss_fit_mb=round(rss_fit),
                peak_rss_mb=round(_rss_mb()), size=a.size, coreset=a.coreset, neighbors=a.neighbors, batch=a.batch,
                threads=torch.get_num_threads(), command=f'{sys.executable} benchmarks/anomalib_peer.py ' + shlex.join(sys.argv[1:]))
    json.dump(info, open(WORK / 'run.json', 'w'), indent=1)
    print(info, flush=True)

def metrics(a):
    "Project env: our metric functions on anomalib's scores and maps; rows appended to results/anomaly.csv."
    import pandas as pd
    from PIL import Image
    from scipy import ndimage
    from defect_nbs.anomaly import anomaly_metrics
    from defect_nbs.data import load_mask
    from defect_nbs.benchmark import machine_info
    df = pd.read_csv(WORK / 'split.csv', keep_default_na=False)
    test = df[df.split == 'test'].reset_index(drop=True)
    z, info, prep = np.load(WORK / 'scores.npz'), json.load(open(WORK / 'run.json')), json.load(open(WORK / 'prepare.json'))
    assert list(z['paths']) == list(test.path), 'scores.npz does not match split.csv'
    maps = [ndimage.zoom(m, (h / m.shape[0], w / m.shape[1]), order=1) for m, (w, h) in zip(z['maps'], z['sizes'])]   # back to each image's own size
    masks = [load_mask(p, (w, h)) if p else np.zeros((h, w), bool) for p, (w, h) in zip(test['mask'], z['sizes'])]
    maps = [m[:k.shape[0], :k.shape[1]] if m.shape != k.shape else m for m, k in zip(maps, masks)]
    scores, labels = z['scores'], list(test.label)
    bad = (test.label == 'bad').to_numpy()
    rows = []
    for name in [''] + sorted(test.defect[bad].unique()):
        sel = np.ones(len(test), bool) if not name else (~bad) | (bad & (test.defect == name).to_numpy())
        idx = np.flatnonzero(sel)
        m = anomaly_metrics(scores[idx], [maps[i] for i in idx], [masks[i] for i in idx], [labels[i] for i in idx], max_side=256)
        rows.append(dict(defect=name, image_auroc=m['image_auroc'], pixel_auroc=m['pixel_auroc'], aupro=m['aupro'], n_test=m['n'], n_bad=m['n_bad']))
    base = dict(method=f"patchcore (anomalib {'.'.join(info['anomalib'].split('.')[:2])})", backbone='efficientnet_lite0', size=info['size'],
                strides='8 16', bank_size=info['coreset_used'], coreset_requested=info['coreset_requested'], fit_s_full_coreset_est=info['fit_s_full_coreset_est'], coreset_ms_per_step=info['coreset_ms_per_step'], bank_rows=info['bank_rows'], projection=info['coreset_projection_dims'], fit_images=info['fit_images'],
                fit_patches=info['fit_patches'], fit_s=info['fit_s'], features_s=info['features_s'], coreset_s=info['coreset_s'],
                bank_mb=info['bank_mb'], ms_per_image=info['ms_per_image'], peak_rss_mb=info['peak_rss_mb'], data=prep['data'], dedupe=prep['dedupe'],
                time=datetime.datetime.now().isoformat(timespec='seconds'),
                command='; '.join([f"python benchmarks/anomalib_peer.py prepare --dedupe {prep['dedupe']}", info['command'], 'python benchmarks/anomalib_peer.py metrics']))
    out = pd.DataFrame([dict(base, **r) for r in rows]).assign(**machine_info())
    out['torch'] = info['torch']
    print(out[['defect', 'image_auroc', 'pixel_auroc', 'aupro', 'n_test', 'n_bad']].round(4).to_string(), flush=True)
    print({k: base[k] for k in ('fit_s', 'features_s', 'coreset_s', 'bank_mb', 'ms_per_image', 'peak_rss_mb')}, flush=True)
    if not a.dry: append_text(out, a.out)

def append_text(rows, path):
    "Append `rows` to the CSV at `path` leaving the existing rows' text as it is (only new columns, empty, are added to them)."
    import pandas as pd
    path = Path(path)
    old = pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else pd.DataFrame()
    new = rows.astype(object).where(rows.notna(), '').astype(str)
    out = pd.concat([old, new], ignore_index=True).fillna('')
    tmp = path.with_suffix('.tmp'); out.to_csv(tmp, index=False); os.replace(tmp, path)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('step', choices=['prepare', 'run', 'metrics'])
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float, default=0.9)
    ap.add_argument('--size', type=int, default=256); ap.add_argument('--coreset', type=float, default=0.01)
    ap.add_argument('--coreset-budget-s', type=float, default=240, help='run: largest coreset selection time; a smaller ratio is used if the requested one would exceed it (extrapolated from a probe)')
    ap.add_argument('--probe', type=int, default=40, help='run: greedy steps timed to extrapolate the coreset time')
    ap.add_argument('--neighbors', type=int, default=9); ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--out', default=str(HERE / 'results' / 'anomaly.csv')); ap.add_argument('--dry', action='store_true', help='metrics: print, do not append')
    a = ap.parse_args()
    dict(prepare=prepare, run=run, metrics=metrics)[a.step](a)

if __name__ == '__main__': main()
