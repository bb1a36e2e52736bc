"""The labelling page's HTTP API without ROS or a browser: answers, refusals, traversal."""

import json
import os
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from nano_vision.datasets.recorder import Recorder
from nano_vision.web import server as labelling_server
from nano_vision.web.server import LabellingServer


class App:
    """What the node gives the server, with a fixed frame."""

    def __init__(self, root, task='classification'):
        self.recorder = Recorder(root, task, categories=['a'])
        self.frame = np.full((30, 40, 3), 128, np.uint8)

    def state(self):
        return {'ok': True, 'task': self.recorder.task, 'dataset': self.recorder.root,
                'label': '', 'frame': [40, 30]}

    def frame_jpeg(self):
        return b'\xff\xd8jpeg\xff\xd9'

    def capture(self, label, point):
        return self.recorder.capture(self.frame, 'rgb8', label, point)


@pytest.fixture
def server(tmp_path):
    app = App(tmp_path / 'data')
    server = LabellingServer(app, '127.0.0.1', 0).start()
    yield server, app
    server.close()


def request(server, path, body=None, content_type='application/json', host=None):
    data = None if body is None else (body if isinstance(body, bytes)
                                      else json.dumps(body).encode())
    headers = {'Content-Type': content_type} if data else {}
    if host:
        headers['Host'] = host
    req = urllib.request.Request(server.url + path.lstrip('/'), data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get_content_type()


def test_page_frame_and_state_are_served(server):
    server, app = server
    status, body, kind = request(server, '/')
    assert status == 200 and kind == 'text/html' and b'app.js' in body
    assert b'http' not in body.replace(b'http-equiv', b'')  # nothing from the internet
    assert request(server, '/app.js')[0] == 200
    assert request(server, '/frame.jpg')[1] == app.frame_jpeg()
    status, body, _ = request(server, '/api/state')
    assert json.loads(body)['counts'] == {'a': 0}


def test_capture_delete_restore_through_the_api(server):
    server, app = server
    status, body, _ = request(server, '/api/capture', {'label': 'a'})
    answer = json.loads(body)
    assert status == 200 and answer['ok'] and answer['counts'] == {'a': 1}
    relative = answer['file']
    status, image, kind = request(server, f'/samples/{relative}')
    assert status == 200 and kind == 'image/jpeg' and image.startswith(b'\xff\xd8')
    assert json.loads(request(server, '/api/delete', {'file': relative})[1])['counts'] == \
        {'a': 0}
    assert json.loads(request(server, '/api/samples?trash=1')[1])['samples'] == [relative]
    assert request(server, f'/trash/{relative}')[0] == 200
    assert json.loads(request(server, '/api/restore', {'file': relative})[1])['ok']
    assert os.path.exists(os.path.join(app.recorder.root, relative))


def test_every_answer_says_how_new_its_counts_are(server):
    # captures served side by side can answer out of order; the page keeps the counts
    # with the highest revision, so the revision must rise with each change and only then
    server, _ = server
    revisions = [json.loads(request(server, '/api/state')[1])['revision']]
    for path, body in (('/api/capture', {'label': 'a'}), ('/api/category', {'name': 'b'}),
                       ('/api/capture', {'label': 'b'})):
        revisions.append(json.loads(request(server, path, body)[1])['revision'])
    assert revisions == sorted(set(revisions))
    same = json.loads(request(server, '/api/category', {'name': 'b'})[1])
    assert same['revision'] == revisions[-1] and same['counts'] == {'a': 1, 'b': 1}


@pytest.mark.parametrize('path', ['/samples/../manifest.jsonl', '/samples/%2e%2e/manifest.jsonl',
                                  '/samples/a/../../etc/passwd', '/trash/..%2f..%2fetc/passwd',
                                  '/samples//etc/passwd', '/samples/.trash/a/x.jpg',
                                  '/../../etc/passwd'])
def test_files_outside_the_samples_are_not_served(server, path):
    server, _ = server
    status, body, _ = request(server, path)
    assert status == 404 and b'root:' not in body


def test_actions_need_json_and_refuse_bad_names(server):
    server, app = server
    status, _, _ = request(server, '/api/capture', b'label=a',
                           'application/x-www-form-urlencoded')
    assert status == 415  # what a form on another site could send
    status, body, _ = request(server, '/api/capture', {'label': '../x'})
    assert status == 400 and 'not allowed' in json.loads(body)['message']
    status, body, _ = request(server, '/api/delete', {'file': '../manifest.jsonl'})
    assert status == 400
    status, body, _ = request(server, '/api/capture', {'label': 'a', 'x': 0.1, 'y': 0.2})
    assert status == 400 and 'no point' in json.loads(body)['message']
    assert request(server, '/api/capture', b'[1]')[0] == 400
    assert app.recorder.counts() == {'a': 0}
    assert os.listdir(app.recorder.root) == []


def raw(server, text, wait=10.0):
    """Send ``text`` as it is; return the status line and the JSON body of the answer."""
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=wait) as connection:
        connection.sendall(text if isinstance(text, bytes) else text.encode())
        answer = b''
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b'\r\n\r\n')
    return head.split(b'\r\n')[0].decode(), json.loads(body) if body else None


