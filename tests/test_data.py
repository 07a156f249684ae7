"Bad input, layout variants and split properties of `defect_nbs.data`, beyond the notebook's examples."
import struct, zlib
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from defect_nbs.core import find_magnetic_tile
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
