"""Which INT8 calibration keeps the FP32 decisions? Quantize one saved classifier several ways and compare with its FP32 ONNX model.

For each variant (calibration method x number of training images x layers kept in FP32 x 8- or 7-bit weights), reports on the
valid and test
splits: agreement of Bad decisions with FP32 (at the model's threshold, on temperature-calibrated P(Bad) as the threshold
was chosen), max |delta P(Bad)|, accuracy and Bad recall; and how stable each format's decisions are
(qat.decision_stability: the share that changes when the preprocessed input moves by a relative 1e-6, 4 draws, and
the mean change of the log-odds).
Choose a variant on **valid**; test is reported beside it. Appends to benchmarks/results/int8.csv.

    python benchmarks/int8.py runs/lite0_160.safetensors --dedupe 0.9
    python benchmarks/int8.py runs/lite0_160.safetensors --dedupe 0.9 --keep none stride2 --weights 7bit --layers   # + SQNR per tensor
    python benchmarks/int8.py runs/lite0_160.safetensors --dedupe 0.9 --methods minmax --calib 256 --keep stride2 --weights 7bit --qat 0 4

`--keep stem` is the old name of `--keep stride2` (every stride-2 layer, not only the stem) and still works.

With --qat N, each variant is also made from a copy of the model fine-tuned for N epochs under simulated INT8
(qat.quantization_aware_finetune, on the train split); its decisions are still compared with the original FP32 model.

With --openvino, each QAT setting also gets OpenVINO INT8 rows from NNCF (openvino_ir.quantize_openvino: post-training, and
accuracy-controlled on the valid split with --max-disagreement), scored the same way.

With --layers, the per-tensor SQNR against FP32 (int8.int8_layer_errors, 16 valid images) of the variant that agrees
best on valid goes to results/int8_layers.csv, and of the variant with nothing kept in FP32 beside it, if swept.
"""
import argparse, datetime, itertools, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
from defect_nbs.core import command_line, find_magnetic_tile, label_to_int, log_odds, p_bad
from defect_nbs.data import scan, usable, builtin_dataset
from defect_nbs.models import load_model
from defect_nbs.export import to_onnx, OnnxClassifier
from defect_nbs.int8 import quantize_int8, calibration_paths, int8_layer_errors
from defect_nbs.qat import quantization_aware_finetune, decision_stability
from defect_nbs.metrics import apply_temperature
from defect_nbs.benchmark import preprocess_batch, machine_info, append_results


