"Distributed training (fastai's distrib_ctx through accelerate) smoke-tested with 2 CPU processes on the built-in data."
import json, os, subprocess, sys
from pathlib import Path
import pytest

pytest.importorskip('accelerate')

def test_two_cpu_processes_train_one_model(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29517',
           str(Path(__file__).parent / 'distributed_train.py'), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'rank{k}.json').read_text()) for k in (0, 1)]
    assert [r['world'] for r in ranks] == [2, 2]
    assert ranks[0]['weights'] == ranks[1]['weights']            # gradients averaged: one model in both processes
    per_rank, whole = ranks[0]['batches'], ranks[0]['single_process_batches']
    assert ranks[1]['batches'] == per_rank
    assert per_rank <= -(-whole // 2) + 1 < whole                 # each process trained on about half the batches
