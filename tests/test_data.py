"Bad input, layout variants and split properties of `defect_nbs.data`, beyond the notebook's examples."
import struct, zlib
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from defect_nbs.core import cache_dir, find_magnetic_tile
from defect_nbs.data import *

def _png(path, size=(16, 12), value=128, mode='L'):
    Image.new(mode, size, value).save(path); return path

def _forged_png(path, width, height):
    "A tiny valid-looking PNG whose header claims `width` x `height` (a decompression bomb)."
    def chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b''))
    return path

# --- one file at a time -----------------------------------------------------------------------

@pytest.mark.parametrize('make, reason', [
    (lambda p: p.write_bytes(b''), 'empty file'),
    (lambda p: p.write_text('hello'), 'not an image'),
    (lambda p: p.mkdir(), 'unreadable'),
    (lambda p: p.write_bytes(_png(p.with_suffix('.tmp.png'), (64, 64)).read_bytes()[:60]), 'image'),  # truncated PNG
    (lambda p: _forged_png(p, 100_000, 100_000), 'too large'),
])
def test_check_image_reasons(tmp, make, reason):
    p = tmp / 'x.png'; make(p)
    with pytest.raises(DataProblem, match=reason): check_image(p)

def test_truncated_jpeg(tmp):
    Image.effect_noise((64, 64), 50).save(tmp / 'a.jpg')
    (tmp / 'b.jpg').write_bytes((tmp / 'a.jpg').read_bytes()[:400])
    with pytest.raises(DataProblem, match='truncated'): check_image(tmp / 'b.jpg')

def test_bomb_is_refused_before_decoding(tmp):
    with pytest.raises(DataProblem, match='too large'): load_image(_forged_png(tmp / 'bomb.png', 60_000, 60_000))
    _png(tmp / 'ok.png', (200, 200))
    with pytest.raises(DataProblem, match='too large'): check_image(tmp / 'ok.png', max_pixels=10_000)

@pytest.mark.parametrize('mode, value', [('1', 1), ('L', 200), ('P', 5), ('RGB', (1, 2, 3)), ('RGBA', (9, 9, 9, 255)),
                                         ('CMYK', (0, 0, 0, 0)), ('LA', (7, 255)), ('I;16', 4000), ('I', 60000), ('F', 0.5)])
def test_every_mode_loads_to_8bit(tmp, mode, value):
    path = tmp / ('x.tif' if mode in ('F', 'I', 'CMYK') else 'x.png')
    Image.new(mode, (5, 3), value).save(path)
    for out in ('RGB', 'L'):
        im = load_image(path, out)
        assert im.mode == out and im.size == (5, 3)
        assert np.asarray(im).dtype == np.uint8

def test_mask_binarization_and_size(tmp):
    Image.fromarray(np.array([[0, 255], [254, 1]], np.uint8)).save(tmp / 'm.png')
    assert load_mask(tmp / 'm.png').tolist() == [[False, True], [True, False]]
    with pytest.raises(DataProblem, match='differs'): load_mask(tmp / 'm.png', size=(2, 3))
    Image.new('L', (2, 2), 0).save(tmp / 'zero.png')
    assert not load_mask(tmp / 'zero.png').any()

# --- layouts --------------------------------------------------------------------------------------

@pytest.mark.parametrize('where', ['beside_same_stem', 'suffix', 'sibling_dir', 'inner_dir', 'parallel_tree'])
def test_folder_mask_placements(tmp, where):
    root = tmp / 'd'
    imgs = {'good': root / 'good', 'dent': root / 'dent'}
    if where == 'sibling_dir': imgs = {k: v / 'images' for k, v in imgs.items()}
    for d in imgs.values(): d.mkdir(parents=True)
    Image.new('L', (8, 8), 90).save(imgs['good'] / 'g1.jpg')
    Image.new('L', (8, 8), 90).save(imgs['dent'] / 'd1.jpg')
    mask_path = {'beside_same_stem': imgs['dent'] / 'd1.png', 'suffix': imgs['dent'] / 'd1_mask.png',
                 'sibling_dir': root / 'dent' / 'masks' / 'd1.png', 'inner_dir': imgs['dent'] / 'masks' / 'd1.png',
                 'parallel_tree': root / 'masks' / 'dent' / 'd1_mask.png'}[where]
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('L', (8, 8), 255).save(mask_path)
    idx = scan(root, quiet=True)
    assert idx.attrs['layout'] == 'folders'
    assert len(idx) == 2, idx[['path', 'mask']]
    row = idx[idx.label == 'bad'].iloc[0]
    assert Path(row['mask']) == mask_path.resolve() and row['defect'] == 'dent'
    assert idx[idx.label == 'good'].iloc[0]['mask'] == ''

def test_good_folder_named_by_user(tmp):
    for c in ('accepted', 'rejected'): (tmp / c).mkdir(); _png(tmp / c / 'a.png')
    with pytest.warns(UserWarning, match='no good folder'): scan(tmp, quiet=True)
    idx = scan(tmp, good='accepted', quiet=True)
    assert dict(zip(idx.defect, idx.label)) == {'': 'good', 'rejected': 'bad'}

