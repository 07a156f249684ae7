import numpy as np, pandas as pd, torch
from defect_nbs.anomaly import PatchCore
from defect_nbs.data import load_image
torch.set_num_threads(2)
d = pd.read_csv('runs/anomaly_probes/fuse_scores.csv'); t = d[d.split == 'test']
det = PatchCore.load('runs/anomaly/efficientnet_lite0_256_0.01_magnetic_tile.safetensors')
g = t[t.label == 'good'].sort_values('anomaly', ascending=False).head(12)
b = t[t.label != 'good'].sort_values('anomaly').head(8)
for name, rows in (('top good', g), ('lowest bad', b)):
    s, maps = det.score(list(rows.path))
    for (_, r), m in zip(rows.iterrows(), maps):
        y, x = np.unravel_index(m.argmax(), m.shape); h, w = m.shape
        print(name, r.path.split('/')[-2][:12], r.path.split('/')[-1][:20], f'{w}x{h}', 'score %.1f' % r.anomaly, 'at x %.2f y %.2f' % (x / w, y / h), 'edge dist px', min(x, y, w - 1 - x, h - 1 - y))
print(t.groupby('label').anomaly.describe())
