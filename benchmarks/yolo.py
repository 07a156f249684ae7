"""Train YOLO (from its YAML: no downloaded weights) on boxes made from the real masks; score it on the test split.

Good images are background. Appends to benchmarks/results/yolo.csv: mAP50 and mAP50-95 on test (ultralytics), and the
image-level Bad recall and good false-positive rate at a confidence chosen on valid (Bad positive).

    python benchmarks/yolo.py --dedupe 0.9 --model yolo11n.yaml --imgsz 320 --epochs 30
"""
import argparse, datetime, os, tempfile, time
from pathlib import Path
import pandas as pd
from defect_nbs.core import command_line
from defect_nbs.core import find_magnetic_tile
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.yolo import write_yolo_dataset, train_yolo, evaluate_yolo
from defect_nbs.benchmark import machine_info, append_results

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--model', default='yolo11n.yaml'); ap.add_argument('--imgsz', type=int, default=320)
    ap.add_argument('--epochs', type=int, default=30); ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--min-area', type=int, default=9)
    ap.add_argument('--workdir', default=None)
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'yolo.csv'))
    a = ap.parse_args()
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = scan(root, quiet=True, dedupe=a.dedupe or False)
    work = Path(a.workdir or tempfile.mkdtemp(prefix='yolo_'))
    yaml = write_yolo_dataset(df, work / 'dataset', min_area=a.min_area)
    t0 = time.perf_counter()
    yolo = train_yolo(yaml, a.model, a.epochs, a.imgsz, a.batch, project=work / 'runs', quiet=False)
    train_s = time.perf_counter() - t0
    ev = evaluate_yolo(yolo, yaml, df, imgsz=a.imgsz)
    row = dict(ev, model=a.model, imgsz=a.imgsz, epochs=a.epochs, batch=a.batch, pretrained=False, train_seconds=round(train_s, 1),
               data=root.name, dedupe=a.dedupe, time=datetime.datetime.now().isoformat(timespec='seconds'),
               command=command_line(), **machine_info())
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != 'command'}, flush=True)
    append_results(pd.DataFrame([row]), a.out)

if __name__ == '__main__': main()
