"""Train YOLO (from its YAML: no downloaded weights) on boxes made from the real masks; score it on the test split.

Good images are background. Appends to benchmarks/results/yolo.csv: mAP50 and mAP50-95 on test (ultralytics), and the
image-level Bad recall and good false-positive rate at a confidence chosen on valid (Bad positive).

    python benchmarks/yolo.py --dedupe 0.9 --model yolo11n.yaml --imgsz 320 --epochs 30

`--synthetic` pretrains on synthetic defects first (`synth.add_synthetic`, made from the train split only, with the real
train Good images as background), then fine-tunes on the real train split (`yolo.train_yolo_synthetic`). `--minutes`
gives a run a training-time budget instead of epochs (ultralytics' `time`), split between the two stages by
`--pretrain-share`, so that a synthetic run and one from scratch compare at equal CPU time:

    python benchmarks/yolo.py --dedupe 0.9 --imgsz 256 --minutes 25
    python benchmarks/yolo.py --dedupe 0.9 --imgsz 256 --minutes 25 --synthetic both --per-bad 4

A run's folder (`--workdir`, default runs/yolo/<its options>) keeps each finished stage, so a killed run resumes at the
stage it was in. `train_seconds` is ultralytics' own training clock (the `time` column of each stage's results.csv),
so a resumed run reports the training it took.
"""
import argparse, datetime, hashlib, json
from pathlib import Path
import pandas as pd
from defect_nbs.core import command_line, find_magnetic_tile
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.synth import add_synthetic
from defect_nbs.yolo import write_yolo_dataset, train_yolo_stage, train_yolo_synthetic, evaluate_yolo, real_index
from defect_nbs.benchmark import machine_info, append_results

def epochs_and_seconds(run: Path) -> tuple[int, float]:
    "Epochs an ultralytics run finished and its training seconds (its own clock): the last row of its results.csv."
    f = run / 'results.csv'
    if not f.exists(): return 0, 0.0
    last = pd.read_csv(f).iloc[-1]
    return int(last['epoch']), float(last['time'])

def budget(a, share: float) -> dict:
    "The `train_yolo` options of a stage given `share` of the run's budget."
    opts = dict(imgsz=a.imgsz, batch=a.batch, quiet=False)
    if a.minutes: return dict(opts, epochs=1000, time=a.minutes * share / 60)
    return dict(opts, epochs=max(1, round(a.epochs * share)))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--model', default='yolo11n.yaml'); ap.add_argument('--imgsz', type=int, default=320)
    ap.add_argument('--epochs', type=int, default=30); ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--minutes', type=float, default=0, help='training-time budget of the run (overrides --epochs)')
    ap.add_argument('--synthetic', default='none', choices=['none', 'cutpaste', 'procedural', 'both'],
                    help='pretrain on these synthetic defects, then fine-tune on the real train split')
    ap.add_argument('--per-bad', type=float, default=4, help='synthetic images per real train Bad image')
    ap.add_argument('--pretrain-share', type=float, default=0.5, help='share of the budget spent on the synthetic stage')
    ap.add_argument('--min-area', type=int, default=9)
    ap.add_argument('--workdir', default=None)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'yolo.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    key = dict({k: v for k, v in vars(a).items() if k not in ('out', 'workdir')}, data=str(root.resolve()))
    work = Path(a.workdir or Path('runs') / 'yolo' / hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10])
    if a.synthetic == 'none':
        yaml = write_yolo_dataset(df, work / 'dataset', min_area=a.min_area)
        yolo = train_yolo_stage(yaml, a.model, work / 'runs', 'train', **budget(a, 1.0))
        (epochs, train_s), stages = epochs_and_seconds(work / 'runs' / 'train'), {}
    else:
        df = add_synthetic(df, a.synthetic, per_bad=a.per_bad)
        yolo, yaml = train_yolo_synthetic(df, work, a.model, pretrain=budget(a, a.pretrain_share),
                                          finetune=budget(a, 1 - a.pretrain_share), min_area=a.min_area)
        (pre_epochs, pre_s), (epochs, train_s) = (epochs_and_seconds(work / 'runs' / s) for s in ('pretrain', 'finetune'))
        stages = dict(pretrain_epochs=pre_epochs, pretrain_seconds=round(pre_s, 1), finetune_seconds=round(train_s, 1))
        train_s += pre_s
        df = real_index(df)
    ev = evaluate_yolo(yolo, yaml, df, imgsz=a.imgsz)
    row = dict(ev, model=a.model, imgsz=a.imgsz, epochs=epochs, **stages, batch=a.batch, pretrained=False, synthetic=a.synthetic,
               per_bad=a.per_bad if a.synthetic != 'none' else 0, minutes=a.minutes, train_seconds=round(train_s, 1),
               data=root.name, dedupe=a.dedupe, time=datetime.datetime.now().isoformat(timespec='seconds'),
               command=command_line(), **machine_info())
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != 'command'}, flush=True)
    append_results(pd.DataFrame([row]), a.out)

if __name__ == '__main__': main()
