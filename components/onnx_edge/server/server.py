"""OpenAI-compatible HTTP server for ONNX Runtime GenAI models (slm-deploy OnnxEdgeNode).

There is no official OpenAI-compatible server or runtime image for onnxruntime-genai,
so this is ours. Standard library only (``http.server.ThreadingHTTPServer``): the
image stays small and there is no web framework to patch on edge boxes.

Routes
  POST /v1/chat/completions   chat completion, non-streaming or SSE (``"stream": true``)
  GET  /v1/models             the one served model
  GET  /metrics               Prometheus text format (requires the API key, like /v1)
  GET  /health                liveness: 200 while the process works (500 once the model failed to load)
  GET  /ready                 readiness: 200 only after the model has loaded

Auth: every route except /health and /ready needs ``Authorization: Bearer <key>``. Keys
are read from the file named by ``SLM_API_KEY_FILE`` (one key per line; blank lines and
``#`` comments ignored). The server refuses to start without a key: edge boxes have no
authenticating sidecar, so the server is its own gate.

Generation runs in the request's worker thread behind a concurrency limit
(``SLM_CONCURRENCY`` running, ``SLM_MAX_QUEUE`` waiting); a full queue and a wait longer
than ``SLM_QUEUE_TIMEOUT`` seconds both answer 503 in OpenAI's error shape, with
Retry-After. The socket's listen backlog is ``SLM_LISTEN_BACKLOG`` (the standard
library's default of 5 resets connections in a burst). ``max_tokens`` becomes
``max_length = prompt tokens + max_tokens``, capped at ``SLM_MAX_LENGTH`` (the KV cache
onnxruntime-genai allocates is sized by max_length; never the model's full context).
Sampling options are checked against what onnxruntime-genai accepts before it sees them
(``seed`` fits a C++ ``int``, ``top_k`` at most the vocabulary); options this server cannot
honour (``stop``, penalties, ``logprobs``) are refused with 400 rather than ignored. Any
engine failure answers a JSON 500 (or a final SSE error event once streaming has begun),
logs one line and counts ``slm_onnx_errors_total``; a client never sees a dropped connection.

Logs are JSON lines on stdout. Prompts, completions and keys are never logged.

Environment
  SLM_MODEL_DIR        folder with genai_config.json (the ONNX variant)      required
  SLM_MODEL_ID         name served in /v1/models and responses               required
  SLM_API_KEY_FILE     file with the API key(s)                              required
  SLM_MAX_LENGTH       cap on prompt + completion tokens                     default 4096
  SLM_CONCURRENCY      generations running at once                           default 1
  SLM_MAX_QUEUE        requests waiting for a slot                           default 8
  SLM_QUEUE_TIMEOUT    seconds a request may wait for a slot                 default 300
  SLM_LISTEN_BACKLOG   connections the kernel queues before accept()         default 128
  SLM_EXECUTION_PROVIDER  cpu | cuda | openvino | qnn                        default cpu
  SLM_HOST / SLM_PORT  listen address                                        default 0.0.0.0:8000
"""

from __future__ import annotations

import hmac
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

__all__ = [
    "ApiError",
    "Engine",
    "OnnxGenaiEngine",
    "Sampling",
    "ServerConfig",
    "ServerState",
    "build_server",
    "load_api_keys",
    "main",
]

MAX_BODY_BYTES = 1024 * 1024
ROLES = frozenset({"system", "user", "assistant", "tool"})
SEED_MAX = 2**31 - 1
"""onnxruntime-genai casts ``random_seed`` to a C++ ``int``: a larger seed raises inside the engine."""
UNSUPPORTED_OPTIONS = {"stop": (None, [], ""), "logprobs": (None, False), "top_logprobs": (None, 0),
                       "logit_bias": (None, {}), "presence_penalty": (None, 0), "frequency_penalty": (None, 0)}
"""OpenAI options this server cannot honour: only these 'off' values are accepted."""
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PROVIDERS = {"cpu": None, "cuda": "cuda", "openvino": "OpenVINO", "qnn": "QNN"}
"""Our execution-provider ids -> the names ``og.Config.append_provider`` takes (cpu: no provider)."""


# --------------------------------------------------------------------------- logging
def log(level: str, msg: str, **fields: Any) -> None:
    """One JSON object per line on stdout (container log drivers pick it up)."""
    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z", "level": level, "msg": msg, **fields}
    sys.stdout.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- engine interface
@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None


