"""The labelling page in a real browser: headless Chromium (Debian's) driven by Playwright.

The recorder runs in this process with real rclpy and a probe publishing
frames; the browser clicks what a user clicks, and the test reads the files
on disk.
"""

import json
import os
import shutil
import socket
import threading

import numpy as np
from playwright.sync_api import expect, sync_playwright
import pytest

rclpy = pytest.importorskip('rclpy')
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
if CHROMIUM is None:
    pytest.skip('no chromium on this machine (apt-get install chromium; .ci/run does)',
                allow_module_level=True)

from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from nano_vision.datasets.layout import MANIFEST, parse_xy_name  # noqa: E402
from nano_vision.nodes.dataset_recorder import DatasetRecorderNode  # noqa: E402
from nano_vision.nodes.messages import image_msg  # noqa: E402

pytestmark = pytest.mark.slow  # a real browser

WIDTH, HEIGHT = 160, 120
# generous waits: CI machines are shared and slow
expect.set_options(timeout=20_000)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def recorder_page(ros, tmp_path):
    """Start the recorder with its page and a frame publisher; yield (node, page, dataset)."""
    def start(**parameters):
        dataset = tmp_path / 'data'
        node = ros.make(DatasetRecorderNode, {'dataset': str(dataset),
                                              'port': free_port(), **parameters})
        probe = ros.probe()
        publisher = probe.create_publisher(Image, 'image', 1)
        pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        pixels[:, :, 2] = np.linspace(0, 255, WIDTH, dtype=np.uint8)[None, :]
        probe.create_timer(0.05, lambda: publisher.publish(
            image_msg(pixels, 'rgb8', Header(frame_id='cam'))))
        spinning.start()
        page = browser.new_page(viewport={'width': 1000, 'height': 800})
        page.set_default_timeout(30_000)
        page.goto(node.server.url)
        expect(page.locator('body')).to_have_attribute('data-ready', '1')
        page.wait_for_function(
            "document.getElementById('live').naturalWidth > 0")
        return node, page, dataset

    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ros.executor.spin_once(timeout_sec=0.05)
    spinning = threading.Thread(target=spin, daemon=True)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        try:
            yield start
        finally:
            browser.close()
            stop.set()
            if spinning.is_alive():
                spinning.join(5.0)


def manifest(dataset):
    with open(dataset / MANIFEST, encoding='utf-8') as stream:
        return {e['file']: e for e in map(json.loads, stream.read().splitlines())}


def files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_click_a_category_and_a_point_then_undo_delete_and_restore(recorder_page):
    node, page, dataset = recorder_page(task='xy', categories=['nose', 'left_eye'])
    expect(page.locator('[data-category=nose]')).to_have_text('nose (0)')
    page.click('[data-category=nose]')
    box = page.locator('#live').bounding_box()
    assert (round(box['width']), round(box['height'])) == (WIDTH, HEIGHT)
    page.locator('#live').click(position={'x': 40, 'y': 90})
    expect(page.locator('#status')).to_contain_text('saved nose/')
    expect(page.locator('[data-category=nose]')).to_have_text('nose (1)')

    [name] = files(dataset / 'nose')
    u, v, _ = parse_xy_name(name)
    assert abs(u - 40) <= 2 and abs(v - 90) <= 2, name
    entry = manifest(dataset)[f'nose/{name}']
    assert entry['label'] == 'nose' and (entry['width'], entry['height']) == (WIDTH, HEIGHT)
    assert abs(entry['x'] - (2 * 40 / WIDTH - 1)) < 0.03
    assert abs(entry['y'] - (2 * 90 / HEIGHT - 1)) < 0.03
    # the point is drawn where it was clicked (a ring around it)
    drawn = page.evaluate("""() => {
        const c = document.getElementById('overlay').getContext('2d');
        return Array.from(c.getImageData(30, 80, 21, 21).data).filter((a, i) => i % 4 == 3
            && a > 0).length; }""")
    assert drawn > 10

    page.click('#undo')
    expect(page.locator('#status')).to_contain_text('moved to the trash')
    expect(page.locator('[data-category=nose]')).to_have_text('nose (0)')
    assert files(dataset / 'nose') == []
    assert files(dataset / '.trash' / 'nose') == [name]
    assert manifest(dataset) == {}

    page.click('[data-category=left_eye]')
    page.locator('#live').click(position={'x': 120, 'y': 30})
    expect(page.locator('[data-category=left_eye]')).to_have_text('left_eye (1)')
    [eye] = files(dataset / 'left_eye')
    card = page.locator(f'.sample[data-file="left_eye/{eye}"]')
    expect(card.locator('img')).to_have_js_property('complete', True)
    assert card.locator('img').evaluate('i => i.naturalWidth') == WIDTH  # thumbnail served
    card.get_by_role('button', name='Delete').click()
    expect(page.locator('[data-category=left_eye]')).to_have_text('left_eye (0)')
    assert files(dataset / 'left_eye') == []

    page.check('#gallery-trash')
    card = page.locator(f'.sample[data-file="nose/{name}"]')
    card.get_by_role('button', name='Restore').click()
    expect(page.locator('[data-category=nose]')).to_have_text('nose (1)')
    assert files(dataset / 'nose') == [name]
    assert list(manifest(dataset)) == [f'nose/{name}']
    assert node.recorder.counts() == {'nose': 1, 'left_eye': 0}


def test_classification_buttons_capture_and_new_categories_are_checked(recorder_page):
    node, page, dataset = recorder_page(categories=['thumbs_up'])
    page.fill('#new-category', '../etc')
    page.click('#add-category button')
    expect(page.locator('#status')).to_contain_text('not allowed')
    assert page.locator('#status.error').count() == 1
    page.fill('#new-category', 'thumbs_down')
    page.click('#add-category button')
    expect(page.locator('[data-category=thumbs_down]')).to_have_text('thumbs_down (0)')
    for _ in range(2):
        page.click('[data-category=thumbs_down]')
    page.click('[data-category=thumbs_up]')
    expect(page.locator('[data-category=thumbs_down]')).to_have_text('thumbs_down (2)')
    expect(page.locator('[data-category=thumbs_up]')).to_have_text('thumbs_up (1)')
    assert len(files(dataset / 'thumbs_down')) == 2 and len(files(dataset / 'thumbs_up')) == 1
    assert len(manifest(dataset)) == 3
    assert files(dataset) == ['manifest.jsonl', 'thumbs_down', 'thumbs_up']
    # a click on the frame of a classification dataset saves nothing
    page.locator('#live').click(position={'x': 10, 'y': 10})
    assert len(manifest(dataset)) == 3
