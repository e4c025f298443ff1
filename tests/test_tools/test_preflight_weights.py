"""Pre-flight for weights: a missing or unreadable checkpoint stops tools/train.py and tools/test.py
before the runner is built, with one line naming the config key, the path and the converter."""
import os

import pytest
import torch

from mmrats.utils.preflight import weights as weights_check
from mmrats.utils.preflight.weights import checkpoint_problem
from tests.conftest import REPO, load_tool, write_scenes

test_tool = load_tool('tools/test.py')
train_tool = load_tool('tools/train.py')

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')


class RunnerBuilt(Exception):
    """Raised by the stub runner: the pre-flight let the run through."""


@pytest.fixture(autouse=True)
def no_runner(monkeypatch):
    """Replace the tools' Runner: a test that reaches it fails loudly instead of training."""
    class Stub:
        @staticmethod
        def from_cfg(cfg):
            raise RunnerBuilt(cfg.get('load_from'))
    monkeypatch.setattr(train_tool, 'Runner', Stub)
    monkeypatch.setattr(test_tool, 'Runner', Stub)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory, num_train=2, num_val=2, size=64)


def data_args(root):
    return [f'{s}_dataloader.dataset.data_root={root}/ade' for s in ('train', 'val', 'test')]


def leaf(tmp_path, body: str) -> str:
    """A config inheriting the demo config, with ``body`` appended."""
    path = tmp_path / 'leaf_config.py'
    path.write_text(f"_base_ = ['{SEG}']\n{body}\n")
    return str(path)


