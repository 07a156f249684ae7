"""Batch inspection on Ray Data against the local pipeline: throughput (images/s) of `scale.inspect_ray` with 1 and 2
actors and of `Bundle.inspect` on one machine, the same bundle and the same images.

    defect_nbs_export runs/magnetic_tile --out .cache/ray_bench/bundle --formats onnx
    flock /tmp/torch.lock python benchmarks/ray_inspect.py --n 1000

Every run is its own process, one at a time (2 cores: never two at once), so `peak_rss_mb` is that run's driver alone
(Ray's actors are other processes: their memory is not in it). `seconds` is the whole inspection call: for Ray it
includes starting the actors and loading the bundle in each, for the local run loading the bundle; `startup_s` is
what came before it (starting the local Ray cluster; nothing for the local run). Each Ray run's rows are compared with
the local run's (`agrees_with_local`: same bucket and P(Bad) within 1e-6, as a fraction of the files).
One row per run is appended to benchmarks/results/ray_inspect.csv; a configuration already there for the same
bundle, n and batch size is skipped unless --again.
"""
import argparse, csv, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / 'benchmarks' / 'results' / 'ray_inspect.csv'
COLUMNS = ['date', 'mode', 'actors', 'threads_per_actor', 'batch_size', 'n_images', 'seconds', 'images_per_second',
           'startup_s', 'peak_rss_mb', 'errors', 'buckets', 'agrees_with_local', 'bundle', 'format', 'images', 'cpu', 'cores',
           'isa', 'ray', 'onnxruntime', 'host', 'command']
RUNS = {'local': ('local', 0, 2), 'ray1': ('ray', 1, 1), 'ray2': ('ray', 2, 1)}   # name: (mode, actors (0: no Ray), threads each)

def image_list(root: Path, n: int, seed: int = 0) -> list[str]:
    "A seeded sample of `n` magnetic-tile images (every class folder), in sorted order."
    import numpy as np
    files = sorted(str(p) for p in root.rglob('*.jpg'))
    pick = np.random.default_rng(seed).choice(len(files), size=min(n, len(files)), replace=False)
    return sorted(files[i] for i in pick)

def run_one(a) -> dict:
    "One measurement in this process (the child side)."
    import numpy as np, pandas as pd
    from importlib.metadata import version
    from defect_nbs.core import cpu_info, command_line
    from defect_nbs.runtime import load_bundle
    files = image_list(Path(a.images), a.n)
    mode, actors, threads = RUNS[a.run]
    out = Path(a.out) / a.run
    t0 = time.perf_counter()
    if mode == 'local':
        t_start = time.perf_counter()
        b = load_bundle(a.bundle, threads=threads)
        rep = b.inspect(files, out, resume=False, quiet=True, batch_size=a.batch_size)
        seconds, startup = time.perf_counter() - t_start, 0.0
    else:
        from defect_nbs.scale import local_ray, inspect_ray
        with local_ray(num_cpus=2, temp_dir=Path(a.out) / 'ray_tmp'):
            startup = time.perf_counter() - t0
            t_start = time.perf_counter()
            rep = inspect_ray(files, a.bundle, out, actors=actors, threads_per_actor=threads, batch_size=a.batch_size,
                              resume=False, quiet=True)
            seconds = time.perf_counter() - t_start
    res = rep.results
    agrees = ''
    local_csv = Path(a.out) / 'local' / 'results.csv'
    if mode == 'ray' and local_csv.exists():
        loc = pd.read_csv(local_csv).set_index('file').reindex(res.file)
        same_p = np.isclose(res.p_bad.astype(float).values, loc.p_bad.astype(float).values, atol=1e-6, rtol=0, equal_nan=True)
        agrees = float(np.mean((res.bucket.values == loc.bucket.values) & same_p))
    cpu = cpu_info()
    return dict(date=time.strftime('%Y-%m-%dT%H:%M:%S'), mode=mode, actors=actors, threads_per_actor=threads,
                batch_size=a.batch_size, n_images=len(res), seconds=round(seconds, 3),
                images_per_second=round(rep.new / seconds, 2), startup_s=round(startup, 3),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                errors=int((res.bucket == 'error').sum()), buckets=json.dumps(res.bucket.value_counts().to_dict()),
                agrees_with_local=agrees, bundle=a.bundle, format=json.loads((Path(a.bundle) / 'bundle.json').read_text())['default_format'],
                images=a.images, cpu=cpu['cpu'], cores=cpu['cores'], isa=cpu['isa'], ray=version('ray'),
                onnxruntime=version('onnxruntime'), host=os.uname().nodename, command=command_line())

def done_runs(path: Path) -> set:
    if not path.exists(): return set()
    with open(path) as f: return {(r['mode'], r['actors'], r['threads_per_actor'], r['bundle'], r['n_images'], r['batch_size'])
                                 for r in csv.DictReader(f)}

def append(row: dict, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, 'a', newline='') as f:
        w = csv.DictWriter(f, COLUMNS)
        if new: w.writeheader()
        w.writerow(row)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bundle', default='.cache/ray_bench/bundle')
    ap.add_argument('--images', default='/work/shared/data/magnetic_tile')
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--batch_size', type=int, default=16)
    ap.add_argument('--runs', default='local,ray1,ray2', help=f'comma-separated, of {list(RUNS)} (local first: the others compare with it)')
    ap.add_argument('--out', default='.cache/ray_bench/runs')
    ap.add_argument('--csv', default=str(CSV.relative_to(ROOT)), help='where the rows go')
    ap.add_argument('--again', action='store_true', help='measure configurations already in the CSV again')
    ap.add_argument('--run', help=argparse.SUPPRESS)   # the child: one measurement, its row as JSON on stdout
    a = ap.parse_args()
    if a.run:
        print('ROW ' + json.dumps(run_one(a)), flush=True); sys.exit()
    from defect_nbs.core import command_line
    csv_path = Path(a.csv)
    have = done_runs(csv_path)
    for name in a.runs.split(','):
        mode, actors, threads = RUNS[name]
        if not a.again and (mode, str(actors), str(threads), a.bundle, str(a.n), str(a.batch_size)) in have:
            print(f'{name}: already in {csv_path} (--again to redo)'); continue
        argv = [sys.executable, __file__, '--run', name, '--bundle', a.bundle, '--images', a.images, '--n', str(a.n),
                '--batch_size', str(a.batch_size), '--out', a.out]
        r = subprocess.run(argv, capture_output=True, text=True)
        rows = [l[4:] for l in r.stdout.splitlines() if l.startswith('ROW ')]
        if r.returncode or not rows: sys.exit(f'{name} failed (exit {r.returncode}):\n{r.stderr[-3000:]}')
        row = json.loads(rows[-1])
        row['command'] = command_line()   # how to redo it: this (the parent's) command
        append(row, csv_path)
        print(f"{name}: {row['n_images']} images in {row['seconds']:.1f} s = {row['images_per_second']:.1f} images/s "
              f"(startup {row['startup_s']:.1f} s, driver peak RSS {row['peak_rss_mb']:.0f} MB, agrees with local: {row['agrees_with_local']})",
              flush=True)
