"""How real do the generated defects look? The DCGAN of `defect_nbs.gan` against cut-paste and procedural defects (`synth`).

Trains a DCGAN (64 px, grey, with a mask channel) on the defect crops of the train split's real Bad images (magnetic tile,
near-duplicates grouped with `scan(root, dedupe=0.9)`; nothing from valid or test is read), for `--epochs` or until
`--minutes` of training have passed, resuming from its last checkpoint (a killed or time-bounded run continues on the next
call). Then makes `--per-bad` synthetic images per real train Bad image with each generator (dcgan: `gan.gan_defects`;
cutpaste, procedural: `synth.add_synthetic`; all checked with `data.check_no_leak`). The crops scored: the DCGAN's own samples
(as many as the real crops, the top `--keep` by its discriminator's score), and 64 px squares around the defects of the
cut-paste and procedural images, cut exactly as the real ones were. It scores each generator's crops against the real train-split crops on the offline EfficientNet-Lite0 features (ImageNet,
pooled, 224 px): Fréchet distance, KID (mean, std over subsets), and a logistic regression's grouped 5-fold real-vs-synthetic
ROC-AUC (synthetic = positive; 0.5 = indistinguishable). One row per generator in benchmarks/results/gan_quality.csv, with
the counts, the seconds it took (`cpu_s`: making the images, plus the DCGAN's training epochs for dcgan), the command and the machine; a generator already scored by the same command is skipped.

    python benchmarks/gan.py --step train --epochs 60 --minutes 8     # repeat until it says the epochs are done
    python benchmarks/gan.py --step quality --epochs 60
"""
import argparse, datetime, json, shlex, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from defect_nbs.core import *
from defect_nbs.data import scan, builtin_dataset, check_no_leak
from defect_nbs.synth import add_synthetic
from defect_nbs.gan import defect_crops, train_dcgan, gan_defects, gan_quality, feature_name, sample_grid, sample_dcgan
from defect_nbs.benchmark import append_results, machine_info

RESULTS = Path(__file__).parent / 'results'

def load_index(a):
    root = a.data or find_magnetic_tile() or builtin_dataset()
    return scan(root, dedupe=a.dedupe if a.dedupe else False, quiet=True), str(root)

def run_dir(a) -> Path: return Path(a.runs) / f'dcgan_{a.size}px_w{a.width}_seed{a.seed}'

