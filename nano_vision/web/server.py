"""The recorder's labelling page: static files and a small JSON API (standard library only).

The page (``nano_vision/web/``) needs nothing from the internet, so it works
on a robot that is offline. Routes:

``GET /``, ``/app.js``, ``/style.css``
    the page
``GET /frame.jpg``
    the newest camera frame (the page polls it)
``GET /api/state``
    task, categories with counts, current label, newest frame size
``GET /api/samples?trash=0|1&label=<category>``
    sample paths, newest first
``GET /samples/<category>/<file>``, ``GET /trash/<category>/<file>``
    one sample image
``POST /api/capture`` ``{"label": ..., "x": ..., "y": ...}``
    save the newest frame (x, y normalised to [-1, 1], XY datasets only)
``POST /api/undo``, ``/api/category`` ``{"name"}``, ``/api/delete`` and
``/api/restore`` ``{"file": "<category>/<file>"}``

POST bodies must be JSON (``Content-Type: application/json``): a page of
another site cannot send that without the browser asking first, so it cannot
label or delete through a visitor's browser. A server on a loopback address
answers only requests addressed to ``localhost`` or a loopback address, so a
site whose name is made to resolve to 127.0.0.1 (DNS rebinding) cannot reach
it either. Failures answer 400 with ``{"ok": false, "message": ...}``; every
answer carries the counts and their ``revision``, a number that goes up with every
change, so a page that sends requests side by side keeps the newest counts.
"""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import ipaddress
import json
import logging
import os
import threading
from urllib.parse import parse_qs, unquote, urlsplit

from nano_vision.datasets.recorder import RecorderError

WEB_ROOT = os.path.dirname(os.path.abspath(__file__))
STATIC = {'/': ('index.html', 'text/html; charset=utf-8'),
          '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
          '/style.css': ('style.css', 'text/css; charset=utf-8')}
MAX_BODY = 64 * 1024
# Seconds a connection may stay silent before the server closes it.
CONNECTION_TIMEOUT_SEC = 10.0
LOGGER = logging.getLogger(__name__)


class LabellingServer:
    """Serve the page and API of ``app`` on ``host:port`` from a background thread.

    ``app`` gives ``recorder`` (a :class:`~nano_vision.datasets.recorder.Recorder`),
    ``state()`` (a JSON-able dict), ``frame_jpeg()`` (bytes or None) and
    ``capture(label, point)`` (a Sample; raises RecorderError).

    :raises OSError: the port is taken or the address does not exist
    """

    def __init__(self, app, host='127.0.0.1', port=0):
        """Bind the socket (port 0 picks a free one); call :meth:`start` to serve."""
        handler = type('Handler', (_Handler,), {'app': app})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                        name='labelling-page', daemon=True)

    @property
    def url(self):
        """Return the page's address."""
        host, port = self.httpd.server_address[:2]
        return f'http://{host}:{port}/'

    def start(self):
        """Serve requests in the background; return self."""
        self._thread.start()
        return self

    def close(self):
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(timeout=5.0)
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    app = None
    server_version = 'nano_vision'
    # a connection that sends nothing is closed after this many seconds instead of holding
    # its thread for good (http.server applies it to the socket)
    timeout = CONNECTION_TIMEOUT_SEC

    def log_message(self, fmt, *args):
        LOGGER.debug('%s %s', self.address_string(), fmt % args)

    def _send(self, status, body, content_type, cache=False):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'max-age=3600' if cache else 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, payload, status=200):
        if 'counts' not in payload:
            payload['revision'], payload['counts'] = self.app.recorder.tally()
        self._send(status, json.dumps(payload).encode('utf-8'), 'application/json')

    def _fail(self, message, status=400):
        self._json({'ok': False, 'message': message}, status)

    def _foreign_host(self):
        """Refuse a request to a loopback server under another name; return True if refused."""
        if not ipaddress.ip_address(self.server.server_address[0]).is_loopback:
            return False
        host = urlsplit(f'//{self.headers.get("Host", "")}').hostname or ''
        try:
            if host == 'localhost' or ipaddress.ip_address(host).is_loopback:
                return False
        except ValueError:
            pass  # a name, not an address
        self._send(403, b'this page answers on localhost only', 'text/plain')
        return True

    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self._foreign_host():
            return
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if path in STATIC:
                name, content_type = STATIC[path]
                with open(os.path.join(WEB_ROOT, name), 'rb') as stream:
                    self._send(200, stream.read(), content_type)
            elif path == '/frame.jpg':
                jpeg = self.app.frame_jpeg()
                if jpeg is None:
                    self._send(503, b'no frame yet', 'text/plain')
                else:
                    self._send(200, jpeg, 'image/jpeg')
            elif path == '/api/state':
                self._json(self.app.state())
            elif path == '/api/samples':
                trash = query.get('trash') == '1'
                self._json({'ok': True, 'trash': trash, 'samples': self.app.recorder.samples(
                    query.get('label') or None, trash=trash)})
            elif path.startswith(('/samples/', '/trash/')):
                trash = path.startswith('/trash/')
                relative = path.split('/', 2)[2]
                with open(self.app.recorder.path_of(relative, trash=trash), 'rb') as stream:
                    self._send(200, stream.read(), 'image/jpeg', cache=True)
            else:
                self._send(404, b'not found', 'text/plain')
        except FileNotFoundError:
            self._send(404, b'not found', 'text/plain')
        except RecorderError as exc:
            self._fail(str(exc), 404)

    def do_POST(self):  # noqa: N802 - the name http.server calls
        if self._foreign_host():
            return
        if self.headers.get_content_type() != 'application/json':
            self._fail('send JSON (Content-Type: application/json)', 415)
            return
        try:
            length = int(self.headers.get('Content-Length') or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._fail('Content-Length must be the number of bytes of the body')
            return
        if length > MAX_BODY:
            self._fail('request too large', 413)
            return
        try:
            body = json.loads(self.rfile.read(length) or b'{}')
            if not isinstance(body, dict):
                raise ValueError('not an object')
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            self._fail('the body is not a JSON object')
            return
        recorder = self.app.recorder
        path = urlsplit(self.path).path
        try:
            if path == '/api/capture':
                point = None
                if body.get('x') is not None or body.get('y') is not None:
                    point = (float(body['x']), float(body['y']))
                sample = self.app.capture(_text(body, 'label'), point)
                relative = os.path.relpath(sample.path, recorder.root)
                self._json({'ok': True, 'file': relative, 'path': sample.path,
                            'message': f'saved {relative}'})
            elif path == '/api/undo':
                relative = recorder.undo()
                self._json({'ok': True, 'file': relative,
                            'message': f'{relative} moved to the trash'})
            elif path == '/api/category':
                name = recorder.add_category(_text(body, 'name'))
                self._json({'ok': True, 'message': f'category {name} added'})
            elif path in ('/api/delete', '/api/restore'):
                action = recorder.delete if path == '/api/delete' else recorder.restore
                relative = action(_text(body, 'file'))
                done = 'moved to the trash' if path == '/api/delete' else 'restored'
                self._json({'ok': True, 'file': relative, 'message': f'{relative} {done}'})
            else:
                self._fail('no such action', 404)
        except (RecorderError, KeyError, TypeError, ValueError) as exc:
            self._fail(str(exc))


def _text(body, key):
    """Return the string ``body[key]`` ('' when absent); raise ValueError for other types."""
    value = body.get(key, '')
    if not isinstance(value, str):
        raise ValueError(f'{key} must be a string, got {json.dumps(value)}')
    return value
