"One process of the 2-process CPU smoke test of distributed training (run by tests/test_distributed.py through torchrun)."
import hashlib, json, os, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from fastai.distributed import rank_distrib, num_distrib
from defect_nbs.data import scan, builtin_dataset
from defect_nbs.train import train_classifier

out = Path(sys.argv[1])
index = scan(builtin_dataset(), quiet=True)
learn = train_classifier(index, size=64, epochs=1, freeze_epochs=0, bs=16, keep_best=False, patience=0, quiet=True)
weights = b''.join(p.detach().cpu().numpy().tobytes() for p in learn.model.parameters())
(out / f'rank{rank_distrib()}.json').write_text(json.dumps(dict(
    rank=rank_distrib(), world=num_distrib(), weights=hashlib.sha256(weights).hexdigest(),
    batches=len(learn.recorder.losses), single_process_batches=len(learn.dls.train))))
