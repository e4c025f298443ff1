"""tools/analysis/parts_page.py in a real browser: Debian's headless Chromium driven by playwright.

One server for the module (a free local port, an empty working folder, its own HOME and TMPDIR), with a
tiny RATS backbone in its work_dirs. Skipped when gradio, playwright or /usr/bin/chromium are missing
(`bash tools/setup/install_page.sh PYTHON --browser` installs them; `make test` does); with
MMRATS_REQUIRE_BROWSER=1 (as .ci/run sets it) a missing one is a failure instead, so CI runs it.
"""
import importlib.util
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from mmrats.apis import untrained_backbone
from mmrats.datasets.sample_photos import sample_photo

from ..test_apis.test_parts_page_views import huge_png

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = '/usr/bin/chromium'
# as the machine's notes start it: no network chatter from a browser on a closed machine
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
TIMEOUT_MS = 60_000


def _need_browser():
    missing = [m for m in ('gradio', 'playwright') if importlib.util.find_spec(m) is None]
    missing += [] if os.path.exists(CHROMIUM) else [CHROMIUM]
    if missing:
        why = (f'the parts page test needs {", ".join(missing)}: bash tools/setup/install_page.sh PYTHON --browser')
        if os.environ.get('MMRATS_REQUIRE_BROWSER') == '1':
            pytest.fail(why)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    _need_browser()
    root = tmp_path_factory.mktemp('parts_page')
    cwd, home, tmp, files = (root / n for n in ('cwd', 'home', 'tmp', 'files'))
    for d in (cwd, home, tmp, files):
        d.mkdir()
    run = cwd / 'work_dirs' / 'dino_tiny'
    run.mkdir(parents=True)
    torch.save(untrained_backbone(dict(arch='tiny', img_size=64), seed=3).state_dict(), run / 'teacher_backbone.pth')
    torch.save({'optimizer': {'lr': 0.1}}, files / 'optimizer_only.pth')
    before = sorted(str(p.relative_to(cwd)) for p in cwd.rglob('*'))
    port = _free_port()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    log = open(root / 'server.log', 'w')
    proc = subprocess.Popen([sys.executable, str(REPO / 'tools/analysis/parts_page.py'), '--port', str(port),
                             '--untrained-arch', 'tiny', '--img-size', '64'], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 120
    while 'Running on local URL' not in (root / 'server.log').read_text():
        assert proc.poll() is None and time.time() < deadline, (root / 'server.log').read_text()
        time.sleep(0.3)
    yield dict(url=url, cwd=cwd, home=home, tmp=tmp, files=files, before=before, run=run, proc=proc,
               log=root / 'server.log')
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture(scope='module')
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={'width': 1400, 'height': 1000})
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(server['url'])
        _wait_status(pg, 'Parts at K')
        yield pg
        browser.close()


def _wait_status(pg, text: str) -> str:
    pg.wait_for_function('t => (document.querySelector("#status") || {}).innerText?.includes(t)', arg=text)
    return pg.inner_text('#status')


def _size(pg, elem_id: str):
    """The rendered picture's pixel size, once the browser has decoded it."""
    pg.wait_for_function('id => { const e = document.querySelector(`#${id} img`); '
                         'return e && e.complete && e.naturalWidth > 0; }', arg=elem_id)
    return pg.eval_on_selector(f'#{elem_id} img', 'e => [e.naturalWidth, e.naturalHeight]')


def _upload(pg, path: Path, expect: str) -> str:
    pg.set_input_files('#upload input[type=file]', str(path))
    return _wait_status(pg, expect)


def _clear_upload(pg):
    pg.click('#upload button[aria-label="Clear"]')
    pg.wait_for_selector('#upload input[type=file]', state='attached')


def test_first_view_is_the_trained_checkpoint(page, server):
    status = page.inner_text('#status')
    assert 'chelsea: bundled photo' in status and 'teacher_backbone.pth' in status
    for elem in ('input-image', 'parts', 'norms', 'register-large'):
        assert _size(page, elem) == [64, 64], elem
    assert page.eval_on_selector_all('#registers img', 'es => es.length') == 8  # tiny RATS: 8 registers
    assert _size(page, 'compress')[0] > 64