def test_common_prefix_dropped():
    from defect_nbs.data import _strip_common_prefix
    assert _strip_common_prefix(['MT_Free', 'MT_Crack']) == {'MT_Free': 'free', 'MT_Crack': 'crack'}
    assert _strip_common_prefix(['good', 'bad']) == {'good': 'good', 'bad': 'bad'}

def test_mvtec_and_yolo_fixtures(tmp):
    mv = scan(make_synthetic(tmp / 'mv', n_good=6, n_per_defect=2, layout='mvtec'), quiet=True)
    assert mv.attrs['layout'] == 'mvtec'
    assert set(mv.source_split) == {'train', 'test'} and (mv[mv.label == 'bad']['mask'] != '').all()
    yo = scan(make_synthetic(tmp / 'yo', n_good=6, n_per_defect=2, layout='yolo'), quiet=True)
    assert yo.attrs['layout'] == 'yolo'
    bad = yo[yo.label == 'bad']
    assert all(len(b) >= 1 for b in bad.boxes) and all(len(b) == 0 for b in yo[yo.label == 'good'].boxes)
    x0, y0, x1, y1 = bad.boxes.iloc[0][0][1:]
    assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128   # pixels, not normalized

def test_yolo_missing_and_broken_labels(tmp):
    root = make_synthetic(tmp / 'yo', n_good=3, n_per_defect=1, layout='yolo', defects=('spot',))
    good = sorted((root / 'labels').rglob('good_*.txt'))
    good[0].unlink()                                  # missing label file = good
    (root / 'labels' / 'train' / 'spot_0000.txt').write_text('0 0.5 0.5\n')   # broken line
    (root / 'labels' / 'train' / 'poly.txt').write_text('0 0.1 0.1 0.4 0.1 0.4 0.3\n')
    _png(root / 'images' / 'train' / 'poly.png', (100, 50))
    idx = scan(root, quiet=True)
    assert idx.set_index(idx.path.map(lambda p: Path(p).stem)).loc[good[0].stem, 'label'] == 'good'
    broken = idx[idx.path.str.endswith('spot_0000.png')].iloc[0]
    assert 'line 1' in broken.problem and broken.split == ''
    poly = idx[idx.path.str.endswith('poly.png')].iloc[0]
    assert poly.label == 'bad' and poly.boxes == [(0, 10.0, 5.0, 40.0, 15.0)]

def test_empty_and_missing_roots(tmp):
    with pytest.raises(DataProblem, match='not a folder'): scan(tmp / 'nope')
    (tmp / 'empty').mkdir()
    with pytest.raises(DataProblem, match='empty folder'): scan(tmp / 'empty')
    (tmp / 'only_empty' / 'good').mkdir(parents=True)
    idx = scan(tmp / 'only_empty', quiet=True)
    assert list(idx.problem) == ['empty class folder: no images']

def test_bad_file_never_stops_scan_and_strict_raises(tmp):
    root = make_synthetic(tmp / 'd', n_good=4, n_per_defect=2, defects=('spot',))
    _forged_png(root / 'good' / 'bomb.png', 50_000, 50_000)
    (root / 'spot' / 'spot_0001_mask.png').write_bytes(b'garbage')
    idx = scan(root, quiet=True)
    reasons = dict(zip(idx.path.map(lambda p: Path(p).name), idx.problem))
    assert 'too large' in reasons['bomb.png'] and reasons['spot_0001.png'].startswith('mask spot_0001_mask.png')
    assert len(usable(idx)) == 5
    with pytest.raises(DataProblem): scan(root, strict=True, quiet=True)

def test_regex_group_that_does_not_match_is_a_problem(tmp):
    root = make_synthetic(tmp / 'd', n_good=4, n_per_defect=2, defects=('spot',))
    idx = scan(root, group=r'^(good)_', quiet=True)
    assert (idx[idx.label == 'bad'].problem.str.contains('does not match')).all()
    assert set(usable(idx).group) == {'good'}

# --- splits -----------------------------------------------------------------------------------------

def _index(labels, groups):
    return pd.DataFrame(dict(path=[f'/x/{i}.png' for i in range(len(labels))], label=labels,
                             defect=[('' if l == 'good' else 'd') for l in labels], group=groups, problem=''))

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(['good', 'bad']), st.integers(0, 30)), min_size=1, max_size=200),
       st.integers(0, 10_000))
def test_split_never_leaks_and_is_deterministic(rows, seed):
    labels, groups = zip(*rows)
    df = _index(list(labels), [f'g{g}' for g in groups])
    a, b = split_index(df, seed=seed), split_index(df, seed=seed)
    check_no_leak(a)
    assert a.split.tolist() == b.split.tolist()
    assert set(a.split) <= {'train', 'valid', 'test'}

