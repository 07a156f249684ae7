import os, tempfile
from pathlib import Path
import pytest

# Keep every tool's files out of $HOME and off the network during tests.
_home = Path(tempfile.mkdtemp(prefix='defect_nbs_test_home_'))
os.environ.setdefault('DEFECT_NBS_HOME', str(_home))
os.environ.setdefault('MPLCONFIGDIR', str(_home / 'matplotlib'))
os.environ.setdefault('MPLBACKEND', 'Agg')

@pytest.fixture
def tmp(tmp_path): return tmp_path