class Engine(Protocol):
    """What the HTTP layer needs from a generation backend (the real one or a test fake)."""

    vocab_size: int | None
    """Known after load(): the upper bound for ``top_k`` (None: not checked)."""

    def load(self) -> None:
        """Load weights and tokenizer (slow; runs in a background thread at start-up)."""

    def encode_chat(self, messages: list[dict[str, Any]]) -> Sequence[int]:
        """Apply the model's chat template (with the generation prompt) and tokenize."""

    def generate(self, prompt_tokens: Sequence[int], max_length: int, sampling: Sampling) -> Iterator[str]:
        """Set up generation now (errors raise here), then yield decoded text, one piece per
        generated token, until EOS or ``max_length`` total tokens."""


class OnnxGenaiEngine:
    """onnxruntime-genai backend: og.Model + og.Tokenizer, one og.Generator per request.

    ``og_module`` lets tests inject a stub of ``onnxruntime_genai``.
    """

    def __init__(self, model_dir: str, execution_provider: str = "cpu", og_module: Any = None) -> None:
        if execution_provider not in PROVIDERS:
            raise ValueError(f"execution provider {execution_provider!r}; allowed: {', '.join(PROVIDERS)}")
        self.model_dir = model_dir
        self.execution_provider = execution_provider
        self._og = og_module
        self.model: Any = None
        self.tokenizer: Any = None
        self.vocab_size: int | None = None

    def load(self) -> None:
        og = self._og if self._og is not None else importlib.import_module("onnxruntime_genai")
        self._og = og
        config = og.Config(self.model_dir)
        config.clear_providers()
        provider = PROVIDERS[self.execution_provider]
        if provider is not None:
            config.append_provider(provider)
        self.model = og.Model(config)
        self.tokenizer = og.Tokenizer(self.model)
        with open(os.path.join(self.model_dir, "genai_config.json"), encoding="utf-8") as fh:
            self.vocab_size = json.load(fh)["model"]["vocab_size"]

    def encode_chat(self, messages: list[dict[str, Any]]) -> Sequence[int]:
        prompt = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return self.tokenizer.encode(prompt)

    def generate(self, prompt_tokens: Sequence[int], max_length: int, sampling: Sampling) -> Iterator[str]:
        og = self._og
        params = og.GeneratorParams(self.model)
        options: dict[str, Any] = {"max_length": max_length}
        if sampling.temperature is not None and sampling.temperature > 0:
            options["do_sample"] = True
            options["temperature"] = sampling.temperature
            if sampling.top_p is not None:
                options["top_p"] = sampling.top_p
            if sampling.top_k is not None:
                options["top_k"] = sampling.top_k
            if sampling.seed is not None:
                options["random_seed"] = sampling.seed
        else:
            options["do_sample"] = False  # greedy: temperature 0 or unset
        params.set_search_options(**options)
        generator = og.Generator(self.model, params)
        generator.append_tokens(prompt_tokens)
        return self._tokens(generator, self.tokenizer.create_stream())

    @staticmethod
    def _tokens(generator: Any, stream: Any) -> Iterator[str]:
        try:
            while not generator.is_done():
                generator.generate_next_token()
                yield stream.decode(generator.get_next_tokens()[0])
        finally:
            del generator  # frees the KV cache now, not at the next GC


# --------------------------------------------------------------------------- config and state
@dataclass(frozen=True)
class ServerConfig:
    model_id: str
    api_keys: tuple[str, ...]
    max_length: int = 4096
    concurrency: int = 1
    max_queue: int = 8
    queue_timeout: float = 300.0
    listen_backlog: int = 128

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("no API key: the server refuses to run unauthenticated")
        if self.max_length < 2 or self.concurrency < 1 or self.max_queue < 0 or self.listen_backlog < 1:
            raise ValueError("max_length >= 2, concurrency >= 1, max_queue >= 0 and listen_backlog >= 1 are required")


def load_api_keys(path: str) -> tuple[str, ...]:
    """Keys from a file, one per line; '#' comments and blank lines ignored."""
    with open(path, encoding="utf-8") as fh:
        keys = tuple(line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#"))
    if not keys:
        raise ValueError(f"API key file {path} holds no key")
    return keys


class Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str) -> list[str]:
        out = [f'{name}_bucket{{le="{b:g}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out += [f'{name}_bucket{{le="+Inf"}} {self.total}', f"{name}_sum {self.sum:.6f}", f"{name}_count {self.total}"]
        return out


@dataclass
class Metrics:
    """Prometheus metrics (names listed in METRIC_NAMES)."""

    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    generation_tokens: int = 0
    latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    ttft: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, route: str, code: int) -> None:
        with self.lock:
            self.requests[(route, code)] = self.requests.get((route, code), 0) + 1

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