def test_split_fractions_and_stratification():
    df = _index(['good'] * 700 + ['bad'] * 300, [str(i) for i in range(1000)])
    s = split_index(df, seed=1)
    counts = pd.crosstab(s.label, s.split)
    assert counts.loc['good'].to_dict() == {'test': 105, 'train': 490, 'valid': 105}
    assert counts.loc['bad'].to_dict() == {'test': 45, 'train': 210, 'valid': 45}
    assert split_index(df, seed=2).split.tolist() != s.split.tolist()

def test_leak_detector_can_fail():
    df = _index(['good', 'good'], ['g', 'g']).assign(split=['train', 'test'])
    with pytest.raises(AssertionError, match='cross splits'): check_no_leak(df)

def test_folds_cover_every_image_once():
    df = _index(['good'] * 60 + ['bad'] * 30, [str(i // 2) for i in range(90)])
    folds = fold_splits(df, n_folds=5, seed=0)
    tested = pd.concat([f[f.split == 'test'] for f in folds])
    assert tested.path.is_unique and len(tested) == 90
    for f in folds: check_no_leak(f); assert (f.split == 'valid').sum() > 0

# --- near-duplicates --------------------------------------------------------------------------------

def _dup_dataset(tmp):
    "A small synthetic dataset plus three altered copies of `good_0003` (brighter, resized to another aspect, upside down)."
    root = make_synthetic(tmp / 'd', n_good=8, n_per_defect=3, defects=('spot', 'crack'))
    src = Image.open(root / 'good' / 'good_0003.png')
    Image.fromarray(np.clip(np.asarray(src, float) * 1.3 - 20, 0, 255).astype(np.uint8)).save(root / 'good' / 'bright.png')
    src.resize((160, 120)).save(root / 'good' / 'stretched.jpg', quality=85)
    src.transpose(Image.FLIP_TOP_BOTTOM).save(root / 'good' / 'upside_down.png')
    return root

def _names(pairs): return {frozenset((Path(a).name, Path(b).name)) for a, b in zip(pairs.path_a, pairs.path_b)}
COPIES = {frozenset(p) for p in [('good_0003.png', 'bright.png'), ('good_0003.png', 'stretched.jpg'), ('bright.png', 'stretched.jpg')]}

def test_altered_copies_are_found_and_nothing_else(tmp):
    idx = scan(_dup_dataset(tmp), quiet=True)
    pairs = near_duplicates(idx, quiet=True)
    assert _names(pairs) == COPIES
    assert (pairs.score > 0.95).all() and pairs.score.is_monotonic_decreasing
    assert {'split_a', 'split_b', 'group_a', 'defect_b'} <= set(pairs.columns)
    flipped = near_duplicates(idx, flips=True, quiet=True)   # the upside-down copy counts only with flips
    assert _names(flipped) == COPIES | {frozenset((n, 'upside_down.png')) for n in ('good_0003.png', 'bright.png', 'stretched.jpg')}

def test_distinct_images_score_far_below_threshold():
    sig = np.stack([image_signature(synthetic_sample(k, seed=s)[0]) for s, k in enumerate(['', 'spot', 'crack', 'scratch'] * 10)])
    assert np.allclose(np.linalg.norm(sig, axis=1), 1, atol=1e-5)
    scores = sig @ sig.T
    np.fill_diagonal(scores, 0)
    assert scores.max() < 0.6 < DUP_THRESHOLD

def test_signature_ignores_lighting_and_size_but_not_content():
    img = synthetic_sample('scratch', seed=7)[0]
    xx = np.mgrid[:128, :128][1]
    lit = Image.fromarray(np.clip(np.asarray(img, float) * 0.8 + 0.3 * xx + 10, 0, 255).astype(np.uint8))   # gain and a gradient
    sig = image_signature(img)
    assert sig @ image_signature(lit) > 0.95
    assert sig @ image_signature(img.resize((300, 200))) > 0.95
    assert sig @ image_signature(img.transpose(Image.FLIP_LEFT_RIGHT)) < 0.5
    assert not image_signature(Image.new('L', (50, 40), 128)).any()   # a flat image matches nothing

def test_grouping_keeps_copies_in_one_split(tmp):
    root = _dup_dataset(tmp)
    idx = scan(root, quiet=True)
    copies = idx.index[idx.path.str.contains('good_0003|bright|stretched')]
    assert any(split_index(idx, seed=s).loc[copies, 'split'].nunique() > 1 for s in range(20))   # the leak without merging
    merged = group_near_duplicates(idx)
    assert merged.loc[copies, 'group'].nunique() == 1 and merged.group.nunique() == idx.group.nunique() - 2
    for s in range(20):
        split = split_index(merged, seed=s)
        check_no_leak(split)
        assert split.loc[copies, 'split'].nunique() == 1
    deduped = scan(root, dedupe=True, quiet=True)
    assert deduped.path.tolist() == idx.path.tolist() and deduped.loc[copies, 'split'].nunique() == 1
    assert scan(root, dedupe=1.01, quiet=True).group.tolist() == idx.group.tolist()   # a float is the threshold

def test_grouping_unions_whole_user_groups_and_filters_given_pairs(tmp):
    root = _dup_dataset(tmp)
    idx = scan(root, group=lambda p: p.stem.split('_')[0], quiet=True)   # good, spot, crack, bright, stretched, upside
    merged = group_near_duplicates(idx)
    assert set(merged.group) == {'bright', 'crack', 'spot', 'upside'}   # good_* joined the copies' groups, named after the first
    pairs = near_duplicates(idx, threshold=0.0, quiet=True)
    assert len(pairs) > 3
    assert group_near_duplicates(idx, pairs=pairs).group.tolist() == merged.group.tolist()

def test_problem_rows_are_skipped(tmp):
    root = _dup_dataset(tmp)
    (root / 'good' / 'broken.png').write_bytes(b'')
    idx = scan(root, quiet=True)
    assert _names(near_duplicates(idx, quiet=True)) == COPIES
    merged = group_near_duplicates(idx)
    assert merged.loc[merged.problem != '', 'group'].tolist() == idx.loc[idx.problem != '', 'group'].tolist()

def test_one_huge_group_warns(tmp):
    (tmp / 'good').mkdir()
    base = np.asarray(synthetic_sample('', seed=1)[0], float)
    rng = np.random.default_rng(0)
    for i in range(25): Image.fromarray(np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)).save(tmp / 'good' / f'{i}.png')
    idx = scan(tmp, quiet=True)
    with pytest.warns(UserWarning, match='near-duplicate group holds 25 of 25'): merged = group_near_duplicates(idx)
    assert merged.group.nunique() == 1

@pytest.mark.skipif(find_magnetic_tile() is None, reason='magnetic-tile data not on this machine')
def test_magnetic_tile_known_duplicates_share_a_split():
    mt = scan(find_magnetic_tile(), quiet=True)
    pairs = near_duplicates(mt, quiet=True)
    found = {frozenset((Path(a).stem, Path(b).stem)) for a, b in zip(pairs.path_a, pairs.path_b)}
    known = [('exp1_num_108719', 'exp1_num_108889'), ('exp2_num_108741', 'exp2_num_108923'), ('exp2_num_85846', 'exp2_num_86854'),
             ('exp3_num_85897', 'exp3_num_86892'), ('exp4_num_85602', 'exp4_num_85998'), ('exp5_num_85642', 'exp5_num_86031'),
             ('exp6_num_85665', 'exp6_num_86064')]
    assert all(frozenset(k) in found for k in known)
    assert (pairs.split_a != pairs.split_b).any()   # the default split leaks
    split = dict(zip(*split_index(group_near_duplicates(mt, pairs=pairs))[['path', 'split']].T.values))
    assert all(split[a] == split[b] for a, b in zip(pairs.path_a, pairs.path_b))

# --- which file is a mask (issue 14) -------------------------------------------------------------------

def _photo(path, size=(32, 24), seed=0):
    "A noisy grayscale 'photo' (many gray levels), saved in the format of `path`'s extension."
    a = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(a).save(path); return path

def _binary(path, size=(32, 24), top=255, mode='L'):
    a = np.zeros((size[1], size[0]), np.uint8); a[4:12, 6:20] = top
    im = Image.fromarray(a)
    (im.convert(mode) if mode != 'L' else im).save(path); return path

def _everything_indexed(root, idx):
    "Every image-like file under `root` is a row's path or a row's mask: nothing leaves the index unseen."
    files = {str(p) for p in Path(root).resolve().rglob('*') if p.suffix.lower() in IMAGE_EXTS}
    seen = set(idx.path) | set(idx['mask'])
    return sorted(files - seen)

def test_same_stem_photos_are_both_images(tmp):
    (tmp / 'good').mkdir(); (tmp / 'dent').mkdir()
    _photo(tmp / 'good' / 'part.webp', seed=1); _photo(tmp / 'good' / 'part.bmp', seed=2)
    _photo(tmp / 'dent' / 'x.jpg', seed=3); _photo(tmp / 'dent' / 'x.png', seed=4); _photo(tmp / 'dent' / 'x.tif', seed=5)
    idx = scan(tmp, quiet=True)
    assert sorted(Path(p).name for p in idx.path) == ['part.bmp', 'part.webp', 'x.jpg', 'x.png', 'x.tif']
    assert (idx['mask'] == '').all() and (idx.problem == '').all() and (idx.mask_source == '').all()

@pytest.mark.parametrize('make', [
    lambda p: _binary(p),                                   # 0/255
    lambda p: _binary(p, top=1),                            # 0/1
    lambda p: Image.new('L', (32, 24), 0).save(p),          # an empty mask (a good image's)
    lambda p: Image.new('L', (32, 24), 255).save(p),        # all defect
    lambda p: _binary(p, mode='1'),
    lambda p: _binary(p, mode='RGB'),
    lambda p: Image.fromarray(np.where(np.arange(32 * 24).reshape(24, 32) % 20 == 0, 128,           # anti-aliased edges:
                                       np.where(np.arange(24)[:, None] < 8, 255, 0)).astype(np.uint8)).save(p),   # 5 % between
])
def test_same_stem_mask_by_content(tmp, make):
    (tmp / 'good').mkdir(); (tmp / 'dent').mkdir(); _photo(tmp / 'good' / 'g.png')
    _photo(tmp / 'dent' / 'x.jpg'); make(tmp / 'dent' / 'x.png')
    idx = scan(tmp, quiet=True)
    assert len(idx) == 2 and (idx.problem == '').all(), idx[['path', 'mask', 'problem']]
    row = idx[idx.label == 'bad'].iloc[0]
    assert Path(row.path).name == 'x.jpg' and Path(row['mask']).name == 'x.png' and row.mask_source == 'annotated'

@pytest.mark.parametrize('make', [
    lambda p: _photo(p),
    lambda p: Image.fromarray(np.where(np.arange(24)[:, None] < 8, 200, 100).repeat(32, 1).astype(np.uint8)).save(p),  # two tones, no 0
    lambda p: Image.fromarray(np.where(np.random.default_rng(0).random((24, 32)) < 0.8, 0,                             # 80 % on 0/255
                                       np.random.default_rng(1).integers(1, 255, (24, 32))).astype(np.uint8)).save(p),
])
def test_same_stem_non_mask_is_an_image(tmp, make):
    (tmp / 'good').mkdir(); _photo(tmp / 'good' / 'x.jpg'); make(tmp / 'good' / 'x.png')
    idx = scan(tmp, quiet=True)
    assert sorted(Path(p).name for p in idx.path) == ['x.jpg', 'x.png'] and (idx['mask'] == '').all()

def test_mask_like_file_of_another_size_is_reported(tmp):
    (tmp / 'dent').mkdir(); _photo(tmp / 'dent' / 'x.jpg', (32, 24)); _binary(tmp / 'dent' / 'x.png', (16, 12))
    with pytest.warns(UserWarning, match='no good folder'): idx = scan(tmp, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: Path(p).name))
    assert rows.loc['x.jpg', 'problem'] == '' and rows.loc['x.jpg', 'mask'] == ''
    assert rows.loc['x.png', 'problem'] == 'looks like a mask of x.jpg (two values) but its size 16x12 differs from the image size 32x24'

def test_two_mask_like_files_with_one_stem(tmp):
    (tmp / 'good').mkdir(); _binary(tmp / 'good' / 'a.png'); _binary(tmp / 'good' / 'a.bmp')     # copies: two images
    _binary(tmp / 'good' / 'b.png'); _binary(tmp / 'good' / 'b.bmp', top=1)                        # 0/255 and 0/1: same mask? different
    idx = scan(tmp, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: Path(p).name))
    assert rows.loc[['a.png', 'a.bmp'], 'problem'].tolist() == ['', '']
    assert rows.loc['b.png', 'problem'].startswith('cannot tell the image from its mask: ') and rows.loc['b.bmp', 'problem'] != ''

