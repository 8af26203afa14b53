"""What both fake LLM servers share: a thread on 127.0.0.1, scripted misbehaviour, a record of requests."""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

# What the model "writes", given the system text, the prompt and the JSON schema asked for (or None).
Responder = Callable[[str, str, dict | None], str]
# What a multimodal model "reads" off the images sent with a prompt.
ImageReader = Callable[[list["PILImage"]], str]
BABBLE = "Sure! Here is what I think about these passages, in no particular order: they are all quite good."


def echo_responder(system: str, prompt: str, schema: dict | None) -> str:
    return json.dumps({"echo": prompt[:40]}) if schema else f"You asked: {prompt[:40]}"


def page_size_reader(images: list[PILImage]) -> str:
    return "\n".join(f"A page of {image.width}x{image.height} pixels." for image in images)


def decode_images(encoded: list[str], proto_json: bool = False) -> list[PILImage] | str:
    """Base64 images as the services decode them, or what is wrong with one. ``proto_json``: Gemini's proto JSON
    takes standard or URL-safe base64, padded or not (google-genai sends URL-safe); Ollama (Go) standard only."""
    import base64
    import binascii
    import io

    from PIL import Image, UnidentifiedImageError

    images = []
    for data in encoded:
        if proto_json:
            data = data.replace("-", "+").replace("_", "/") + "=" * (-len(data) % 4)
        try:
            image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
            image.load()
        except binascii.Error:
            return "base64"
        except (UnidentifiedImageError, OSError):
            return "format"
        images.append(image)
    return images


def tokens_of(text: str) -> int:
    """What the real services average on English: about 4 characters a token."""
    return math.ceil(len(text) / 4)


@dataclass
class Behaviour:
    """How one call is answered. ``status`` 429/500/... fails it; ``output`` may babble or be cut short."""

    delay_s: float = 0.0
    status: int | None = None
    output: str = "ok"  # ok | babble | truncate
    retry_delay_s: float | None = None  # with status 429: the RetryInfo delay the provider asks for
    blocked: str | None = None  # the answer stopped with this finishReason (SAFETY, RECITATION, ...)
    prompt_blocked: str | None = None  # the prompt refused: no candidates, promptFeedback.blockReason


@dataclass
class FakeLLM:
    """State of one fake server; tests change ``default`` or queue per-call ``script`` entries."""

    responder: Responder = echo_responder
    default: Behaviour = field(default_factory=Behaviour)
    script: list[Behaviour] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    count_tokens: Callable[[str], int] = tokens_of
    connections: int = 0  # TCP connections accepted: a client that reuses its pool keeps this small
    loads: int = 0  # Ollama model loads (an empty generate), apart from the calls in ``requests``
    thoughts: int | None = None  # thought tokens every Gemini 3.x call spends, instead of its level's share
    reader: ImageReader = page_size_reader
    # A gateway in front of the service answers every request itself: (status, content type, body).
    gateway: tuple[int, str, str] | None = None

    def next_behaviour(self, body: dict[str, Any], path: str) -> Behaviour:
        with self.lock:
            self.requests.append({"path": path, "body": body})
            return self.script.pop(0) if self.script else self.default

    def write(
        self, behaviour: Behaviour, system: str, prompt: str, schema: dict | None, images: list[PILImage] | None = None
    ) -> tuple[str, bool]:
        """The text to send and whether it was cut at the token limit."""
        if behaviour.output == "babble":
            return BABBLE, False
        text = self.reader(images) if images else self.responder(system, prompt, schema)
        if behaviour.output == "truncate":
            return text[: max(1, len(text) // 2)], True
        return text, False


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeLLM  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake.connections += 1
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms per call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def gateway_answered(self) -> bool:
        """Whether a gateway answered instead of the service (its own body: a bare string, HTML, ...)."""
        if self.fake.gateway is None:
            return False
        status, content_type, body = self.fake.gateway
        self.rfile.read(int(self.headers.get("content-length") or 0))
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def pause(self, behaviour: Behaviour) -> None:
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # slow handlers must not hold up the test's teardown

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer is expected here, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Runs a handler class on 127.0.0.1 (a free port) in a daemon thread; use as a context manager."""

    def __init__(self, handler: type[FakeHandler], fake: FakeLLM | None = None) -> None:
        self.fake = fake or FakeLLM()
        bound = type(handler.__name__, (handler,), {"fake": self.fake})
        self._server = _QuietServer(("127.0.0.1", 0), bound)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
