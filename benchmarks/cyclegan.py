"""How real do CycleGAN's Good->Bad translations look? The CycleGAN of `defect_nbs.gan`, measured like the other generators.

Trains a CycleGAN (`gan.train_cyclegan`: ResNet generators, PatchGAN discriminators, adversarial + cycle + identity
losses) on the train split's real Good and Bad images (magnetic tile, near-duplicates grouped with
`scan(root, dedupe=0.9)`; nothing from valid or test is read), squished to `--size` px, for `--epochs` of `--steps`
batches or until `--minutes` of training have passed, resuming from its last checkpoint (a killed or time-bounded run
continues on the next call). Then translates every train Good image to Bad (G) and scores the translations against the
real train Bad images on the offline EfficientNet-Lite0 features (ImageNet, pooled, 224 px): Fréchet distance, KID and a
logistic regression's grouped 5-fold real-vs-synthetic ROC-AUC (synthetic = positive; 0.5 = indistinguishable). A
reference row scores the untranslated Good images the same way: a translation that helps lands closer to the real Bad
images than Good parts already are. These are whole parts at `--size` px, not the 64 px defect crops of `gan.py`'s rows.
Rows go to benchmarks/results/gan_quality.csv with the epochs trained, the training seconds, the command and the machine.
CycleGAN images have no mask, so they cannot feed the `segment` recipe of `synthetic.py`; they are scored here only.

    python benchmarks/cyclegan.py --step train --epochs 20 --minutes 10     # repeat until it says the epochs are done
    python benchmarks/cyclegan.py --step quality --epochs 20
"""
import argparse, datetime, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.synth import real_train
from defect_nbs.gan import good_bad_images, train_cyclegan, translate, gan_quality, sample_grid
from defect_nbs.benchmark import append_results, machine_info

RESULTS = Path(__file__).parent / 'results'

def run_dir(a) -> Path: return Path(a.runs) / f'cyclegan_{a.size}px_w{a.width}_b{a.blocks}_s{a.steps}_seed{a.seed}'

def train(a, good, bad):
    "Train (resume) up to `a.epochs`, stopping after `a.minutes`; returns (nets, history)."
    kw = dict(width=a.width, n_blocks=a.blocks, steps=a.steps, dest=run_dir(a), seed=a.seed, quiet=True)
    nets, hist = train_cyclegan(good, bad, epochs=0, **kw)   # where the last run stopped
    t0 = time.perf_counter()
    for e in range(len(hist) + 1, a.epochs + 1):
        if time.perf_counter() - t0 > 60 * a.minutes: print(f'time budget reached after epoch {e - 1}', flush=True); break
        nets, hist = train_cyclegan(good, bad, epochs=e, **kw)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in hist.iloc[-1].to_dict().items()}, flush=True)
    return nets, hist

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--step', default='all', choices=('train', 'quality', 'all'))
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--dedupe', type=float, default=0.9, help='near-duplicate threshold for grouping (0 = off)')
    ap.add_argument('--size', type=int, default=128, help='image side in px (a multiple of 4)')
    ap.add_argument('--width', type=int, default=32, help="generator width (the paper's 64 is 4x the compute)")
    ap.add_argument('--blocks', type=int, default=6, help='residual blocks of the generators')
    ap.add_argument('--steps', type=int, default=200, help='batches (of one image) per epoch')
    ap.add_argument('--epochs', type=int, default=20); ap.add_argument('--minutes', type=float, default=10.0, help='training time per call')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--runs', default=str(Path(__file__).resolve().parents[1] / 'runs' / 'gan'))
    ap.add_argument('--out', default=str(RESULTS / 'gan_quality.csv'))
    a = ap.parse_args()
    root = a.data or find_magnetic_tile() or builtin_dataset()
    df = scan(root, dedupe=a.dedupe if a.dedupe else False, quiet=True)
    good, bad = good_bad_images(df, a.size)   # the train split only
    print(f'{len(good)} Good and {len(bad)} Bad train images at {a.size} px', flush=True)
    if a.step in ('train', 'all'):
        nets, hist = train(a, good, bad)
        print(f'{len(hist)} of {a.epochs} epochs done')
        if a.step == 'train': return
    command = command_line([sys.argv[0], '--step', 'quality'] + [x for x in sys.argv[1:] if x not in ('--step', 'quality', 'all', 'train')])
    if Path(a.out).exists() and command in set(pd.read_csv(a.out)['command'].dropna()):
        print(f'already in {a.out}: {command}'); return
    a.minutes = 0   # scoring only: no more training here
    nets, hist = train(a, good, bad)
    if len(hist) < a.epochs: print(f'warning: the CycleGAN has {len(hist)} of {a.epochs} epochs; scoring it as it is', flush=True)
    train_s = float(hist['seconds'].sum()) if 'seconds' in hist else float('nan')
    fake = translate(nets['gen_ab'], good)
    grid = sample_grid(np.concatenate([good[:8], fake[:8], bad[:8]]), ncol=8)
    Image.fromarray(grid).save(run_dir(a) / 'good_translated_bad.png')
    rows = real_train(df)   # the rows `good_bad_images` read, in its order: groups for the AUROC's folds
    groups = np.r_[np.array(rows[rows.label == BAD].group, dtype=object), np.array(rows[rows.label == GOOD].group, dtype=object)]
    for name, images in (('cyclegan', fake), ('good (untranslated reference)', good)):
        t_q = time.process_time()
        q = gan_quality(bad, images, name, groups=groups)
        row = dict(**q, images=f'whole parts, {a.size} px squished; real = train Bad', cyclegan_epochs=len(hist),
                   cyclegan_train_s=round(train_s, 1), cpu_s=round(train_s, 1) if name == 'cyclegan' else 0.0,
                   quality_cpu_s=round(time.process_time() - t_q, 1), data=Path(root).name, dedupe=a.dedupe,
                   time=datetime.datetime.now().isoformat(timespec='seconds'), command=command, **machine_info())
        print({k: row[k] for k in ('generator', 'fid', 'kid', 'kid_std', 'real_vs_synthetic_auroc', 'n_real', 'n_fake')}, flush=True)
        append_results(pd.DataFrame([row]), a.out)

if __name__ == '__main__': main()
