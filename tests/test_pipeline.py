"`defect_nbs.pipeline.inspect_images` on awkward input, beyond the notebook's examples: every file gets a row, one bad input never takes"
" down its batch, images unlike the training images go to review, and the input ranges travel through ONNX and INT8."
import os, warnings
import numpy as np, pytest
from PIL import Image
from defect_nbs.data import scan, builtin_dataset, load_image
from defect_nbs.models import Preprocess
from defect_nbs.ranges import input_ranges
from defect_nbs.pipeline import inspect_images, list_images, file_problem, NO_RANGES

@pytest.fixture(scope='module')
def syn(): return scan(builtin_dataset(), quiet=True)

@pytest.fixture(scope='module')
def ranges(syn): return input_ranges(syn[syn.split == 'train'])

class Constant:
    "A stand-in classifier: the same P(Bad) for every image; `fails(image)` makes it raise on that image."
    def __init__(self, p_bad=0.01, meta=None, fails=None):
        self.p_bad, self.meta, self.fails, self.preprocess = p_bad, meta or {}, fails, Preprocess(64)
    def predict(self, images):
        if self.fails and any(self.fails(im) for im in images): raise RuntimeError('cannot classify this one')
        return np.array([[1 - self.p_bad, self.p_bad]] * len(images))

def _by_name(report): return report.results.set_index(report.results.file.map(lambda f: os.path.basename(f)))

def test_every_listed_file_gets_a_row(tmp, syn, ranges):
    src = tmp / 'src'; (src / 'sub').mkdir(parents=True); (src / '.cache').mkdir()
    part = load_image(syn.path.iloc[0])
    part.save(src / 'a.png'); part.save(src / 'sub' / 'b.PNG'); part.save(src / '.cache' / 'hidden.png')
    (src / 'dangling.jpg').symlink_to(tmp / 'nowhere.jpg')
    (src / 'loop').symlink_to(src)                                    # a folder link back to the source: listed once
    os.mkfifo(src / 'fifo.png')
    (src / 'data.npy').write_bytes(b'\x93NUMPY')
    (src / 'Makefile').write_text('all:')
    (src / '.DS_Store').write_bytes(b'\0')
    rep = inspect_images(src, Constant(meta=dict(input_ranges=ranges)), src / 'results', annotate=True, quiet=True)
    rows = _by_name(rep)
    test = {'a.png': 'good', 'b.PNG': 'good', 'dangling.jpg': 'error', 'fifo.png': 'error', 'data.npy': 'error', 'Makefile': 'error'}
    assert rows.bucket.to_dict() == test
    assert rows.reason['data.npy'] == 'unsupported format .npy' and rows.reason['Makefile'] == 'unsupported format (no extension)'
    assert rows.reason['dangling.jpg'].startswith('dangling symlink') and rows.reason['fifo.png'].startswith('not a regular file')
    assert (rows.error[rows.bucket == 'error'].str.len() > 0).all()
    again = inspect_images(src, Constant(meta=dict(input_ranges=ranges)), src / 'results', resume=False, quiet=True)   # its own output is skipped
    assert len(again.results) == len(test)

def test_list_images_explicit_lists(tmp):
    assert list_images([tmp / 'x.png', tmp / 'y.png', tmp / 'x.png']) == [tmp / 'x.png', tmp / 'y.png']   # each once, in order
    with pytest.raises(FileNotFoundError): list_images(tmp / 'missing')
    assert file_problem(tmp / 'missing.png') == 'missing file'
    assert file_problem(tmp) == 'a folder, not a file'

def test_one_failing_image_is_one_error_row(tmp, syn, ranges):
    src = tmp / 'src'; src.mkdir()
    part = load_image(syn.path.iloc[0])
    for k in range(5): part.save(src / f'{k}.png')
    part.rotate(90).resize((127, 128)).save(src / 'odd_one.png')
    rep = inspect_images(src, Constant(meta=dict(input_ranges=ranges), fails=lambda im: im.width == 127), tmp / 'out', quiet=True, batch_size=16)
    rows = _by_name(rep)
    assert rows.bucket['odd_one.png'] == 'error' and 'cannot classify this one' in rows.error['odd_one.png']
    assert (rows.bucket.drop('odd_one.png') == 'good').all()

def test_nan_probabilities_are_an_error_not_a_crash(tmp, syn, ranges):
    src = tmp / 'src'; src.mkdir(); load_image(syn.path.iloc[0]).save(src / 'a.png')
    rows = _by_name(inspect_images(src, Constant(p_bad=float('nan'), meta=dict(input_ranges=ranges)), tmp / 'out', quiet=True))
    assert rows.bucket['a.png'] == 'error' and 'non-finite' in rows.error['a.png']

@pytest.mark.parametrize('p_bad', [0.01, 0.99])
def test_unlike_the_training_images_is_never_good_nor_bad(tmp, syn, ranges, p_bad):
    src = tmp / 'src'; src.mkdir()
    held_out = syn[syn.split == 'test'].path
    part = load_image(held_out.iloc[0])
    part.resize((1, 1)).save(src / 'tiny.png'); part.resize((2, 4000)).save(src / 'sliver.png')
    Image.new('RGB', part.size, (90, 90, 90)).save(src / 'blank.png')
    for k, p in enumerate(held_out): load_image(p).save(src / f'held_out_{k}.png')
    rows = _by_name(inspect_images(src, Constant(p_bad, meta=dict(input_ranges=ranges)), tmp / 'out', quiet=True))
    odd = ['blank.png', 'sliver.png', 'tiny.png']
    assert (rows.bucket[odd] == 'review').all() and rows.reason[odd].str.startswith('unlike the training images').all()
    assert (rows.bucket.drop(odd) == ('good' if p_bad < 0.5 else 'bad')).all()   # every held-out part is inside the ranges

def test_old_checkpoint_without_ranges_says_so_once(tmp, syn):
    src = tmp / 'src'; src.mkdir()
    for k in range(3): load_image(syn.path.iloc[k]).resize((1, 1)).save(src / f'{k}.png')
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter('always')
        rep = inspect_images(src, Constant(), tmp / 'out', quiet=True, batch_size=1)
    assert [str(w.message) for w in said] == [NO_RANGES] and rep.notes == [NO_RANGES]
    assert (rep.results.bucket == 'good').all()    # no check: what an old checkpoint did

def test_ranges_travel_through_onnx_and_int8(tmp, syn, ranges):
    pytest.importorskip('onnxruntime')
    from defect_nbs.models import create_model, save_model, load_model
    from defect_nbs.export import to_onnx, OnnxClassifier
    from defect_nbs.int8 import quantize_int8
    model = load_model(save_model(create_model(pretrained=False, size=64), tmp / 'm', threshold=0.5, input_ranges=ranges))
    fp32 = to_onnx(model, tmp / 'm.onnx')
    int8 = quantize_int8(fp32, tmp / 'm_int8.onnx', list(syn[syn.split == 'train'].path[:8]))
    src = tmp / 'src'; src.mkdir(); load_image(syn.path.iloc[0]).resize((1, 1)).save(src / 'tiny.png')
    for path in (fp32, int8):
        onnx_model = OnnxClassifier(path)
        assert onnx_model.meta['input_ranges'] == ranges
        rows = _by_name(inspect_images(src, onnx_model, tmp / f'out_{path.stem}', quiet=True))
        assert rows.bucket['tiny.png'] == 'review' and 'size_factor=2' in rows.reason['tiny.png']