def pretrained(path) -> str:
    return f"dict(_delete_=True, type='Pretrained', checkpoint='{path}')"


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    lines = [ln for ln in err.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1, err
    assert len(err.strip().splitlines()) <= 2, err  # at most a CPU note from build_cfg besides the error
    return lines[0]


def run_train(tmp_path, config, root, *extra):
    wd = tmp_path / 'work'
    code = train_tool.main([config, '--work-dir', str(wd), *extra, '--cfg-options', *data_args(root)])
    assert not wd.exists()  # nothing was written: the runner (which creates the work dir) was never built
    return code


@pytest.mark.parametrize('backbone, converter, absent', [
    ("mode='rats', parallel_branch=True", 'dino2backbone.py SRC.pth {p} --finetune', None),
    ("mode='rats', parallel_branch=False", 'dino2backbone.py SRC.pth {p}', '--finetune'),
    ("mode='mhsa', parallel_branch=False", 'vit2ratsvit.py SRC.pth {p}', 'dino2backbone'),
])
def test_missing_backbone_checkpoint_names_key_path_and_converter(tmp_path, scenes, capsys, backbone, converter,
                                                                   absent):
    ckpt = tmp_path / 'checkpoints' / 'backbone.pth'
    cfg = leaf(tmp_path, f'model = dict(backbone=dict({backbone}, init_cfg={pretrained(ckpt)}))')
    assert run_train(tmp_path, cfg, scenes) == 2
    line = one_error(capsys)
    assert f"model.backbone.init_cfg.checkpoint = '{ckpt}' does not exist" in line
    assert converter.format(p=ckpt) in line
    if 'parallel_branch=True' in backbone:
        assert f'rats2finetune.py SRC.pth {ckpt}' in line  # the other way to get a fine-tuning backbone
    if absent:
        assert absent not in line


def test_relative_path_and_init_cfg_list(tmp_path, scenes, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = leaf(tmp_path, f"model = dict(backbone=dict(init_cfg=[{pretrained('ckpts/b.pth')}]))")
    assert run_train(tmp_path, cfg, scenes) == 2
    line = one_error(capsys)
    assert f"model.backbone.init_cfg[0].checkpoint = 'ckpts/b.pth' (relative to {tmp_path}) does not exist" in line


def test_missing_whole_model_checkpoint(tmp_path, scenes, capsys):
    ckpt = tmp_path / 'model.pth'
    cfg = leaf(tmp_path, f'model = dict(init_cfg={pretrained(ckpt)})')
    assert run_train(tmp_path, cfg, scenes) == 2
    line = one_error(capsys)
    assert f"model.init_cfg.checkpoint = '{ckpt}' does not exist" in line
    assert 'whole-model checkpoint written by tools/train.py' in line


def test_missing_load_from(tmp_path, scenes, capsys):
    ckpt = tmp_path / 'iter_8.pth'
    assert run_train(tmp_path, SEG, scenes, '--cfg-options', f'load_from={ckpt}') == 2
    line = one_error(capsys)
    assert f"load_from = '{ckpt}' does not exist" in line and 'tools/train.py' in line


def test_missing_resume_path(tmp_path, scenes, capsys):
    ckpt = tmp_path / 'iter_8.pth'
    assert run_train(tmp_path, SEG, scenes, '--resume', str(ckpt)) == 2
    line = one_error(capsys)
    assert f"--resume '{ckpt}' does not exist" in line and 'tools/train.py' in line


def test_resume_auto_and_urls_pass(tmp_path, scenes):
    # --resume without a path: mmengine looks for the latest checkpoint in the work dir itself
    with pytest.raises(RunnerBuilt):
        train_tool.main([SEG, '--work-dir', str(tmp_path / 'w'), '--resume', '--cfg-options', *data_args(scenes)])
    cfg = leaf(tmp_path, f"model = dict(backbone=dict(init_cfg={pretrained('https://example.org/rats.pth')}), "
                         f"init_cfg={pretrained('torchvision://resnet50')})\nload_from = 'open-mmlab://resnet50_v1c'")
    with pytest.raises(RunnerBuilt):
        train_tool.main([cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options', *data_args(scenes)])


def test_valid_checkpoints_pass(tmp_path, scenes):
    new, old = tmp_path / 'new.pth', tmp_path / 'old.pth'
    torch.save({'state_dict': {'w': torch.zeros(3)}}, new)
    torch.save({'state_dict': {'w': torch.zeros(3)}}, old, _use_new_zipfile_serialization=False)
    cfg = leaf(tmp_path, f'model = dict(backbone=dict(init_cfg={pretrained(new)}))\nload_from = {str(old)!r}')
    with pytest.raises(RunnerBuilt, match='old.pth'):
        train_tool.main([cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options', *data_args(scenes)])


def broken_files(tmp_path) -> dict:
    """One unreadable 'checkpoint' of each kind -> the words its message must hold."""
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.zeros(1000)}, good)
    data = good.read_bytes()
    files = {'folder.pth': 'is a folder', 'empty.pth': 'is empty', 'page.pth': 'an HTML page',
             'cut.pth': 'is a truncated torch checkpoint', 'text.pth': 'is not a torch checkpoint',
             'model.safetensors': 'a safetensors file'}
    (tmp_path / 'folder.pth').mkdir()
    (tmp_path / 'empty.pth').write_bytes(b'')
    (tmp_path / 'page.pth').write_text('<!DOCTYPE html><html>Sign in to download</html>')
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    (tmp_path / 'text.pth').write_text('state_dict = {}')
    (tmp_path / 'model.safetensors').write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"w": {}}      ')
    return {tmp_path / name: words for name, words in files.items()}


def test_unreadable_checkpoints(tmp_path):
    for path, words in broken_files(tmp_path).items():
        problem = checkpoint_problem(str(path))
        assert problem is not None and words in problem, (path, problem)
    assert checkpoint_problem(str(tmp_path / 'good.pth')) is None


def test_unreadable_checkpoint_in_each_place_stops_the_tools(tmp_path, scenes, capsys):
    broken = broken_files(tmp_path)
    folder, cut = tmp_path / 'folder.pth', tmp_path / 'cut.pth'
    cfg = leaf(tmp_path, f'model = dict(backbone=dict(init_cfg={pretrained(cut)}))')
    assert run_train(tmp_path, cfg, scenes) == 2
    assert f"model.backbone.init_cfg.checkpoint = '{cut}' {broken[cut]}" in one_error(capsys)
    text = tmp_path / 'text.pth'
    cfg = leaf(tmp_path, f'model = dict(init_cfg={pretrained(text)})')
    assert run_train(tmp_path, cfg, scenes) == 2
    line = one_error(capsys)
    assert f"model.init_cfg.checkpoint = '{text}' {broken[text]}" in line and 'whole-model checkpoint' in line
    assert run_train(tmp_path, SEG, scenes, '--cfg-options', f'load_from={folder}') == 2
    assert f"load_from = '{folder}' is a folder, not a checkpoint file" in one_error(capsys)
    assert run_train(tmp_path, SEG, scenes, '--resume', str(tmp_path / 'page.pth')) == 2
    assert 'an HTML page' in one_error(capsys)


def test_permission_denied(tmp_path, scenes, capsys, monkeypatch):
    ckpt = tmp_path / 'locked.pth'
    torch.save({'w': torch.zeros(1)}, ckpt)

    def denied(path):
        raise PermissionError(13, 'Permission denied', path)
    monkeypatch.setattr(weights_check, '_open', denied)  # root reads any file: simulate the refusal
    assert run_train(tmp_path, SEG, scenes, '--cfg-options', f'load_from={ckpt}') == 2
    assert f"load_from = '{ckpt}' cannot be read (Permission denied)" in one_error(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files without read permission')
def test_permission_denied_for_real(tmp_path):
    ckpt = tmp_path / 'locked.pth'
    torch.save({'w': torch.zeros(1)}, ckpt)
    ckpt.chmod(0)
    assert 'cannot be read' in checkpoint_problem(str(ckpt))


def test_test_tool_checkpoint(tmp_path, scenes, capsys):
    args = ['--work-dir', str(tmp_path / 'work'), '--cfg-options', *data_args(scenes)]
    missing = tmp_path / 'iter_300.pth'
    assert test_tool.main([SEG, str(missing), *args]) == 2
    line = one_error(capsys)
    assert f"CHECKPOINT '{missing}' does not exist" in line and 'tools/train.py' in line
    broken = broken_files(tmp_path)
    empty = tmp_path / 'empty.pth'
    assert test_tool.main([SEG, str(empty), *args]) == 2
    assert f"CHECKPOINT '{empty}' {broken[empty]}" in one_error(capsys)
    assert not (tmp_path / 'work').exists()
    # testing loads CHECKPOINT over the whole model: a missing backbone init_cfg file is not needed
    cfg = leaf(tmp_path, f"model = dict(backbone=dict(init_cfg={pretrained(tmp_path / 'none.pth')}))")
    with pytest.raises(RunnerBuilt):
        test_tool.main([cfg, str(tmp_path / 'good.pth'), *args])