def test_content_check_opens_only_files_with_a_partner(tmp, monkeypatch):
    import defect_nbs.data as data
    root = make_synthetic(tmp / 'd', n_good=5, n_per_defect=3, defects=('spot',))
    _photo(root / 'good' / 'pair.jpg'); _binary(root / 'good' / 'pair.png')
    opened = []
    real = data._mask_check
    monkeypatch.setattr(data, '_mask_check', lambda p: opened.append(p.name) or real(p))
    idx = scan(root, quiet=True)
    assert opened == ['pair.png'] and Path(idx.loc[idx.path.str.endswith('pair.jpg'), 'mask'].iloc[0]).name == 'pair.png'

# --- masks without an image -------------------------------------------------------------------------

def test_mask_without_image_beside_it(tmp):
    (tmp / 'good').mkdir(); (tmp / 'bad').mkdir(); _photo(tmp / 'good' / 'g.png'); _photo(tmp / 'bad' / 'y.png')
    _binary(tmp / 'bad' / 'x_mask.png')
    idx = scan(tmp, quiet=True)
    row = idx[idx.path.str.endswith('x_mask.png')].iloc[0]
    assert (row.label, row.defect, row.split) == ('bad', 'bad', '')
    assert row.problem == 'mask with no image: expected an image named x.* beside it'
    assert len(usable(idx)) == 2 and _everything_indexed(tmp, idx) == []

