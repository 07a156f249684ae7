import numpy as np, pandas as pd, torch, sys
from sklearn.metrics import roc_auc_score
from defect_nbs.anomaly import PatchCore, _shrunk
torch.set_num_threads(2)
d = pd.read_csv('runs/anomaly_probes/fuse_scores.csv')
det = PatchCore.load(sys.argv[1] if len(sys.argv) > 1 else 'runs/anomaly/efficientnet_lite0_256_0.01_magnetic_tile.safetensors')
maps = []
for i in range(0, len(d), 16):
    maps += [_shrunk(m, 256, 1) for m in det.score(list(d.path[i:i+16]))[1]]
np.save('runs/anomaly_probes/maps.npy', np.array(maps, dtype=object), allow_pickle=True)
y = (d.label != 'good').astype(int).values
for b in (0, 2, 4, 8, 12, 16, 24):
    s = np.array([m[b:m.shape[0]-b, b:m.shape[1]-b].max() if b else m.max() for m in maps])
    print('margin', b, ' '.join(f'{sp} %.3f' % roc_auc_score(y[d.split == sp], s[d.split == sp]) for sp in ('valid', 'test')))
