"""The console scripts refuse bad arguments and unusable data with one line on stderr and a non-zero exit status.

Each case fails before any training (the options are checked first, the data before the analysis). The scripts are the
installed entry points (`pip install -e .`). A few cases run them as a user does, in a child process (about 8 s each:
most of it importing torch); the others run the same script file in this process (`runpy`, as `__main__`, so fastcore
parses `sys.argv` exactly as from a shell), which takes milliseconds.
"""
import os, runpy, shutil, subprocess, sys
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent

def script(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found: pytest.skip(f'{name} is not installed: pip install -e .')
    return found

def run(name: str, *args) -> subprocess.CompletedProcess:
    "The installed script `name` in a child process."
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore'}   # the import-time warnings of dependencies are not the message
    return subprocess.run([script(name), *map(str, args)], capture_output=True, text=True, env=env, timeout=300)

class Done:
    "What a script run in this process left: its exit status and stderr (the `SystemExit` message printed as Python does)."
    def __init__(self, returncode, stderr, stdout=''): self.returncode, self.stderr, self.stdout = returncode, stderr, stdout

def run_here(name: str, *args, capsys=None, monkeypatch=None) -> Done:
    "The installed script `name` run in this process as `__main__`, with `sys.argv` set as a shell sets it."
    monkeypatch.setattr(sys, 'argv', [script(name), *map(str, args)])
    code = 0
    try: runpy.run_path(script(name), run_name='__main__')
    except SystemExit as e: code = e.code
    err = capsys.readouterr()
    if isinstance(code, str): return Done(1, err.err + code + '\n', err.out)   # Python prints a text exit code to stderr, status 1
    return Done(code or 0, err.err, err.out)

@pytest.fixture
def here(capsys, monkeypatch): return lambda name, *args: run_here(name, *args, capsys=capsys, monkeypatch=monkeypatch)

def refused(r, prog: str, says: str):
    "Exit status 1, no traceback, and a last stderr line `prog: ...` that says `says`."
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert 'Traceback' not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{prog}: ') and says in last, last

@pytest.fixture
def out(tmp_path): return tmp_path / 'out'

@pytest.fixture
def folders(tmp_path):
    "A missing folder, an empty one, and one whose only class folder holds no image."
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'junk' / 'parts').mkdir(parents=True)
    (tmp_path / 'junk' / 'parts' / 'notes.txt').write_text('not an image')
    (tmp_path / 'junk' / 'readme.txt').write_text('not an image either')
    return tmp_path

# ---------------------------------------------------------------- as a user runs them (child processes)

def test_help_explains_every_option():
    r = run('defect_nbs_train', '--help')
    assert r.returncode == 0, r.stderr
    lines = [l.strip() for l in r.stdout.splitlines()]
    assert any(l.startswith('root ') and 'dataset folder' in l for l in lines)          # the positional DATA
    for option in ('--config', '--out', '--size', '--epochs', '--resize', '--head', '--bound', '--threads', '--quiet', '--tensorboard'):
        line = next(l for l in lines if l.startswith(option + ' '))
        assert len(line.split(maxsplit=2 if option != '--quiet' else 1)) >= 2, line       # each option has its explanation

def test_missing_folder_in_a_shell(folders, out):
    refused(run('defect_nbs_train', folders / 'nope', '--out', out), 'defect_nbs_train', 'root: no such folder')

def test_bad_option_in_a_shell(out):
    refused(run('defect_nbs_job', '--head', 'foo', '--out', out), 'defect_nbs_job', "head must be one of ('linear', 'segment'), not 'foo'")

def test_unknown_config_key_in_a_shell(tmp_path, out):
    cfg = tmp_path / 'job.yaml'; cfg.write_text('sizes: 64\n')
    refused(run('defect_nbs_job', '--config', cfg, '--out', out), 'defect_nbs_job', "unknown key 'sizes'")

# ---------------------------------------------------------------- the same scripts, in this process

def test_every_option_is_explained(here):
    for prog in ('defect_nbs_train', 'defect_nbs_job'):
        r = here(prog, '--help')
        assert r.returncode == 0
        options = [l.split()[0] for l in r.stdout.splitlines() if l.strip().startswith('--')]
        explained = [l.split()[0] for l in r.stdout.splitlines() if l.strip().startswith('--') and len(l.split()) >= 3]
        assert options and options == explained, set(options) - set(explained)

def test_empty_folder(here, folders, out):
    refused(here('defect_nbs_train', folders / 'empty', '--out', out), 'defect_nbs_train', 'empty folder')

def test_folder_without_images(here, folders, out):
    refused(here('defect_nbs_train', folders / 'junk', '--out', out), 'defect_nbs_train', 'no usable image in')
    assert not (out / 'analysis').exists()          # refused before the analysis