@pytest.mark.parametrize('where, folder', [('dent/masks', 'dent'), ('masks/dent', 'dent'), ('dent/gt', 'dent'), ('masks', '.')])
def test_mask_without_image_in_a_mask_folder(tmp, where, folder):
    (tmp / 'good').mkdir(); (tmp / 'dent').mkdir(); _photo(tmp / 'good' / 'g.png'); _photo(tmp / 'dent' / 'd1.png')
    (tmp / where).mkdir(parents=True); _binary(tmp / where / 'd1.png'); _binary(tmp / where / 'd7_mask.png')
    idx = scan(tmp, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: str(Path(p).relative_to(tmp.resolve()))))
    assert Path(rows.loc['dent/d1.png', 'mask']) == (tmp / where / 'd1.png').resolve()
    orphan = rows.loc[f'{where}/d7_mask.png']
    assert orphan.problem == f'mask with no image: expected an image named d7.* in {folder}/'
    assert orphan.label == 'bad' and orphan.defect == ('dent' if folder == 'dent' else '')
    assert _everything_indexed(tmp, idx) == []

def test_second_mask_is_reported(tmp):
    (tmp / 'dent' / 'masks').mkdir(parents=True); _photo(tmp / 'dent' / 'x.jpg')
    _binary(tmp / 'dent' / 'x_mask.png'); _binary(tmp / 'dent' / 'x.png'); _binary(tmp / 'dent' / 'masks' / 'x.png')
    with pytest.warns(UserWarning): idx = scan(tmp, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: str(Path(p).relative_to(tmp.resolve()))))
    assert Path(rows.loc['dent/x.jpg', 'mask']).name == 'x_mask.png'   # the named mask wins
    assert rows.loc['dent/x.png', 'problem'] == 'unused mask: x.jpg already has the mask x_mask.png'
    assert rows.loc['dent/masks/x.png', 'problem'] == 'unused mask: dent/x.jpg already has the mask dent/x_mask.png'
    assert _everything_indexed(tmp, idx) == []

