"""The canary split, for real on 127.0.0.1: the generated nginx.conf and gateway.js in Debian's nginx + njs, real
vllm-router processes as the gateway pod runs them (one for the stable revisions, one per canaried service, each
knowing only its own pods), stand-in servers for each revision.

* canary 25: about a quarter of N requests reach the canary stand-in. The count is Binomial(N, 0.25); the bound
  is 5.2 standard deviations wide, so a correct split falls outside it with probability about 2e-7, while a
  split that ignores the percentage (0 %, 50 % or 100 %) falls outside it for certain.
* canary 0 and 100 send every request to one side; a model without canary never reaches the canary router.
* no canary worker for a model (the canary pod not ready yet): its share goes to the stable revision.
* the access log names the track of every request, and no stand-in ever sees a key.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter

import pytest

from components.gateway.proxy import CanaryRoute, ProxyClient

from .harness import Gateway, Router, StandIn, request, require_tools

KEY = "sk-Canary-Test-0123456789abcdef"
N = 400
SHARE = 25


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    require_tools()
    root = tmp_path_factory.mktemp("canary")
    models = ["quarter", "none", "all", "norevision", "plain"]
    stable = {m: StandIn(m) for m in models}
    canary = {m: StandIn(m) for m in ("quarter", "none", "all")}  # "norevision": its canary pod is not ready
    shares = {"quarter": SHARE, "none": 0, "all": 100, "norevision": 100}
    for track in ("stable", *shares):
        (root / track).mkdir()
    routers = {track: Router(root / track) for track in ("stable", *shares)}
    gateway = None
    try:
        for stand_in in stable.values():
            assert routers["stable"].add_worker(stand_in.url)["worker"]["model_id"] == stand_in.model
        for model, stand_in in canary.items():
            assert routers[model].add_worker(stand_in.url)["worker"]["model_id"] == model
        gateway = Gateway(root / "nginx", [ProxyClient("app", tuple(models), rpm=600000, concurrency=64)], models,
                          routers["stable"].address, {"app": [KEY]},
                          canaries=[CanaryRoute((m,), share, routers[m].address) for m, share in shares.items()])
        yield {"gateway": gateway, "stable": stable, "canary": canary, "routers": routers}
    finally:
        if gateway is not None:
            gateway.stop()
        for router in routers.values():
            router.stop()
        for stand_in in [*stable.values(), *canary.values()]:
            stand_in.close()


def _send(gateway: Gateway, model: str, n: int) -> None:
    for _ in range(n):
        status, _, body = request(gateway.url + "/v1/chat/completions", key=KEY,
                                  body={"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body


def _served(stand_in: StandIn) -> int:
    with stand_in.seen.lock:
        return len(stand_in.seen.bodies)


def _tracks(gateway: Gateway, model: str, total: int) -> Counter:
    """The track of each logged request for ``model``, once all ``total`` lines are written (nginx logs a
    request after its response is sent, so the last line can trail the client by a moment)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in gateway.nginx.log.read_text().splitlines() if line.startswith("{")]
        tracks = Counter(line["track"] for line in lines if line.get("model") == model)
        if sum(tracks.values()) >= total or time.monotonic() > deadline:
            return tracks
        time.sleep(0.05)


def test_a_quarter_of_the_requests_reach_the_canary(split):
    _send(split["gateway"], "quarter", N)
    to_canary, to_stable = _served(split["canary"]["quarter"]), _served(split["stable"]["quarter"])
    assert to_canary + to_stable == N
    mean, sd = N * SHARE / 100, math.sqrt(N * SHARE / 100 * (1 - SHARE / 100))
    assert abs(to_canary - mean) <= 5.2 * sd, (to_canary, mean, sd)
    assert _tracks(split["gateway"], "quarter", N) == Counter({"canary": to_canary, "stable": to_stable})


@pytest.mark.parametrize("model,side", [("none", "stable"), ("all", "canary"), ("plain", "stable")])
def test_zero_and_hundred_percent_send_everything_to_one_side(split, model, side):
    _send(split["gateway"], model, 40)
    other = "canary" if side == "stable" else "stable"
    assert _served(split[side][model]) == 40
    assert model not in split[other] or _served(split[other][model]) == 0
    assert _tracks(split["gateway"], model, 40) == Counter({side: 40})


def test_without_a_ready_canary_its_share_goes_to_the_stable_revision(split):
    """Its canary router knows no worker and answers 503 "No available workers"; nginx hands the request to the
    stable router."""
    _send(split["gateway"], "norevision", 20)
    assert _served(split["stable"]["norevision"]) == 20
    assert _tracks(split["gateway"], "norevision", 20) == Counter({"canary": 20})  # chosen track, served by stable


def test_no_stand_in_sees_a_key(split):
    for stand_in in [*split["stable"].values(), *split["canary"].values()]:
        with stand_in.seen.lock:
            for headers in stand_in.seen.headers:
                assert "authorization" not in headers and KEY not in json.dumps(headers)


def test_why_one_router_per_canary(split):
    """The upstream behaviour the design avoids (src/routers/http/router.rs:1399-1401): in IGW mode the router sends
    a model it has no worker for to any worker it has. A router shared by several canaries would hand a model whose
    canary is not ready to another model's canary; a router per canary knows only its own model's pods."""
    canary = split["canary"]["quarter"]
    router = split["routers"]["quarter"].address
    before = _served(canary)
    status, _, body = request(f"http://{router}/v1/chat/completions",
                              body={"model": "norevision", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and json.loads(body)["served_by"] == canary.port
    assert _served(canary) == before + 1
