"""The demo's console: one line per stage, progress bars, results; everything else in the stage's log."""
import json
import os
import subprocess
import sys

import pytest

from mmrats.utils import console
from tests.conftest import REPO, write_scenes


def test_stage_sends_everything_to_the_log_and_says_to_the_terminal(tmp_path, capfd):
    log = tmp_path / 'logs' / 'stage.log'
    with console.stage('doing the thing', str(log)):
        print('python stdout line')
        print('python stderr line', file=sys.stderr)
        os.write(1, b'fd-level line\n')  # what C code and mmengine's stream handler write
        subprocess.run(['echo', 'child process line'], check=True)
        console.say('| a | result |')
        assert console.quiet()
    assert not console.quiet()
    out, err = capfd.readouterr()
    assert out.splitlines()[0] == '==> doing the thing'
    assert out.splitlines()[1] == '| a | result |'
    assert out.splitlines()[2].startswith('    done in 0:00:0') and str(log) in out
    assert len(out.splitlines()) == 3 and err == ''
    text = log.read_text()
    for line in ('python stdout line', 'python stderr line', 'fd-level line', 'child process line'):
        assert line in text
    print('after the stage')  # the streams are restored
    assert capfd.readouterr().out == 'after the stage\n'


def test_a_stream_taken_inside_a_stage_stays_usable_after_it(tmp_path, capfd):
    """mmengine's logger keeps the sys.stdout it saw when it was made; after the stage that stream
    must still accept writes (a closed one broke every later log line with 'I/O operation on closed file')."""
    import logging
    with console.stage('make a logger', str(tmp_path / 'l.log')):
        handler = logging.StreamHandler(sys.stdout)
    logger = logging.getLogger('mmrats-test-console')
    logger.addHandler(handler)
    try:
        logger.warning('a line after the stage')
    finally:
        logger.removeHandler(handler)
    assert 'Logging error' not in capfd.readouterr().err


def test_a_failing_stage_shows_the_end_of_its_log(tmp_path, capfd):
    with pytest.raises(RuntimeError, match='boom'):
        with console.stage('failing', str(tmp_path / 'f.log')):
            print('the line that explains it')
            raise RuntimeError('boom')
    out, err = capfd.readouterr()
    assert 'failed; the last lines of' in err and '| the line that explains it' in err
    assert not console.quiet()


def test_verbose_stage_streams_everything(tmp_path, capfd):
    with console.stage('loud', str(tmp_path / 'v.log'), verbose=True):
        print('visible')
        bar = console.Progress('train', 4)
        bar.update(4)
    out, err = capfd.readouterr()
    assert out == '==> loud\nvisible\n' and err == ''  # no bar: mmengine's logger reports progress
    assert not (tmp_path / 'v.log').exists()


def test_progress_bar_off_a_terminal_prints_a_line_per_tenth(tmp_path, capfd):
    with console.stage('count', str(tmp_path / 'c.log')):
        items = list(console.track(range(50), 'parts'))
    assert items == list(range(50))
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 11  # 1/50, then 5/50, 10/50, ..., 50/50: a line per tenth, not one per item
    assert err[0].lstrip().startswith('parts  [....') and '1/50' in err[0] and 'ETA' in err[0]
    assert err[1].lstrip().startswith('parts  [##') and '5/50' in err[1]
    assert '50/50' in err[-1] and 'ETA' not in err[-1] and '#' * console.Progress.WIDTH in err[-1]


def test_progress_silent_outside_a_stage(capfd):
    list(console.track(range(5), 'x'))
    assert capfd.readouterr() == ('', '')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory, num_train=4, num_val=4, size=128)


def test_mask2former_demo_console_is_short_and_logs_are_complete(scenes, tmp_path):
    """The demo driver through a real runner: a few lines per stage, a train and a test bar,
    the result table, the pictures; mmengine's config dump and logs only in the stage logs."""
    wd = tmp_path / 'demo'
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, 'tools/demo/mask2former_demo.py', '--task', 'seg', '--iters', '3',
                          '--data-root', str(scenes), '--work-dir', str(wd)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines() + out.stderr.splitlines()
    assert len(lines) < 40, '\n'.join(lines)
    assert '==> Mask2Former (semantic segmentation, ADE20K layout): train 3 iterations, then evaluate' in out.stdout
    assert any(line.lstrip().startswith('train  [') and '3/3' in line for line in out.stderr.splitlines())
    assert any(line.lstrip().startswith('test   [') and '1/1' in line for line in out.stderr.splitlines())
    assert '| seg | 3 | mIoU |' in out.stdout
    res = json.loads((wd / 'demo_results.json').read_text())['seg']
    pictures = sorted(os.listdir(res['pictures']))
    assert len(pictures) == 4 and all(p.endswith('.png') for p in pictures)  # every test image, drawn once
    log = (wd / 'logs' / 'seg_train.log').read_text()
    assert 'System environment' in log and 'Config:' in log and 'Saving checkpoint at 3 iterations' in log
    assert 'Config:' not in out.stdout + out.stderr