def scores(clf, X, y, thr, temp, ref=None):
    p = apply_temperature(p_bad(np.concatenate([clf(b) for b in np.split(X, range(32, len(X), 32))])), temp)
    dec = (p >= thr).astype(int)
    out = dict(accuracy=float((dec == y).mean()), recall=float(dec[y == 1].mean()))
    if ref is not None: out.update(agreement=float((dec == ref[1]).mean()), max_p_bad_diff=float(np.abs(p - ref[0]).max()),
                                   log_odds_error=float(np.abs(log_odds(p) - log_odds(ref[0])).mean()))
    st = decision_stability(clf, X, thr, temp)   # decisions that change when the input moves by a relative 1e-6
    out.update(unstable=st['unstable'], log_odds_noise=st['mean_log_odds_change'])
    return out, (p, dec)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model'); ap.add_argument('--data'); ap.add_argument('--dedupe', type=float)
    ap.add_argument('--methods', nargs='+', default=['minmax', 'percentile', 'entropy'])
    ap.add_argument('--calib', nargs='+', type=int, default=[64, 256])
    ap.add_argument('--keep', nargs='+', default=['none', 'ends', 'stride2'], choices=['none', 'ends', 'stride2', 'stem'],
                    help="layers kept in FP32: none, ends (first conv + head), stride2 (ends + every stride-2 layer; 'stem' is its old name)")
    ap.add_argument('--weights', nargs='+', default=['8bit', '7bit'], help='7bit = reduce_range (needed on CPUs without VNNI)')
    ap.add_argument('--qat', nargs='+', type=int, default=[0], help='epochs of quantization-aware fine-tuning before quantizing (0 = none)')
    ap.add_argument('--qat-lr', type=float, default=2e-5); ap.add_argument('--qat-focus', type=float, default=3.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--openvino', action='store_true', help='also OpenVINO INT8 (NNCF PTQ and accuracy control) for each --qat setting')
    ap.add_argument('--max-disagreement', type=float, default=0.01, help='NNCF accuracy control: share of valid decisions allowed to differ')
    ap.add_argument('--layers', action='store_true', help='also write the per-tensor SQNR of the best variant (results/int8_layers.csv)')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'int8.csv'))
    a = ap.parse_args()
    a.keep = list(dict.fromkeys('stride2' if k == 'stem' else k for k in a.keep))   # the old name
    torch.set_num_threads(a.threads)
    model = load_model(a.model); thr, temp = model.meta.get('threshold', 0.5), model.meta.get('temperature', 1.0)
    root = Path(a.data) if a.data else (find_magnetic_tile() or builtin_dataset())
    df = usable(scan(root, quiet=True, dedupe=a.dedupe or False))
    work = Path(tempfile.mkdtemp())
    fp32 = OnnxClassifier(to_onnx(model, work / 'fp32.onnx'), threads=a.threads)
    data = {}
    for split in ('valid', 'test'):
        rows = df[df.split == split]
        X, _ = preprocess_batch(rows.path, model.preprocess)
        y = label_to_int(rows.label)
        data[split] = (X, y, *scores(fp32, X, y, thr, temp))
    rows = [dict(variant='ONNX FP32', **{f'{s}_{k}': v for s in data for k, v in data[s][2].items()})]
    print(rows[0], flush=True)
    train = [Path(p) for p in df[df.split == 'train'].path]
    for qat, method, n, keep, bits in itertools.product(a.qat, a.methods, a.calib, a.keep, a.weights):
        t0 = time.perf_counter()
        keep_fp32 = keep if keep in ('ends', 'stride2') else ()
        src, name, calib = work / 'fp32.onnx', f'int8_{method}_{n}_{keep}_{bits}_qat{qat}', calibration_paths(df, n)
        if qat:
            tuned, hist = quantization_aware_finetune(model, train, calib, keep_fp32=keep_fp32, epochs=qat, lr=a.qat_lr,
                                                      focus=a.qat_focus, reduce_range=bits == '7bit')
            print(hist.round(4).to_string(index=False), flush=True)
            src = to_onnx(tuned, work / f'{name}_fp32.onnx')
        qat_seconds = round(time.perf_counter() - t0, 1)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # 8-bit weights warn on CPUs without VNNI: that is what is measured
            q = OnnxClassifier(quantize_int8(src, work / f'{name}.onnx', calib,
                                             method=method, keep_fp32=keep_fp32, reduce_range=bits == '7bit'),
                               threads=a.threads)
        qat_desc = f', after {qat} epochs of QAT (lr {a.qat_lr:g}, focus {a.qat_focus:g})' if qat else ''
        r = dict(variant=f'INT8 {method}, {n} images, fp32 kept: {keep}, {bits} weights{qat_desc}', method=method, n_calibration=n, fp32_kept=keep,
                 weights=bits, qat_epochs=qat, qat_seconds=qat_seconds if qat else None,
                 quantize_seconds=round(time.perf_counter() - t0 - qat_seconds, 1), path=str(q.path))
        for s, (X, y, _, ref) in data.items(): r.update({f'{s}_{k}': v for k, v in scores(q, X, y, thr, temp, ref)[0].items()})
        print(r, flush=True); rows.append(r)
    if a.openvino:
        from defect_nbs.openvino_ir import quantize_openvino, OpenVinoClassifier
        valid_paths = [Path(p) for p in df[df.split == 'valid'].path]
        for qat in a.qat:
            src, calib = work / 'fp32.onnx', calibration_paths(df, max(a.calib))
            if qat:
                tuned, _ = quantization_aware_finetune(model, train, calib, keep_fp32=(), epochs=qat, lr=a.qat_lr, focus=a.qat_focus,
                                                       reduce_range=a.weights == ['7bit'])
                src = to_onnx(tuned, work / f'ov_qat{qat}_fp32.onnx')
            for method in ('ptq', 'accuracy_control'):
                t0 = time.perf_counter()
                q = OpenVinoClassifier(quantize_openvino(src, calib, work / f'ov_{method}_qat{qat}.xml', method=method, valid_images=valid_paths,
                                                         max_disagreement=a.max_disagreement), threads=a.threads)
                qat_desc = f', after {qat} epochs of QAT (lr {a.qat_lr:g}, focus {a.qat_focus:g})' if qat else ''
                r = dict(variant=f'OpenVINO INT8 (NNCF {method}), {len(calib)} images{qat_desc}', method=f'nncf_{method}', n_calibration=len(calib),
                         fp32_kept='nncf' if method == 'accuracy_control' else 'none', weights=q.meta['quantization']['weights'].split()[0],
                         qat_epochs=qat, quantize_seconds=round(time.perf_counter() - t0, 1), path=str(q.path))
                for s_, (X, y, _, ref) in data.items(): r.update({f'{s_}_{k}': v for k, v in scores(q, X, y, thr, temp, ref)[0].items()})
                print(r, flush=True); rows.append(r)
    command = command_line()
    if a.layers:
        variants = [r for r in rows[1:] if not r['method'].startswith('nncf')]
        pick = [max(variants, key=lambda r: r['valid_agreement'])] + [r for r in variants if r['fp32_kept'] == 'none'][:1]
        probe = calibration_paths(df, 16, split='valid')
        layers = pd.concat([int8_layer_errors(work / 'fp32.onnx', r['path'], probe).assign(variant=r['variant'], valid_agreement=r['valid_agreement'])
                            for r in pick])
        layers.assign(model=a.model, command=command, **machine_info(a.threads)).to_csv(Path(a.out).with_name('int8_layers.csv'), index=False)
        print(layers.groupby('variant').sqnr_db.describe().round(1).to_string())
    for r in rows: r.pop('path', None)
    table = pd.DataFrame(rows).assign(threshold=thr, model=a.model, data=root.name, dedupe=a.dedupe, n_valid=len(data['valid'][1]),
                                      n_test=len(data['test'][1]), time=datetime.datetime.now().isoformat(timespec='seconds'),
                                      command=command, **machine_info(a.threads))
    append_results(table, a.out)
    print(table[['variant', 'valid_agreement', 'test_agreement', 'valid_log_odds_error', 'test_log_odds_error', 'valid_unstable', 'test_unstable',
                 'valid_accuracy', 'test_accuracy', 'test_recall']].to_string(index=False))

if __name__ == '__main__': main()