def test_mvtec_mask_without_image(tmp):
    root = make_synthetic(tmp / 'mv', n_good=3, n_per_defect=2, layout='mvtec', defects=('spot',))
    (root / 'test' / 'spot' / '001.png').unlink()
    idx = scan(root, quiet=True)
    row = idx[idx.path.str.endswith('ground_truth/spot/001_mask.png')].iloc[0]
    assert row.problem == 'mask with no image: expected an image named 001.* in test/spot/' and row.label == 'bad'
    assert _everything_indexed(root, idx) == []

# --- frames, GIF, links -------------------------------------------------------------------------------

def test_gif_frames_and_links_in_a_scan(tmp):
    (tmp / 'good').mkdir()
    frames = [Image.new('L', (10, 8), v) for v in (0, 90, 180, 250)]
    frames[0].save(tmp / 'good' / 'still.gif')
    frames[0].save(tmp / 'good' / 'anim.gif', save_all=True, append_images=frames[1:], duration=50, loop=0)
    frames[0].save(tmp / 'good' / 'apng.png', save_all=True, append_images=frames[1:])
    frames[0].save(tmp / 'good' / 'pages.tiff', save_all=True, append_images=frames[1:2])
    frames[1].save(tmp / 'good' / 'anim.webp', save_all=True, append_images=frames[2:])
    (tmp / 'good' / 'link.png').symlink_to(tmp / 'nowhere.png')
    idx = scan(tmp, quiet=True)
    reasons = dict(zip(idx.path.map(lambda p: Path(p).name), idx.problem))
    assert reasons == {'still.gif': '', 'anim.gif': 'multi-frame image (4 frames): save the frame to inspect as its own file',
                       'apng.png': 'multi-frame image (4 frames): save the frame to inspect as its own file',
                       'pages.tiff': 'multi-frame image (2 frames): save the frame to inspect as its own file',
                       'anim.webp': 'multi-frame image (3 frames): save the frame to inspect as its own file',
                       'link.png': f'dangling symlink -> {tmp / "nowhere.png"}'}
    with pytest.raises(DataProblem, match='multi-frame'): load_image(tmp / 'good' / 'anim.gif')
    with pytest.raises(DataProblem, match='multi-frame'): load_mask(tmp / 'good' / 'apng.png')
    assert load_image(tmp / 'good' / 'still.gif').size == (10, 8)

def test_symlink_to_an_image_works(tmp):
    (tmp / 'good').mkdir(); _photo(tmp / 'real.png'); (tmp / 'good' / 'link.png').symlink_to(tmp / 'real.png')
    assert scan(tmp, quiet=True).problem.tolist() == ['']

# --- YOLO labels as masks --------------------------------------------------------------------------------

def _yolo(tmp, labels: dict, size=(40, 30)):
    root = tmp / 'yo'
    for d in ('images/train', 'labels/train'): (root / d).mkdir(parents=True, exist_ok=True)
    (root / 'data.yaml').write_text('names: [dent, scratch]\n')
    for name, text in labels.items():
        _photo(root / 'images' / 'train' / f'{name}.png', size)
        if text is not None: (root / 'labels' / 'train' / f'{name}.txt').write_text(text)
    return root

def _files(root): return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in Path(root).rglob('*')}

