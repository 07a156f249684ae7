import numpy as np, pandas as pd, torch, sys, time
from PIL import Image, ImageOps
from sklearn.metrics import roc_auc_score
from defect_nbs.data import scan
from defect_nbs.models import Preprocess
from defect_nbs.anomaly import PatchCore, _shrunk, anomaly_metrics, _masks_for
torch.set_num_threads(2)
variant = sys.argv[1]
if variant == 'reflect':
    def resize_image(self, img, resample=None):
        resample = Image.BILINEAR if resample is None else resample
        if self.resize != 'pad': return orig(self, img, resample)
        w, h = img.size; s = self.size / max(w, h); nw, nh = max(1, round(w * s)), max(1, round(h * s))
        a = np.asarray(img.resize((nw, nh), resample)); px, py = self.size - nw, self.size - nh
        pad = [(py // 2, py - py // 2), (px // 2, px - px // 2)] + [(0, 0)] * (a.ndim - 2)
        return Image.fromarray(np.pad(a, pad, mode='symmetric'))
    orig = Preprocess.resize_image; Preprocess.resize_image = resize_image
idx = scan('/work/shared/data/magnetic_tile', dedupe=0.9, quiet=True)
d = pd.read_csv('runs/anomaly_probes/fuse_scores.csv')
kw = dict(resize='squish') if variant == 'squish' else {}
if variant.startswith('size'): kw = dict(size=int(variant[4:]))
det = PatchCore(**kw); t0 = time.time(); det.fit(idx); print(variant, 'fit', round(time.time() - t0), det.fit_info['bank_rows'])
maps = []
for i in range(0, len(d), 16): maps += [_shrunk(m, 256, 1) for m in det.score(list(d.path[i:i+16]))[1]]
y = (d.label != 'good').astype(int).values
for b in (0, 4, 8, 16):
    s = np.array([m[b:m.shape[0]-b, b:m.shape[1]-b].max() if b else m.max() for m in maps])
    print(variant, 'margin', b, ' '.join(f'{sp} %.3f' % roc_auc_score(y[d.split == sp], s[d.split == sp]) for sp in ('valid', 'test')))
te = (d.split == 'test').values
tm = [m for m, k in zip(maps, te) if k]; rows = d[te].reset_index(drop=True)
print(variant, {k: round(v, 3) for k, v in anomaly_metrics([m.max() for m in tm], tm, _masks_for(rows, tm), rows.label, None).items()})
