"""Image score from the detector's map: the largest value (the chapter's choice) against a top-k mean and max - median,
each with an edge band, with and without flip test-time augmentation (the maps of the image, its mirror and its
upside-down copy averaged). Every variant is chosen on valid (image AUROC) and reported on test; nothing is written.

    python benchmarks/anomaly_probes/aggregate.py

Reuses the detector `benchmarks/anomaly.py --dedupe 0.9 --arch efficientnet_lite0 --size 256 --bank 0.01 --border auto`
saved under runs/anomaly/.
"""
import numpy as np, torch
from PIL import Image
from defect_nbs.core import find_magnetic_tile, BAD
from defect_nbs.data import scan, usable, load_image
from defect_nbs.anomaly import PatchCore, image_auroc, without_border
torch.set_num_threads(2)

FLIPS = {'none': None, 'mirror': Image.FLIP_LEFT_RIGHT, 'upside-down': Image.FLIP_TOP_BOTTOM}

def flip_maps(det, images, how):
    "The detector's maps of the flipped images, flipped back onto the originals."
    if how is None: return det.score(images)[1]
    maps = det.score([im.transpose(how) for im in images])[1]
    return [np.fliplr(m) if how == Image.FLIP_LEFT_RIGHT else np.flipud(m) for m in maps]

AGGREGATES = {
    'max': lambda m: m.max(),
    'top 0.1 % mean': lambda m: np.sort(m, axis=None)[-max(1, m.size // 1000):].mean(),
    'top 1 % mean': lambda m: np.sort(m, axis=None)[-max(1, m.size // 100):].mean(),
    'max - median': lambda m: m.max() - np.median(m),
}
BORDERS = (0.0, 0.04, 0.08, 0.12)

def main():
    df = scan(find_magnetic_tile(), quiet=True, dedupe=0.9)
    det = PatchCore.load('runs/anomaly/efficientnet_lite0_256_0.01_magnetic_tile.safetensors')
    maps, labels = {}, {}
    for split in ('valid', 'test'):
        d = usable(df)[lambda x: x.split == split]
        images, labels[split] = [load_image(p) for p in d.path], (d.label == BAD).to_numpy().astype(int)
        per_flip = {k: flip_maps(det, images, v) for k, v in FLIPS.items()}
        maps[split] = {'no TTA': per_flip['none'],
                       'flip TTA (3 maps)': [np.mean(ms, axis=0) for ms in zip(*per_flip.values())]}
        print(split, len(images), 'images,', int(labels[split].sum()), 'Bad', flush=True)
    rows = []
    for tta in maps['valid']:
        for agg, fn in AGGREGATES.items():
            for border in BORDERS:
                auc = {s: image_auroc([fn(without_border(m, border)) for m in maps[s][tta]], labels[s]) for s in ('valid', 'test')}
                rows.append((tta, agg, border, auc['valid'], auc['test']))
    print(f"{'maps':18} {'image score':15} {'band':>5} {'valid':>6} {'test':>6}")
    for r in rows: print(f'{r[0]:18} {r[1]:15} {r[2]:5.2f} {r[3]:6.3f} {r[4]:6.3f}')
    best = max(rows, key=lambda r: r[3])
    print('chosen on valid:', best[:3], f'valid {best[3]:.3f}, test {best[4]:.3f}')
    ref = next(r for r in rows if r[:3] == ('no TTA', 'max', 0.08))
    print('the chapter (no TTA, max, 8 % band):', f'valid {ref[3]:.3f}, test {ref[4]:.3f}')

if __name__ == '__main__': main()