def train(a, df):
    "Train (resume) the DCGAN for up to `a.epochs`, stopping after `a.minutes`; returns (gen, disc, history, cpu seconds this call)."
    crops, masks, where = defect_crops(df, a.size, margin=a.margin)
    print(f'{len(crops)} defect crops from {where.path.nunique()} train-split Bad images', flush=True)
    t_cpu, t0 = time.process_time(), time.perf_counter()
    kw = dict(size=a.size, width=a.width, bs=a.bs, seed=a.seed, dest=run_dir(a), sources=where.path, quiet=True)
    gen, disc, hist = train_dcgan(crops, masks, epochs=0, **kw)   # where the last run stopped
    for e in range(len(hist) + 1, a.epochs + 1):
        if time.perf_counter() - t0 > 60 * a.minutes: print(f'time budget reached after epoch {e - 1}', flush=True); break
        gen, disc, hist = train_dcgan(crops, masks, epochs=e, **kw)
        print(hist.iloc[-1].to_dict(), flush=True)
    gen.crop_side = int(where.side.median())
    return gen, disc, hist, time.process_time() - t_cpu, crops, masks, where

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--step', default='all', choices=('train', 'quality', 'all'))
    ap.add_argument('--data', default=None, help='dataset folder (default: magnetic tile, else the built-in one)')
    ap.add_argument('--dedupe', type=float, default=0.9, help='near-duplicate threshold for grouping (0 = off)')
    ap.add_argument('--size', type=int, default=64); ap.add_argument('--width', type=int, default=64)
    ap.add_argument('--bs', type=int, default=64); ap.add_argument('--margin', type=int, default=8)
    ap.add_argument('--epochs', type=int, default=60); ap.add_argument('--minutes', type=float, default=8.0, help='training time per call')
    ap.add_argument('--per-bad', type=float, default=1.0); ap.add_argument('--keep', type=float, default=0.5, help='DCGAN samples kept by score')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--runs', default=str(Path(__file__).resolve().parents[1] / 'runs' / 'gan'))
    ap.add_argument('--out', default=str(RESULTS / 'gan_quality.csv'))
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 16)))
    df, root = load_index(a)
    if a.step in ('train', 'all'):
        gen, disc, hist, cpu_s, *_ = train(a, df)
        print(f'{len(hist)} of {a.epochs} epochs done ({cpu_s:.0f} CPU s this call)')
        if a.step == 'train': return
    command = 'python benchmarks/gan.py --step quality ' + shlex.join([x for x in sys.argv[1:] if x not in ('--step', 'quality', 'all', 'train')])
    done = set()
    if Path(a.out).exists():
        old = pd.read_csv(a.out); done = set(old.loc[old.command == command, 'generator'])
    a.minutes = 0   # scoring only: no more training here
    gen, disc, hist, _, crops, masks, where = train(a, df)
    if len(hist) < a.epochs: print(f'warning: the DCGAN has {len(hist)} of {a.epochs} epochs; scoring it as it is', flush=True)
    train_cpu = float(sum(h['seconds'] for h in hist.to_dict('records')))   # wall seconds of the epochs (one process, 2 threads)
    groups_real = list(where.group)
    for method in ('dcgan', 'cutpaste', 'procedural'):
        if method in done: print(f'{method}: already in {a.out}'); continue
        t_cpu = time.process_time()
        if method == 'dcgan':
            out = gan_defects(df, gen, per_bad=a.per_bad, dest=run_dir(a) / 'images', seed=a.seed, disc=disc, keep=a.keep, quiet=True)
        else:
            out = add_synthetic(df, method, per_bad=a.per_bad, dest=Path(a.runs) / f'synth_{method}_seed{a.seed}', seed=a.seed, quiet=True)
        check_no_leak(out)
        make_cpu = time.process_time() - t_cpu
        if method == 'dcgan':   # its samples are crops already: the top `keep` by the discriminator's score, as many as the real crops
            fake, fake_masks, _ = sample_dcgan(gen, disc, n=len(crops), keep=a.keep, seed=a.seed + 1)
            fake_groups = [f'dcgan_{i}' for i in range(len(fake))]
        else:
            fake, fake_masks, fake_where = defect_crops(out, a.size, margin=a.margin, synthetic=method)
            fake_groups = list(fake_where.group)
        from PIL import Image
        Image.fromarray(sample_grid(fake[:16], fake_masks[:16])).save(run_dir(a) / f'grid_{method}.png')
        t_q = time.process_time()
        q = gan_quality(crops, fake, method, groups=np.r_[np.array(groups_real, dtype=object), np.array(fake_groups, dtype=object)])
        row = dict(**q, n_synthetic_images=int((out.synthetic == method).sum()), per_bad=a.per_bad,
                   dcgan_epochs=len(hist) if method == 'dcgan' else '', dcgan_train_s=round(train_cpu, 1) if method == 'dcgan' else '',
                   cpu_s=round(make_cpu + (train_cpu if method == 'dcgan' else 0), 1), quality_cpu_s=round(time.process_time() - t_q, 1), data=root, dedupe=a.dedupe,
                   time=datetime.datetime.now().isoformat(timespec='seconds'), command=command, **machine_info())
        print({k: row[k] for k in ('generator', 'fid', 'kid', 'kid_std', 'real_vs_synthetic_auroc', 'n_real', 'n_fake')}, flush=True)
        append_results(pd.DataFrame([row]), a.out)
    Image.fromarray(sample_grid(crops[:16], masks[:16])).save(run_dir(a) / 'grid_real.png')

if __name__ == '__main__': main()
