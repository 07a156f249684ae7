"""Where the bundle's `inspect` spends its time outside the model: cProfile of `Bundle.inspect` on N images.

    python benchmarks/runtime_profile.py --bundle .cache/bundles/magnetic_tile --folder .cache/runtime_bench/images_500

The folder is one `runtime.py` made (symlinks cycling over the magnetic-tile images). No loading thread, so each
function's own time is on one clock. Prints the throughput and the 25 functions with the most own time (the ONNX Runtime
call is `onnxruntime...run`); nothing is written. Quoted in README.md, Production runtime.
"""
import argparse, cProfile, pstats, tempfile, time
from pathlib import Path
from defect_nbs.runtime import load_bundle

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bundle', required=True); ap.add_argument('--folder', required=True)
    ap.add_argument('--n', type=int, default=500); ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    files = sorted(str(p) for p in Path(a.folder).iterdir())[:a.n]
    b = load_bundle(a.bundle, threads=a.threads)
    b.inspect(files[:32], tempfile.mkdtemp(), quiet=True, resume=False)   # warm-up
    prof, t = cProfile.Profile(), time.perf_counter()
    prof.enable()
    b.inspect(files, tempfile.mkdtemp(), quiet=True, resume=False, prefetch=False)
    prof.disable()
    dt = time.perf_counter() - t
    print(f'{len(files)} images in {dt:.2f} s: {len(files) / dt:.1f} images/s (profiled, no loading thread)')
    pstats.Stats(prof).sort_stats('tottime').print_stats(25)

if __name__ == '__main__': main()
