"Bundle archives and checksums against hostile or damaged input (the lean runtime: no torch needed)."
import io, json, shutil, tarfile, zipfile
from pathlib import Path
import pytest
from defect_nbs.ensemble import BucketRule
from defect_nbs.runtime import toy_model, make_bundle, load_bundle, verify_checksums, write_checksums, BundleError

@pytest.fixture
def bundle(tmp_path, monkeypatch):
    monkeypatch.setenv('DEFECT_NBS_HOME', str(tmp_path / 'home'))
    return make_bundle(tmp_path / 'b', dict(onnx=toy_model(tmp_path / 'toy.onnx')), BucketRule(bad_above=0.5), dict(threshold=2.0))

def test_zip_archive_loads(bundle, tmp_path):
    z = Path(shutil.make_archive(str(tmp_path / 'b'), 'zip', bundle))
    assert load_bundle(z).rule == BucketRule(bad_above=0.5)

def test_archive_with_a_path_outside_is_refused(bundle, tmp_path):
    t = tmp_path / 'evil.tar.gz'
    with tarfile.open(t, 'w:gz') as tar:
        for p in bundle.iterdir(): tar.add(p, arcname=p.name)
        data = b'pwned'; info = tarfile.TarInfo('../outside.txt'); info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match='outside the bundle'): load_bundle(t)
    assert not list(tmp_path.rglob('outside.txt'))

def test_checksum_line_naming_a_file_outside_is_refused(bundle):
    lines = (bundle / 'checksums.sha256').read_text() + f"{'0' * 64}  ../../etc/passwd\n"
    (bundle / 'checksums.sha256').write_text(lines)
    with pytest.raises(BundleError, match='outside the bundle'): verify_checksums(bundle)

def test_missing_checksums_is_not_a_bundle(bundle):
    (bundle / 'checksums.sha256').unlink()
    with pytest.raises(BundleError, match='not a bundle'): load_bundle(bundle)

def test_manifest_that_is_not_ours_is_refused(bundle):
    m = json.loads((bundle / 'bundle.json').read_text()); m['kind'] = 'something else'
    (bundle / 'bundle.json').write_text(json.dumps(m)); write_checksums(bundle)
    with pytest.raises(BundleError, match='not a defect_nbs bundle'): load_bundle(bundle)

def test_flagged_format_needs_to_be_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv('DEFECT_NBS_HOME', str(tmp_path / 'home'))
    toy = toy_model(tmp_path / 'toy.onnx')
    b = make_bundle(tmp_path / 'b', dict(onnx=toy, onnx_int8=toy), BucketRule(), parity=dict(onnx_int8=dict(flagged=True, bucket_agreement=0.9)))
    with pytest.raises(BundleError, match='flagged'): load_bundle(b, format='onnx_int8')
    assert load_bundle(b, format='onnx_int8', allow_flagged=True).format == 'onnx_int8'
    with pytest.raises(BundleError, match='flagged'):
        make_bundle(tmp_path / 'b2', dict(onnx_int8=toy), BucketRule(), parity=dict(onnx_int8=dict(flagged=True)))