def test_upload_move_k_pick_register_download(page, server):
    photo = server['files'] / 'my photo.webp'
    Image.fromarray(sample_photo('astronaut')).convert('RGBA').save(photo)
    status = _upload(page, photo, 'my photo.webp')
    assert 'WEBP 512 x 512, resized to 64 x 64' in status and 'Parts at K = 8: 8 regions' in status
    parts_before = page.get_attribute('#parts img', 'src')
    page.fill('#k input[type=number]', '3')
    page.press('#k input[type=number]', 'Enter')
    status = _wait_status(page, 'Parts at K = 3: 3 regions')
    assert page.get_attribute('#parts img', 'src') != parts_before and _size(page, 'parts') == [64, 64]
    big_before = page.get_attribute('#register-large img', 'src')
    page.click('#registers button.thumbnail-item >> nth=4')
    page.wait_for_function('s => document.querySelector("#register-large img").src !== s', arg=big_before)
    assert '#5: register' in page.input_value('#register input')
    with page.expect_download() as d:
        page.click('#download')
    png = Image.open(io.BytesIO(Path(d.value.path()).read_bytes()))
    # the composite: (input | parts | norms), the large register, the compress figure
    assert png.format == 'PNG' and png.width >= 3 * 64 and png.height > 2 * 64
    assert d.value.suggested_filename.startswith('parts_my_photo_K3_')
    _clear_upload(page)
    _wait_status(page, 'chelsea: bundled photo')


@pytest.mark.parametrize('name, words', [
    ('notes.png', 'is not an image'), ('empty.png', 'empty file'), ('cut.jpg', 'cannot be read'),
    ('huge.png', '20000 x 20000 (400 megapixels)')])
def test_bad_images_give_a_message(page, server, name, words):
    path = server['files'] / name
    if name == 'notes.png':
        path.write_text('these are my notes, not a picture\n')
    elif name == 'empty.png':
        path.write_bytes(b'')
    elif name == 'cut.jpg':
        buf = io.BytesIO()
        Image.fromarray(sample_photo('coffee')).save(buf, 'JPEG')
        path.write_bytes(buf.getvalue()[:len(buf.getvalue()) // 3])
    else:
        huge_png(path, 20000)
    status = _upload(page, path, 'Error')
    assert words in status and name in status and 'internal' not in status
    assert page.query_selector('#parts img') is None  # nothing stale is shown under the message
    _clear_upload(page)  # and the server serves the next request
    _wait_status(page, 'chelsea: bundled photo')
    assert _size(page, 'parts') == [64, 64]


@pytest.mark.parametrize('what, words', [('missing', 'does not exist'), ('not_backbone', 'optimizer_only.pth')])
def test_bad_checkpoint_paths_give_a_message(page, server, what, words):
    path = server['files'] / ('nothing_here.pth' if what == 'missing' else 'optimizer_only.pth')
    page.fill('#path textarea, #path input', str(path))
    page.press('#path textarea, #path input', 'Enter')
    status = _wait_status(page, 'Error')
    assert words in status and 'internal' not in status
    good = server['run'] / 'teacher_backbone.pth'  # and a good path next is loaded and shown
    page.fill('#path textarea, #path input', str(good))
    page.press('#path textarea, #path input', 'Enter')
    _wait_status(page, f'Checkpoint: {good}')  # markdown: the backticks render as code
    assert _size(page, 'parts') == [64, 64]


def test_untrained_choice_and_nothing_written_outside_temp(page, server):
    page.click('#checkpoint input')
    page.click('li[role=option]:has-text("untrained")')
    status = _wait_status(page, 'the **untrained** model'.replace('**', ''))
    assert 'random init' in status
    assert server['proc'].poll() is None
    # the working folder (and its work_dirs) is as it was; HOME holds only the libraries' caches
    assert sorted(str(p.relative_to(server['cwd'])) for p in server['cwd'].rglob('*')) == server['before']
    assert {p.name for p in server['home'].iterdir()} <= {'.cache', '.config'}
    written = [p for p in server['tmp'].rglob('*') if p.is_file()]
    assert written and all(p.relative_to(server['tmp']).parts[0].startswith('mmrats_parts_page_') for p in written)
    assert 'Traceback' not in server['log'].read_text()


def test_another_address_only_by_flag_with_a_warning(tmp_path):
    _need_browser()
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp_path), OMP_NUM_THREADS='1')
    tool = [sys.executable, str(REPO / 'tools/analysis/parts_page.py'), '--untrained-arch', 'tiny', '--img-size', '64',
            '--work-dirs', str(tmp_path / 'none')]
    # 127.0.0.2 is another loopback address: not the default, yet nothing leaves the machine
    port = _free_port()
    proc = subprocess.Popen([*tool, '--host', '127.0.0.2', '--port', str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if 'Running on local URL' in line:
                break
    finally:
        proc.terminate()
        proc.wait(30)
    out = ''.join(lines)
    assert 'warning: --host 127.0.0.2: the page is served to every machine' in out
    assert f'http://127.0.0.2:{port}' in out
    bad = subprocess.run([*tool, '--img-size', '50'], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and '--img-size 50 is not a positive multiple of 16' in bad.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('mmrats_parts_page_')]  # the temp folder went