def test_yolo_polygon_becomes_a_mask_in_the_cache(tmp):
    root = _yolo(tmp, {'tri': '0 0.1 0.1 0.6 0.1 0.1 0.5', 'box': '1 0.5 0.5 0.5 0.4', 'good': ''})
    before = _files(root)
    idx = scan(root, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: Path(p).stem))
    assert _files(root) == before   # nothing written into the dataset
    assert rows.loc[['tri', 'box', 'good'], 'mask_source'].tolist() == ['polygon', 'box', '']
    assert rows.loc['good', 'mask'] == '' and rows.loc['good', 'label'] == 'good'
    tri, box = load_mask(rows.loc['tri', 'mask'], (40, 30)), load_mask(rows.loc['box', 'mask'], (40, 30))
    assert Path(rows.loc['tri', 'mask']).is_relative_to(cache_dir('masks'))
    ys, xs = np.nonzero(tri)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (4, 24, 3, 15) and tri[3, 4:25].all() and not tri[15, 20]   # a triangle
    assert 0.5 * 20 * 12 <= tri.sum() <= 0.5 * 20 * 12 + 20 + 12 + 24   # the area, and the boundary pixels on it
    assert np.argwhere(box).min(0).tolist() == [9, 10] and np.argwhere(box).max(0).tolist() == [20, 29] and box.sum() == 12 * 20
    assert rows.loc['tri', 'boxes'] == [(0, 4.0, 3.0, 24.0, 15.0)]

def test_yolo_masks_are_reused_and_redrawn_when_labels_change(tmp):
    root = _yolo(tmp, {'a': '0 0.1 0.1 0.6 0.1 0.1 0.5'})
    first = scan(root, quiet=True)['mask'].iloc[0]
    stamp = Path(first).stat().st_mtime_ns
    assert scan(root, quiet=True)['mask'].iloc[0] == first and Path(first).stat().st_mtime_ns == stamp
    (root / 'labels' / 'train' / 'a.txt').write_text('0 0.5 0.5 0.2 0.2')
    second = scan(root, quiet=True)
    assert second['mask'].iloc[0] != first and not Path(first).exists() and second.mask_source.iloc[0] == 'box'
    assert load_mask(second['mask'].iloc[0]).sum() == 8 * 6

def test_yolo_masks_of_two_datasets_do_not_collide(tmp):
    a = _yolo(tmp / 'a', {'x': '0 0.1 0.1 0.6 0.1 0.1 0.5'})
    b = _yolo(tmp / 'b', {'x': '0 0.5 0.5 0.2 0.2'})
    ma, mb = scan(a, quiet=True)['mask'].iloc[0], scan(b, quiet=True)['mask'].iloc[0]
    assert ma != mb and not (load_mask(ma) == load_mask(mb)).all()

@pytest.mark.parametrize('text, source, pixels', [
    ('0 0.1 0.1 0.5 0.1 0.5 0.5\n1 0.8 0.8 0.2 0.2', 'polygon+box', None),     # mixed in one file
    ('0 0.1 0.5 0.5 0.5 0.9 0.5', 'polygon', 33),                              # three points on a line: its pixels
    ('0 0.5 0.5 0.5 0.5 0.5 0.5', 'polygon', 1),                               # three times one point
    ('0 0.5 0.5 0 0', 'box', 1),                                               # a box of no size: one pixel
    ('0 0 0 1 0 1 1 0 1', 'polygon', 40 * 30),                                 # the whole image
])
def test_yolo_odd_shapes_give_a_mask(tmp, text, source, pixels):
    idx = scan(_yolo(tmp, {'x': text}), quiet=True)
    row = idx.iloc[0]
    assert row.problem == '' and row.mask_source == source
    mask = load_mask(row['mask'], (40, 30))
    if pixels is not None: assert mask.sum() == pixels
    else:   # a triangle (area 96, plus the boundary pixels on it) and an 8x6-pixel box
        tri = mask[:16, :21].sum()
        assert 96 <= tri <= 96 + 16 + 12 + 20 and mask[21:27, 28:36].all() and mask.sum() == tri + 48

@pytest.mark.parametrize('text, reason', [
    ('0 0.5 0.5', 'expected 5 values'), ('0 0.1 0.1 0.2 0.2 0.3', 'expected 5 values'), ('0 nan 0.5 0.1 0.1', 'not finite'),
    ('0 inf 0.5 0.1 0.1', 'not finite'), ('-1 0.5 0.5 0.1 0.1', 'not a class number'), ('1.5 0.5 0.5 0.1 0.1', 'not a class number'),
    ('0 0.5 0.5 -0.1 0.1', 'negative box size'), ('0 0.1 0.1 1.5 0.1 0.5 0.5', 'outside 0..1'), ('0 a b c d', 'not numbers'),
])
def test_yolo_unreadable_lines_are_problems(tmp, text, reason):
    idx = scan(_yolo(tmp, {'x': text, 'ok': '0 0.5 0.5 0.2 0.2'}), quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: Path(p).stem))
    assert reason in rows.loc['x', 'problem'] and rows.loc['x', 'mask'] == '' and rows.loc['x', 'split'] == ''
    assert rows.loc['ok', 'problem'] == ''