def post(path, body, content_length=None):
    length = len(body) if content_length is None else content_length
    return (f'POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
            f'Content-Length: {length}\r\nConnection: close\r\n\r\n').encode() + body


@pytest.mark.parametrize('request_bytes, message', [
    (post('/api/capture', b'[' * 3000 + b']' * 3000), 'not a JSON object'),
    (post('/api/capture', b'{"label": "a"}', 'abc'), 'Content-Length must be'),
    (post('/api/capture', b'{"label": "a"}', '-5'), 'Content-Length must be'),
    (post('/api/capture', b'{"label": null}'), 'label must be a string, got null'),
    (post('/api/capture', b'{"label": ["a"]}'), 'label must be a string'),
    (post('/api/category', b'{"name": 7}'), 'name must be a string, got 7'),
    (post('/api/delete', b'{"file": {}}'), 'file must be a string'),
], ids=['nested', 'length-abc', 'length-negative', 'null-label', 'list-label', 'number-name',
        'object-file'])
def test_malformed_requests_get_a_400_that_says_why(server, request_bytes, message):
    server, app = server
    status, body = raw(server, request_bytes)
    assert status.startswith('HTTP/1.0 400') or status.startswith('HTTP/1.1 400'), status
    assert message in body['message'] and body['ok'] is False
    assert app.recorder.counts() == {'a': 0} and os.listdir(app.recorder.root) == []


@pytest.mark.slow
def test_silent_connections_are_closed_and_do_not_block_others(server, monkeypatch):
    server, app = server
    monkeypatch.setattr(labelling_server._Handler, 'timeout', 0.5)
    host, port = server.httpd.server_address[:2]
    silent = [socket.create_connection((host, port), timeout=10) for _ in range(50)]
    try:
        assert request(server, '/api/state')[0] == 200  # still answers while they wait
        began = time.monotonic()
        for connection in silent:
            assert connection.recv(1) == b''  # closed by the server
        assert time.monotonic() - began < 8.0
    finally:
        for connection in silent:
            connection.close()


def test_a_loopback_page_answers_only_to_loopback_names(server):
    server, app = server
    port = server.httpd.server_address[1]
    assert request(server, '/api/state', host=f'localhost:{port}')[0] == 200
    for name in (f'evil.example:{port}', 'evil.example', f'127.0.0.1.evil.example:{port}'):
        assert request(server, '/api/state', host=name)[0] == 403
        assert request(server, '/api/capture', {'label': 'a'}, host=name)[0] == 403
    assert app.recorder.counts() == {'a': 0}
