# quick fusion experiment: classifier P(Bad) + its map score + PatchCore score on valid/test
import numpy as np, pandas as pd, torch, json, time
from defect_nbs.core import *
from defect_nbs.data import scan, usable, load_image
from defect_nbs.models import load_model
from defect_nbs.metrics import apply_temperature
from defect_nbs.pipeline import cam_localizer
from defect_nbs.ensemble import *
from defect_nbs.anomaly import PatchCore
torch.set_num_threads(2)
from pathlib import Path; Path('runs/anomaly_probes').mkdir(parents=True, exist_ok=True)
f = json.load(open('runs/magnetic_tile/report.json'))
idx = scan('/work/shared/data/magnetic_tile', dedupe=0.9, quiet=True); ok = usable(idx)
model = load_model('runs/magnetic_tile/model.safetensors')
loc = cam_localizer(model, f['localization']['threshold'])
det = PatchCore.load('runs/anomaly/efficientnet_lite0_256_0.01_magnetic_tile.safetensors')
out = []
for s in ('valid', 'test'):
    r = ok[ok.split == s].reset_index(drop=True)
    ims = [load_image(p, model.preprocess.mode) for p in r.path]
    p = apply_temperature(1 - model.predict(ims)[:, 0], f['classifier']['temperature'])
    m = np.array([box_score(b) for b in loc(ims)])
    a, _ = det.score(list(r.path))
    out.append(r[['path', 'label', 'defect', 'group']].assign(split=s, p_bad=p, map_score=m, anomaly=a))
pd.concat(out).to_csv('runs/anomaly_probes/fuse_scores.csv', index=False)
