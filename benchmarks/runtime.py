"""The lean runtime against today's path: import time, time to the first result, throughput and peak RSS of inspection.

    python benchmarks/runtime.py --run runs/magnetic_tile --bundle B --counts 500 --paths bundle,torch --prefetch true,false
    python benchmarks/runtime.py --run runs/magnetic_tile --bundle B --counts 2000,10000 --paths bundle
    python benchmarks/runtime.py --run runs/magnetic_tile --bundle B --counts 1 --paths bundle,torch --model-seconds 0

The last one is the time to the first result: a process that inspects one image and exits (`process_s`).

Every measurement runs in its own process, one at a time (2 cores: never two at once). Paths:
- `bundle`: `runtime.load_bundle` + `Bundle.inspect` (ONNX Runtime FP32 with the model's own map; imports no torch);
- `torch`: what a user did before bundles: `models.load_model` + `pipeline.inspect_images` with `cam_localizer`.
Rows are appended to benchmarks/results/runtime.csv (one per process), with the command and the machine.
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

CHILD = r'''
import json, os, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
if args['path'] == 'bundle':
    from defect_nbs.runtime import load_bundle
    t_import = time.perf_counter()
    b = load_bundle(args['bundle'], format=args.get('format'), threads=args['threads'])
    clf, run = b.classifier, lambda files, out, **kw: b.inspect(files, out, **kw)
    model_call = lambda x: clf.run(x)
else:
    import torch
    torch.set_num_threads(args['threads'])
    from defect_nbs.models import load_model
    from defect_nbs.pipeline import inspect_images, cam_localizer
    from defect_nbs.ensemble import rule_from_json
    t_import = time.perf_counter()
    run_dir = Path(args['run'])
    clf = load_model(run_dir / 'model.safetensors')
    report = json.loads((run_dir / 'report.json').read_text())
    rule, loc = rule_from_json(report['operating_point']['rule']), cam_localizer(clf, report['localization']['threshold'])
    run = lambda files, out, **kw: inspect_images(files, clf, out, loc, rule, **kw)
    def model_call(x):
        with torch.no_grad(): return clf(torch.from_numpy(x))
t_load = time.perf_counter()
files = sorted(str(p) for p in Path(args['folder']).iterdir())[:args['n']]
rep = run(files, args['out'], quiet=True, resume=False, prefetch=args['prefetch'], batch_size=args['batch_size'])
t_done = time.perf_counter()
from defect_nbs.data import load_image
ims = [load_image(f, clf.preprocess.mode) for f in files[:args['batch_size'] * 4]]
xs = [clf.preprocess.array(ims[i:i + args['batch_size']]) for i in range(0, len(ims), args['batch_size'])]
model_ips, reps = float('nan'), 0
if args['model_seconds'] > 0:   # 0: the process stops after its results (time to the first result)
    model_call(xs[0])   # warm-up
    t_m = time.perf_counter()
    while time.perf_counter() - t_m < args['model_seconds']:
        for x in xs: model_call(x)
        reps += 1
    model_ips = reps * len(ims) / (time.perf_counter() - t_m)
print(json.dumps(dict(import_s=t_import - t0, load_s=t_load - t_import, inspect_s=t_done - t_load, images=len(rep.results),
                      errors=int((rep.results.bucket == 'error').sum()), inspect_ips=rep.images_per_second, model_ips=model_ips,
                      buckets=rep.results.bucket.value_counts().to_dict(),
                      peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      torch_imported='torch' in sys.modules, fastai_imported='fastai' in sys.modules, timm_imported='timm' in sys.modules)))
'''

def child(args: dict) -> dict:
    "Run one measurement in a fresh process; its figures plus the process's wall time."
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-c', CHILD, json.dumps(args)], capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(args['threads'])))
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    return dict(json.loads(r.stdout.strip().splitlines()[-1]), process_s=time.perf_counter() - t)

def image_folder(src_files: list, n: int, root: Path) -> Path:
    "A folder of `n` symlinks cycling over `src_files` (the same images many times: enough files for a long run)."
    d = root / f'images_{n}'
    if d.is_dir() and len(list(d.iterdir())) == n: return d
    d.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        s = Path(src_files[k % len(src_files)])
        (d / f'{k:05d}{s.suffix}').symlink_to(s.resolve())
    return d

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', default='runs/magnetic_tile', help='a run folder of defect_nbs_job / defect_nbs_train')
    ap.add_argument('--counts', default='500,2000,10000', help='numbers of images to inspect')
    ap.add_argument('--paths', default='bundle,torch')
    ap.add_argument('--prefetch', default='true,false', help='inspect with and without the loading thread')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=16)
    ap.add_argument('--model-seconds', type=float, default=10.0, help='how long the model-only throughput is timed')
    ap.add_argument('--bundle', default=None, help='the bundle of the run (default: exported into WORK/bundle, FP32 only)')
    ap.add_argument('--work', default='.cache/runtime_bench')
    ap.add_argument('--out', default='benchmarks/results/runtime.csv')
    a = ap.parse_args()
    import pandas as pd
    from defect_nbs.core import cpu_info, command_line
    from defect_nbs.data import scan, usable
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    bundle = Path(a.bundle) if a.bundle else work / 'bundle'
    if not (bundle / 'bundle.json').is_file():
        r = subprocess.run([Path(sys.executable).parent / 'defect_nbs_export', a.run, '--out', str(bundle), '--formats', 'onnx'], text=True)
        if r.returncode: sys.exit('export failed')
    report = json.loads((Path(a.run) / 'report.json').read_text())
    src = list(usable(scan(report['data']['root'], quiet=True)).path)
    info, cmd = cpu_info(), command_line()
    for n in map(int, a.counts.split(',')):
        folder = image_folder(src, n, work)
        for path in a.paths.split(','):
            for prefetch in [p == 'true' for p in a.prefetch.split(',')]:
                args = dict(path=path, bundle=str(bundle), run=a.run, folder=str(folder), out=str(work / f'out_{path}'), n=n,
                            threads=a.threads, batch_size=a.batch_size, prefetch=prefetch, model_seconds=a.model_seconds)
                m = child(args)
                row = dict(path=path, format='onnx' if path == 'bundle' else 'torch eager', n_images=n, prefetch=prefetch,
                           batch_size=a.batch_size, threads=a.threads, size=report['classifier']['size'], head=report['classifier']['head'],
                           **{k: v for k, v in m.items() if k != 'buckets'}, inspect_vs_model=m['inspect_ips'] / m['model_ips'],
                           cpu=info['cpu'], isa=info['isa'], date=time.strftime('%Y-%m-%d'), command=cmd)
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k not in ('command', 'cpu')}, flush=True)
                out = Path(a.out)
                pd.DataFrame([row]).to_csv(out, mode='a', header=not out.exists(), index=False)

if __name__ == '__main__': main()