def test_yolo_binary_label_file_and_orphan_labels(tmp):
    root = _yolo(tmp, {'x': None, 'ok': ''})
    (root / 'labels' / 'train' / 'x.txt').write_bytes(b'\xff\xfe\x00garbage')
    (root / 'labels' / 'train' / 'lost.txt').write_text('0 0.5 0.5 0.1 0.1')
    (root / 'labels' / 'train' / 'classes.txt').write_text('dent\nscratch\n')   # written by some tools: not a label file
    idx = scan(root, quiet=True)
    rows = idx.set_index(idx.path.map(lambda p: Path(p).name))
    assert 'unreadable' in rows.loc['x.png', 'problem']
    assert rows.loc['lost.txt', 'problem'] == 'label file with no image: expected an image named lost.* in images/train/'
    assert 'classes.txt' not in rows.index and len(idx) == 3

def test_yolo_unwritable_cache_is_a_problem_not_a_crash(tmp, monkeypatch):
    root = _yolo(tmp, {'x': '0 0.5 0.5 0.2 0.2'})
    (tmp / 'home').write_text('a file where the cache folder should be')
    monkeypatch.setenv('DEFECT_NBS_HOME', str(tmp / 'home'))
    row = scan(root, quiet=True).iloc[0]
    assert row.problem.startswith('cannot write the mask drawn from the labels')

def test_synthetic_polygons_match_the_true_masks(tmp):
    from scipy import ndimage
    kw = dict(n_good=2, n_per_defect=6, size=96, seed=3)
    truth = scan(make_synthetic(tmp / 'f', **kw), quiet=True)
    true = {Path(p).stem: load_mask(m) for p, m in zip(truth.path, truth['mask']) if m}
    for labels, lo in [('polygons', 0.999), ('boxes', 0.0)]:
        idx = scan(make_synthetic(tmp / labels, layout='yolo', yolo_labels=labels, **kw), quiet=True)
        bad = idx[idx.label == 'bad']
        assert len(bad) == 18 and set(bad.mask_source) == {dict(polygons='polygon', boxes='box')[labels]}
        filled = [ndimage.binary_fill_holes(true[Path(p).stem]) for p in bad.path]
        ious = np.array([(load_mask(m) & t).sum() / (load_mask(m) | t).sum() for m, t in zip(bad['mask'], filled)])
        print(labels, 'IoU with the (hole-filled) true masks: mean', ious.mean().round(3), 'min', ious.min().round(3))
        assert ious.min() >= lo
        if labels == 'boxes': assert ious.mean() < 0.8 and all(load_mask(m).sum() >= t.sum() for m, t in zip(bad['mask'], filled))
    with pytest.raises(ValueError, match='yolo_labels'): make_synthetic(tmp / 'x', layout='yolo', yolo_labels='masks')

def test_mask_polygon_round_trip():
    from scipy import ndimage
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = ndimage.binary_opening(rng.random((40, 50)) < 0.35) | (rng.random((40, 50)) < 0.02)
        polys = mask_to_polygons(m, min_area=1)
        assert all(len(p) >= 3 for p in polys)
        assert (polygons_to_mask(polys, 50, 40) == ndimage.binary_fill_holes(m)).all()

# --- the awkward corpus: nothing is dropped ------------------------------------------------------------

def test_awkward_corpus_every_file_has_a_row(tmp):
    root = make_synthetic(tmp / 'd', n_good=4, n_per_defect=2, defects=('spot', 'crack'))
    _photo(root / 'good' / 'twin.webp', seed=1); _photo(root / 'good' / 'twin.bmp', seed=2)
    _binary(root / 'spot' / 'lonely_mask.png'); (root / 'spot' / 'masks').mkdir(); _binary(root / 'spot' / 'masks' / 'gone.png')
    Image.new('L', (8, 8)).save(root / 'crack' / 'still.gif')
    frames = [Image.new('L', (8, 8), v) for v in (0, 255)]
    frames[0].save(root / 'crack' / 'anim.gif', save_all=True, append_images=frames[1:])
    (root / 'good' / 'dead.jpg').symlink_to(tmp / 'missing.jpg')
    (root / 'good' / 'empty.png').write_bytes(b'')
    _photo(root / 'crack' / 'crack_0001.bmp', (128, 128), seed=9)   # a third file with an image's and a mask's stem
    idx = scan(root, quiet=True)
    assert _everything_indexed(root, idx) == []
    assert set(problems(idx).path.map(lambda p: Path(p).name)) == {'lonely_mask.png', 'gone.png', 'anim.gif', 'dead.jpg', 'empty.png'}
    assert len(usable(idx)) == 4 + 2 * 2 + 2 + 1 + 1