METRIC_NAMES = (
    "slm_onnx_requests_total",
    "slm_onnx_errors_total",
    "slm_onnx_prompt_tokens_total",
    "slm_onnx_generation_tokens_total",
    "slm_onnx_request_duration_seconds",
    "slm_onnx_time_to_first_token_seconds",
    "slm_onnx_requests_running",
    "slm_onnx_requests_waiting",
    "slm_onnx_model_loaded",
)


ERROR_KINDS = ("engine", "internal")
"""``slm_onnx_errors_total{kind}``: engine = onnxruntime-genai raised; internal = a bug in this server."""


class Busy(Exception):
    pass


class Admission:
    """Concurrency limit: ``slots`` running, at most ``max_queue`` waiting, wait bounded by ``timeout``."""

    def __init__(self, slots: int, max_queue: int, timeout: float) -> None:
        self._slots = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self.max_queue = max_queue
        self.timeout = timeout
        self.running = 0
        self.waiting = 0

    def acquire(self) -> None:
        """Take a slot; raise Busy("queue_full") when the queue is full, Busy("queue_timeout") after the timeout."""
        if self._slots.acquire(blocking=False):
            with self._lock:
                self.running += 1
            return
        with self._lock:
            if self.waiting >= self.max_queue:
                raise Busy("queue_full")
            self.waiting += 1
        try:
            got = self._slots.acquire(timeout=self.timeout)
        finally:
            with self._lock:
                self.waiting -= 1
        if not got:
            raise Busy("queue_timeout")
        with self._lock:
            self.running += 1

    def release(self) -> None:
        with self._lock:
            self.running -= 1
        self._slots.release()