@pytest.mark.parametrize('args, says', [
    (['--size', '0'], 'size must be at least 32 px, not 0'),
    (['--epochs', '0'], 'epochs must be at least 1'),
    (['--head', 'foo'], "head must be one of ('linear', 'segment'), not 'foo'"),
    (['--resize', 'foo'], "resize must be one of ('squish', 'pad', 'crop'), not 'foo'"),
    (['--bound', 'foo'], "bound must be one of ('estimate', 'upper'), not 'foo'"),
    (['--synthetic', 'gan'], "synthetic must be one of"),
    (['--max_escape', '2'], 'max_escape must be at least 0 and at most 1, not 2'),
    (['--threads', '0'], 'threads must be at least 1'),
])
@pytest.mark.parametrize('prog', ['defect_nbs_train', 'defect_nbs_job'])
def test_bad_option(here, prog, args, says, out):
    refused(here(prog, *args, '--out', out), prog, says)
    assert not (out / 'model.safetensors').exists()

def test_option_of_the_wrong_type(here, out):
    r = here('defect_nbs_train', '--size', 'foo', '--out', out)   # argparse's own refusal
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert "argument --size: invalid int value: 'foo'" in r.stderr.strip().splitlines()[-1]

@pytest.mark.parametrize('text, says', [
    ('sizes: 64\n', "unknown key 'sizes'"),
    ('config: other.yaml\n', "unknown key 'config'"),
    ('size: "64"\n', 'size must be a whole number or null'),
    ('quiet: 1\n', 'quiet must be true or false'),
    ('- size\n', 'expected option names and their values'),
    ('size: [64\n', 'not valid YAML'),
])
@pytest.mark.parametrize('prog', ['defect_nbs_train', 'defect_nbs_job'])
def test_bad_config(here, prog, text, says, tmp_path, out):
    cfg = tmp_path / 'job.yaml'; cfg.write_text(text)
    refused(here(prog, '--config', cfg, '--out', out), prog, says)

def test_missing_config(here, tmp_path, out):
    refused(here('defect_nbs_train', '--config', tmp_path / 'none.yaml', '--out', out), 'defect_nbs_train', 'config: no such file')

def test_flag_overrides_config(here, tmp_path, out):
    "Which value wins shows in the refusal: the command line's, whichever of the two is the bad one."
    cfg = tmp_path / 'job.yaml'; cfg.write_text('size: 64\nbound: upper\n')
    refused(here('defect_nbs_train', '--config', cfg, '--size', '0', '--out', out), 'defect_nbs_train', 'size must be at least 32 px, not 0')
    cfg.write_text('size: 0\n')            # the config's bad size is overridden, so the next check speaks: the bad bound
    refused(here('defect_nbs_train', '--config', cfg, '--size', '64', '--bound', 'foo', '--out', out), 'defect_nbs_train', 'bound must be one of')
    cfg.write_text('bound: foo\n')         # a flag given at its default value overrides the config too
    refused(here('defect_nbs_train', '--config', cfg, '--bound', 'estimate', '--size', '0', '--out', out), 'defect_nbs_train', 'size must be at least 32 px')
    cfg.write_text('head: foo\n')          # no flag for head: the config's value is used (and refused)
    refused(here('defect_nbs_train', '--config', cfg, '--out', out), 'defect_nbs_train', "head must be one of ('linear', 'segment'), not 'foo'")
    cfg.write_text('root: no/such/folder\n')
    refused(here('defect_nbs_train', '--config', cfg, '--out', out), 'defect_nbs_train', 'root: no such folder: no/such/folder')

def test_job_config_for_train(here, tmp_path, out):
    "One config serves both commands: the job's own key (`anomaly`) is noted and ignored by defect_nbs_train."
    cfg = tmp_path / 'job.yaml'; cfg.write_text('anomaly: true\nsize: 0\n')
    r = here('defect_nbs_train', '--config', cfg, '--out', out)
    refused(r, 'defect_nbs_train', 'size must be at least 32 px')
    assert 'anomaly not used by this command: ignored' in r.stderr

def test_tensorboard_without_the_extra(here, monkeypatch, out):
    "Asked for TensorBoard logs where the package is missing: refused at once, naming the extra to install."
    monkeypatch.setitem(sys.modules, 'tensorboard', None)                      # as if not installed
    monkeypatch.setitem(sys.modules, 'fastai.callback.tensorboard', None)
    refused(here('defect_nbs_train', '--tensorboard', out / 'tb', '--out', out), 'defect_nbs_train',
            "tensorboard: TensorBoard logging needs the tensorboard package: pip install 'defect_nbs[tensorboard]'")
