# PatchCore's image-score re-weighting (Roth et al. eq. 7) on the cached detector: valid/test image AUROC
import numpy as np, pandas as pd, torch
from sklearn.metrics import roc_auc_score
from defect_nbs.anomaly import PatchCore, image_score
from defect_nbs.data import scan, usable
torch.set_num_threads(2)
det = PatchCore.load('runs/anomaly/efficientnet_lite0_256_0.01_magnetic_tile.safetensors')
df = usable(scan('/work/shared/data/magnetic_tile', dedupe=0.9, quiet=True))
rows = df[df.split.isin(['valid', 'test'])].reset_index(drop=True)
bank = det.bank
out = {b: [] for b in (1, 3, 9)}; base = []
for i in range(0, len(rows), 16):
    ims = [__import__('defect_nbs.data', fromlist=['load_image']).load_image(p) for p in rows.path[i:i+16]]
    f = det.patch_features(ims)                       # (n, h, w, d)
    n, h, w, d = f.shape
    q = f.reshape(-1, d)
    dist = torch.cdist(q, bank)                       # (n*h*w, B)
    s, nn = dist.min(1)
    s, nn = s.reshape(n, h * w), nn.reshape(n, h * w)
    for k in range(n):
        j = int(s[k].argmax()); m_star = bank[nn[k, j]]
        base.append(float(s[k, j]))
        for b in out:
            nb = torch.cdist(m_star[None], bank)[0].topk(b + 1, largest=False).indices   # m* and its b nearest bank neighbours
            dq = torch.cdist(q.reshape(n, h * w, d)[k, j][None], bank[nb])[0]
            wgt = 1 - torch.softmax(dq, 0)[0]
            out[b].append(float(wgt * s[k, j]))
y = (rows.label != 'good').values
for name, sc in [('raw grid max', base)] + [(f'reweighted b={b}', v) for b, v in out.items()]:
    sc = np.array(sc)
    print(name, ' '.join(f"{sp} %.3f" % roc_auc_score(y[rows.split == sp], sc[rows.split == sp]) for sp in ('valid', 'test')))