class ServerState:
    """Everything the request handlers share."""

    def __init__(self, config: ServerConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.admission = Admission(config.concurrency, config.max_queue, config.queue_timeout)
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.created = int(time.time())

    def load_model(self) -> None:
        started = time.monotonic()
        try:
            self.engine.load()
        except Exception as exc:  # noqa: BLE001 - reported through /health and the log
            self.load_error = f"{type(exc).__name__}: {exc}"
            log("error", "model load failed", error=self.load_error, trace=traceback.format_exc(limit=5))
            return
        self.ready.set()
        log("info", "model loaded", model=self.config.model_id, seconds=round(time.monotonic() - started, 2))

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        given = header[len("Bearer "):].strip().encode()
        return any(hmac.compare_digest(given, key.encode()) for key in self.config.api_keys)


# --------------------------------------------------------------------------- request validation
class ApiError(Exception):
    """An error answered as OpenAI-style JSON: {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    max_tokens: int | None
    stream: bool
    include_usage: bool
    sampling: Sampling


def _number(body: dict, key: str, low: float, high: float, *, integer: bool = False) -> Any:
    value = body.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
        kind, bounds = ("an integer", f"{low} and {high}") if integer else ("a number", f"{low:g} and {high:g}")
        raise ApiError(400, f"'{key}' must be {kind} between {bounds}, got {value!r}", param=key)
    return value


def _content(message: dict, index: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": "..."}]
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}].content: only text parts are supported", param=f"messages.{index}.content")
            parts.append(part["text"])
        return "".join(parts)
    raise ApiError(400, f"messages[{index}].content must be a string or a list of text parts", param=f"messages.{index}.content")


def parse_chat_request(body: Any, model_id: str) -> ChatRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    model = body.get("model")
    if model is not None and model != model_id:
        raise ApiError(404, f"model {model!r} does not exist; this server serves {model_id!r}",
                       param="model", code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    clean = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}", param=f"messages.{i}.role")
        clean.append({"role": message["role"], "content": _content(message, i)})
    if body.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    if body.get("tools"):
        raise ApiError(400, "tool calling is not supported by this server", param="tools")
    max_tokens = _number(body, "max_completion_tokens", 1, 10**7, integer=True)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", 1, 10**7, integer=True)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be a boolean", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "'stream_options' must be an object", param="stream_options")
    sampling = Sampling(
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        top_k=_number(body, "top_k", 1, 10**6, integer=True),
        seed=_number(body, "seed", 0, SEED_MAX, integer=True),
    )
    for key, off in UNSUPPORTED_OPTIONS.items():
        if key in body and not _is_off(body[key], off):
            raise ApiError(400, f"'{key}' is not supported by this server (accepted: omitted or "
                                f"{', '.join(json.dumps(v) for v in off)})", param=key)
    return ChatRequest(clean, max_tokens, stream, bool(options.get("include_usage")), sampling)


def _is_off(value: Any, off: tuple[Any, ...]) -> bool:
    return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in off)


def check_top_k(sampling: Sampling, vocab_size: int | None) -> None:
    """onnxruntime-genai raises when top_k exceeds the vocabulary; say so as a 400 instead."""
    if vocab_size is not None and sampling.top_k is not None and sampling.top_k > vocab_size:
        raise ApiError(400, f"'top_k' must be an integer between 1 and the vocabulary size {vocab_size}, "
                            f"got {sampling.top_k}", param="top_k")


def plan_length(prompt_tokens: int, max_tokens: int | None, cap: int) -> int:
    """max_length for og: prompt + max_tokens, never above the cap; 400 when the prompt alone fills it."""
    if prompt_tokens >= cap:
        raise ApiError(400, f"the prompt has {prompt_tokens} tokens; this server's limit is {cap} tokens "
                            "for prompt and completion together", param="messages", code="context_length_exceeded")
    if max_tokens is None:
        return cap
    return min(cap, prompt_tokens + max_tokens)


# --------------------------------------------------------------------------- HTTP
class Handler(BaseHTTPRequestHandler):
    server_version = "slm-onnx-edge"
    sys_version = ""
    state: ServerState  # set by build_server

    # -- plumbing ----------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # replaced by the JSON access log in _finish

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._record(status)
        self.wfile.write(data)

    def _send_error(self, err: ApiError) -> None:
        self._send_json(err.status, err.body(), err.headers)

    def _route(self) -> str:
        return self.path.split("?", 1)[0]

    def _record(self, status: int) -> None:
        """Count this request in the metrics, once, before the last byte of its answer is written: a client that
        has read the whole answer and then scrapes ``/metrics`` always finds it counted (``_usage``: the prompt
        and completion tokens of a chat completion, with its duration)."""
        self._status = status
        if getattr(self, "_recorded", False):
            return
        self._recorded = True
        route = self._route()
        metrics = self.state.metrics
        metrics.count(route if route in _KNOWN_ROUTES else "other", status)
        usage = getattr(self, "_usage", None)
        if usage is not None:
            with metrics.lock:
                metrics.prompt_tokens += usage[0]
                metrics.generation_tokens += usage[1]
                metrics.latency.observe(time.monotonic() - self._started)

    def _finish(self, started: float, **fields: Any) -> None:
        """The access log line; counts the request if no answer was written (the client left)."""
        route = self._route()
        status = getattr(self, "_status", 0)
        self._record(status)
        log("info", "request", method=self.command, path=route, status=status,
            duration_ms=round((time.monotonic() - started) * 1000, 1), client=self.client_address[0], **fields)

    def _failed(self, kind: str, exc: BaseException) -> ApiError:
        """An unexpected exception: one log line, ``slm_onnx_errors_total{kind}``, a JSON 500 for the client."""
        self.state.metrics.error(kind)
        log("error", f"{kind} error", path=self._route(), error=f"{type(exc).__name__}: {exc}"[:500],
            trace=traceback.format_exc(limit=5))
        return ApiError(500, f"the {kind} failed ({type(exc).__name__}); see the server log",
                        type_="server_error", code=f"{kind}_error")

    @contextmanager
    def _engine_calls(self) -> Iterator[None]:
        """Turn any exception from onnxruntime-genai into a logged, counted ApiError(500)."""
        try:
            yield
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - every engine failure becomes a JSON 500
            raise self._failed("engine", exc) from None

    def _answer(self, handle: Any) -> None:
        """Run a route handler; every failure still answers JSON (unless the client is gone)."""
        try:
            handle()
        except ApiError as err:
            if not getattr(self, "_headers_sent", False):
                self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self._status = self._status or 499  # the client left; nothing to answer
        except Exception as exc:  # noqa: BLE001 - never drop a connection without an answer
            err = self._failed("internal", exc)
            if not getattr(self, "_headers_sent", False):
                self._send_error(err)

    def _authorize(self) -> None:
        if not self.state.authorized(self.headers.get("Authorization")):
            raise ApiError(401, "missing or invalid API key (Authorization: Bearer <key>)",
                           type_="authentication_error", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})

    def _begin(self) -> float:
        """Per-request state (a handler object could serve several requests on one connection)."""
        self._started = time.monotonic()
        self._status, self._recorded, self._usage, self._headers_sent = 0, False, None, False
        return self._started

    # -- GET -----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        started = self._begin()
        self._answer(self._get)
        self._finish(started)

    def _get(self) -> None:
        route = self._route()
        if route == "/health":
            if self.state.load_error:
                raise ApiError(500, f"model failed to load: {self.state.load_error}", type_="server_error")
            self._send_json(200, {"status": "ok"})
        elif route == "/ready":
            if not self.state.ready.is_set():
                raise ApiError(503, "model is loading", type_="server_error", code="not_ready")
            self._send_json(200, {"status": "ready", "model": self.state.config.model_id})
        elif route == "/v1/models":
            self._authorize()
            self._send_json(200, {"object": "list", "data": [{
                "id": self.state.config.model_id, "object": "model", "created": self.state.created,
                "owned_by": "slm-deploy", "max_model_len": self.state.config.max_length}]})
        elif route == "/metrics":
            self._authorize()
            data = self._metrics_text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self._record(200)
            self.wfile.write(data)
        else:
            raise ApiError(404, f"no route {route}", code="not_found")

    def _metrics_text(self) -> str:
        s, m = self.state, self.state.metrics
        lines = ["# TYPE slm_onnx_requests_total counter"]
        with m.lock:
            lines += [f'slm_onnx_requests_total{{route="{r}",code="{c}"}} {n}' for (r, c), n in sorted(m.requests.items())]
            lines += ["# TYPE slm_onnx_errors_total counter"]
            lines += [f'slm_onnx_errors_total{{kind="{k}"}} {m.errors.get(k, 0)}' for k in ERROR_KINDS]
            lines += ["# TYPE slm_onnx_prompt_tokens_total counter", f"slm_onnx_prompt_tokens_total {m.prompt_tokens}",
                      "# TYPE slm_onnx_generation_tokens_total counter", f"slm_onnx_generation_tokens_total {m.generation_tokens}",
                      "# TYPE slm_onnx_request_duration_seconds histogram", *m.latency.lines("slm_onnx_request_duration_seconds"),
                      "# TYPE slm_onnx_time_to_first_token_seconds histogram", *m.ttft.lines("slm_onnx_time_to_first_token_seconds")]
        lines += ["# TYPE slm_onnx_requests_running gauge", f"slm_onnx_requests_running {s.admission.running}",
                  "# TYPE slm_onnx_requests_waiting gauge", f"slm_onnx_requests_waiting {s.admission.waiting}",
                  "# TYPE slm_onnx_model_loaded gauge", f"slm_onnx_model_loaded {1 if s.ready.is_set() else 0}"]
        return "\n".join(lines) + "\n"

    # -- POST ----------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        started = self._begin()
        fields: dict[str, Any] = {}

        def post() -> None:
            if self._route() != "/v1/chat/completions":
                raise ApiError(404, f"no route {self._route()}", code="not_found")
            self._authorize()
            request = parse_chat_request(self._read_json(), self.state.config.model_id)
            if not self.state.ready.is_set():
                raise ApiError(503, "model is loading; retry when /ready answers 200", type_="server_error",
                               code="not_ready", headers={"Retry-After": "5"})
            fields.update(self._complete(request, started))

        self._answer(post)
        self._finish(started, **fields)

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ApiError(411, "Content-Length is required", code="length_required")
        if int(length) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body is {length} bytes; the limit is {MAX_BODY_BYTES}", code="body_too_large")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}") from None

    def _complete(self, request: ChatRequest, started: float) -> dict[str, Any]:
        state = self.state
        try:
            state.admission.acquire()
        except Busy as busy:
            if busy.args[0] == "queue_full":
                raise ApiError(503, f"server busy: {state.config.concurrency} running and {state.admission.max_queue} "
                                    "waiting; retry later", type_="server_error", code="queue_full",
                               headers={"Retry-After": "2"}) from None
            raise ApiError(503, f"timed out after {state.config.queue_timeout:g}s waiting for a free slot",
                           type_="server_error", code="queue_timeout", headers={"Retry-After": "5"}) from None
        try:
            with self._engine_calls():
                prompt = state.engine.encode_chat(request.messages)
            max_length = plan_length(len(prompt), request.max_tokens, state.config.max_length)
            check_top_k(request.sampling, state.engine.vocab_size)
            with self._engine_calls():
                pieces = state.engine.generate(prompt, max_length, request.sampling)
            if request.stream:
                completion, reason = self._stream(request, pieces, len(prompt), max_length, started)
            else:
                completion, reason = self._whole(pieces, len(prompt), max_length, started)
        finally:
            state.admission.release()
        return {"prompt_tokens": len(prompt), "completion_tokens": completion, "max_length": max_length,
                "finish_reason": reason, "stream": request.stream}

    def _ttft(self, started: float) -> None:
        with self.state.metrics.lock:
            self.state.metrics.ttft.observe(time.monotonic() - started)

    def _whole(self, pieces: Iterator[str], prompt: int, max_length: int, started: float) -> tuple[int, str]:
        text, count = [], 0
        with self._engine_calls():
            for piece in pieces:
                if count == 0:
                    self._ttft(started)
                text.append(piece)
                count += 1
        reason = "length" if prompt + count >= max_length else "stop"
        self._usage = (prompt, count)
        self._send_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": self.state.config.model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)}, "finish_reason": reason}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": count, "total_tokens": prompt + count},
        })
        return count, reason

    def _stream(self, request: ChatRequest, pieces: Iterator[str], prompt: int, max_length: int,
                started: float) -> tuple[int, str]:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        self._status = 200  # on the wire; counted (_record) before the stream's last event
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.state.config.model_id}
        count = 0
        try:
            self._event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            for piece in pieces:
                if count == 0:
                    self._ttft(started)
                count += 1
                self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            reason = "length" if prompt + count >= max_length else "stop"
            self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
            if request.include_usage:
                self._event({**base, "choices": [], "usage": {
                    "prompt_tokens": prompt, "completion_tokens": count, "total_tokens": prompt + count}})
            self._usage = (prompt, count)
            self._record(200)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            close = getattr(pieces, "close", None)
            if close:
                close()  # stop generating for a client that left
            self._usage = (prompt, count)  # counted by _finish: nobody is waiting for the answer
            return count, "client_disconnected"
        except Exception as exc:  # noqa: BLE001 - headers are out: the error goes into the stream
            err = exc if isinstance(exc, ApiError) else self._failed("engine", exc)
            self._usage = (prompt, count)
            self._record(200)
            try:
                self._event(err.body())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            return count, "error"
        return count, reason

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()


_KNOWN_ROUTES = frozenset({"/health", "/ready", "/v1/models", "/v1/chat/completions", "/metrics"})


def build_server(state: ServerState, host: str, port: int) -> ThreadingHTTPServer:
    """A threading HTTP server bound to (host, port) serving ``state`` (port 0: an ephemeral port)."""
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler, bind_and_activate=False)
    server.daemon_threads = True
    server.request_queue_size = state.config.listen_backlog  # listen(backlog); the stdlib default is 5
    try:
        server.server_bind()
        server.server_activate()
    except OSError:
        server.server_close()
        raise
    return server


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def main() -> int:
    try:
        config = ServerConfig(
            model_id=os.environ["SLM_MODEL_ID"],
            api_keys=load_api_keys(os.environ["SLM_API_KEY_FILE"]),
            max_length=_env_int("SLM_MAX_LENGTH", 4096),
            concurrency=_env_int("SLM_CONCURRENCY", 1),
            max_queue=_env_int("SLM_MAX_QUEUE", 8),
            queue_timeout=float(os.environ.get("SLM_QUEUE_TIMEOUT", "300")),
            listen_backlog=_env_int("SLM_LISTEN_BACKLOG", 128),
        )
        engine = OnnxGenaiEngine(os.environ["SLM_MODEL_DIR"], os.environ.get("SLM_EXECUTION_PROVIDER", "cpu"))
    except (KeyError, ValueError, OSError) as exc:
        log("error", "bad configuration", error=f"{type(exc).__name__}: {exc}")
        return 2
    state = ServerState(config, engine)
    host, port = os.environ.get("SLM_HOST", "0.0.0.0"), _env_int("SLM_PORT", 8000)  # noqa: S104 - in-container bind
    server = build_server(state, host, port)
    threading.Thread(target=state.load_model, name="model-load", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log("info", "listening", host=host, port=server.server_address[1], model=config.model_id,
        max_length=config.max_length, concurrency=config.concurrency, max_queue=config.max_queue,
        listen_backlog=config.listen_backlog)
    server.serve_forever()
    log("info", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
