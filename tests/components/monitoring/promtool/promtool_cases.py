"""promtool unit tests generated from a rendered rule file and the stack's *configured* thresholds.

For every alerting rule this builds two promtool test groups: one whose input
series must make the alert fire (with exact labels and annotations) and one
"quiet" case on the other side of the threshold. The inputs come from the
stack's :class:`AlertThresholds` (never from the rendered expression), so a rule
that ignores or mangles a configured threshold fails its test:

* gauges compared with ``>`` are quiet exactly AT the threshold and fire one step
  above it (queue depth +1, KV cache +0.01, GPU temperature +1 °C, GPU memory +1 %);
* the TTFT p95 quiet case puts every request above the top finite bucket ``le=T``, for
  which histogram_quantile returns exactly T; the firing case lands 0.95 % above T;
* ``>=`` (restarts) is quiet one restart below and fires exactly at the threshold;
* rate ratios (preemptions, error share) fire 1 % above and stay quiet 1 % below the
  threshold (exactly-at would depend on floating-point rounding of rate()).

Every namespace-scoped rule's quiet case also holds a copy of the firing series in
another namespace (a second stack on a shared Prometheus), which must not fire it.
Each alert's ``for`` is checked against its threshold key where it has one.

Run by tests/components/monitoring/test_monitoring_promtool.py. By hand, from the repository root:
``uv run python tests/components/monitoring/promtool/promtool_cases.py RULES_FILE [STACK]`` writes
RULES_FILE's ``.test.yaml`` beside it, with STACK's thresholds (default: the
AlertThresholds defaults); then ``promtool test rules <that file>``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from components.observability import AlertThresholds  # noqa: E402

Series = list[tuple[str, dict[str, str], str]]  # (metric, labels, promtool values)
Case = tuple[Series, Series, dict[str, str]]  # firing inputs, quiet inputs, labels the expr yields

_NS = "slm-test"
OTHER_NS = "other-stack"
"""Namespace of the look-alike series a namespace-scoped rule must ignore."""


@dataclass(frozen=True)
class Ctx:
    """What a case generator gets: the rule's expression, the sample count, timings and the configured thresholds."""

    expr: str
    n: int  # samples per series = n + 1, one per minute
    wait: int  # eval minute
    for_min: int
    t: AlertThresholds


def num(value: float) -> str:
    """A number as promtool/PromQL text, exactly (``%g`` alone would round)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _sel(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _label(expr: str, name: str, default: str) -> str:
    m = re.search(rf'\b{name}="([^"]+)"', expr)
    return m.group(1) if m else default


def _scope(c: Ctx) -> dict[str, str]:
    return {"job": _label(c.expr, "job", "x"), "namespace": _label(c.expr, "namespace", _NS)}


def _above(x: float, cap: float | None = None) -> float:
    """Just above ``x`` (1 %), never above ``cap``."""
    up = x * 1.01 if x > 0 else 0.01
    return up if cap is None else min(up, x + (cap - x) / 2)


def target_down(c: Ctx) -> Case:
    labels = {**_scope(c), "pod": "srv-0"}
    full = {**labels, "container": "auth-proxy"}
    return [("up", full, f"0x{c.n}")], [("up", full, f"1x{c.n}")], labels


def no_target_up(c: Ctx) -> Case:
    labels = _scope(c)
    ours = {**labels, "pod": "srv-0", "container": "auth-proxy"}
    # firing: our job has no `up` series at all (pods Pending) while another stack's same-named job is up
    return [("up", {**ours, "namespace": OTHER_NS}, f"1x{c.n}")], [("up", ours, f"1x{c.n}")], labels


def queue_depth(c: Ctx) -> Case:
    q = c.t.queue_depth
    labels = {"job": _scope(c)["job"], "model_name": "m"}
    full = {**_scope(c), "model_name": "m", "engine": "0"}
    m = "vllm:num_requests_waiting"
    return [(m, full, f"{q + 1}x{c.n}")], [(m, full, f"{q}x{c.n}")], labels


def ttft_p95(c: Ctx) -> Case:
    t = c.t.ttft_p95_seconds
    labels = {"job": _scope(c)["job"], "model_name": "m"}
    full = {**_scope(c), "model_name": "m"}
    m = "vllm:time_to_first_token_seconds_bucket"

    def buckets(counts: dict[str, int]) -> Series:
        return [(m, {**full, "le": le}, f"0+{inc}x{c.n}") for le, inc in counts.items()]

    firing = buckets({num(t): 0, num(t * 1.01): 60, "+Inf": 60})  # p95 = t + 0.95 % of t
    quiet = buckets({num(t): 0, "+Inf": 60})  # p95 in the +Inf bucket: histogram_quantile returns exactly t
    return firing, quiet, labels


def kv_cache(c: Ctx) -> Case:
    k = c.t.kv_cache_usage
    assert k < 1, "a KV-cache threshold of 1 can never be exceeded"
    labels = {"job": _scope(c)["job"], "model_name": "m"}
    full = {**_scope(c), "model_name": "m", "engine": "0"}
    m = "vllm:kv_cache_usage_perc"
    return [(m, full, f"{num(min(k + 0.01, (1 + k) / 2))}x{c.n}")], [(m, full, f"{num(k)}x{c.n}")], labels


def preemptions(c: Ctx) -> Case:
    p = c.t.preemptions_per_minute
    labels = {"job": _scope(c)["job"], "model_name": "m"}
    full = {**_scope(c), "model_name": "m", "engine": "0"}
    m = "vllm:num_preemptions_total"
    return [(m, full, f"0+{num(_above(p))}x{c.n}")], [(m, full, f"0+{num(p * 0.99)}x{c.n}")], labels


def error_rate(c: Ctx) -> Case:
    e = c.t.error_rate
    assert e < 1, "an error-rate threshold of 1 can never be exceeded"
    labels = {"job": _scope(c)["job"]}
    base = {**_scope(c), "handler": "/v1/chat/completions", "method": "POST"}
    m = "http_requests_total"

    def share(x: float) -> Series:  # 100 requests a minute, a share x of them 5xx
        return [(m, {**base, "status": "5xx"}, f"0+{num(100 * x)}x{c.n}"), (m, {**base, "status": "2xx"}, f"0+{num(100 - 100 * x)}x{c.n}")]

    return share(_above(e, 1.0)), share(e * 0.99), labels


def _pod(c: Ctx) -> dict[str, str]:
    return {"namespace": _label(c.expr, "namespace", _NS), "pod": "srv-0", "container": "vllm"}


def restart_loop(c: Ctx) -> Case:
    r = c.t.restarts_per_15m
    labels = _pod(c)
    full = {**labels, "job": "kube-state-metrics"}
    m = "kube_pod_container_status_restarts_total"
    # The counter steps from 0 to v at minute s + 1: inside every 15m window from then until the eval
    # time, and early enough that the alert has been pending for its whole `for`.
    s = c.wait - c.for_min - 2
    assert c.for_min + 2 <= 15, "restart case needs for + 2m <= the 15m window"

    def step(v: int) -> str:
        return f"0x{s} {v}x{c.n - s - 1}"

    return [(m, full, step(r))], [(m, full, step(r - 1))], labels  # rule uses >= r


def oom_killed(c: Ctx) -> Case:
    labels = _pod(c)
    full = {**labels, "job": "kube-state-metrics"}
    reason = ("kube_pod_container_status_last_terminated_reason", {**full, "reason": "OOMKilled"}, f"1x{c.n}")
    restarts = "kube_pod_container_status_restarts_total"
    # quiet: the last termination was an OOM kill long ago; no restart in the window
    return [reason, (restarts, full, f"0+1x{c.n}")], [reason, (restarts, full, f"5x{c.n}")], labels


def _gpu() -> dict[str, str]:
    return {"Hostname": "gpu-node-1", "gpu": "0"}


def gpu_memory(c: Ctx) -> Case:
    g = c.t.gpu_memory_usage
    decimals = max(4, -Decimal(repr(g)).as_tuple().exponent)
    total = 10**decimals
    used = round(g * total)
    assert used < total and Decimal(used) / total == Decimal(repr(g)), f"gpuMemoryUsage {g} cannot be exceeded or expressed exactly"
    labels = _gpu()
    full = {**labels, "UUID": "GPU-1", "modelName": "NVIDIA L4"}
    fb_used, fb_free = "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"

    def ratio(u: int) -> Series:
        return [(fb_used, full, f"{u}x{c.n}"), (fb_free, full, f"{total - u}x{c.n}")]

    return ratio(min(total, used + max(1, total // 100))), ratio(used), labels  # quiet: exactly g


def gpu_temperature(c: Ctx) -> Case:
    t = c.t.gpu_temperature_celsius
    labels = _gpu()
    full = {**labels, "UUID": "GPU-1"}
    m = "DCGM_FI_DEV_GPU_TEMP"
    return [(m, full, f"{num(t + 1)}x{c.n}")], [(m, full, f"{num(t)}x{c.n}")], labels


def probe_failing(c: Ctx) -> Case:
    labels = {**_scope(c), "instance": "http://srv:11434/api/version"}
    full = {**labels, "engine": "ollama"}
    return [("probe_success", full, f"0x{c.n}")], [("probe_success", full, f"1x{c.n}")], labels


def gateway_at_limit(c: Ctx) -> Case:
    share = c.t.gateway_limited_share
    labels = {**_scope(c), "client": "chat-app"}

    def refused(x: float) -> Series:  # 100 requests a minute, a share x of them refused with 429 (rpm)
        ok = {**labels, "model": "m", "code": "200"}
        limited = {**labels, "model": "", "code": "429"}
        return [("slm_gateway_requests_total", ok, f"0+{num(100 - 100 * x)}x{c.n}"),
                ("slm_gateway_requests_total", limited, f"0+{num(100 * x)}x{c.n}"),
                ("slm_gateway_limited_total", {**labels, "limit": "rpm"}, f"0+{num(100 * x)}x{c.n}")]

    return refused(_above(share, 1.0)), refused(share * 0.99), labels


def gateway_auth_failures(c: Ctx) -> Case:
    per_minute = c.t.gateway_auth_failures_per_minute
    labels = _scope(c)
    series = {**labels, "client": "unauthenticated", "model": "", "code": "401"}
    m = "slm_gateway_requests_total"
    return [(m, series, f"0+{num(_above(per_minute))}x{c.n}")], [(m, series, f"0+{num(per_minute * 0.99)}x{c.n}")], labels


CASES: dict[str, Callable[[Ctx], Case]] = {
    "VllmTargetDown": target_down,
    "VllmNoTargetUp": no_target_up,
    "VllmQueueDepthHigh": queue_depth,
    "VllmTtftP95High": ttft_p95,
    "VllmKvCacheHigh": kv_cache,
    "VllmPreemptionsRising": preemptions,
    "VllmErrorRateHigh": error_rate,
    "PodRestartLooping": restart_loop,
    "ContainerOOMKilled": oom_killed,
    "GpuMemoryNearFull": gpu_memory,
    "GpuTemperatureHigh": gpu_temperature,
    "OllamaProbeFailing": probe_failing,
    "EdgeNodeProbeFailing": probe_failing,
    "GatewayTargetDown": target_down,
    "GatewayClientAtLimit": gateway_at_limit,
    "GatewayAuthFailures": gateway_auth_failures,
}
"""Alert name -> case generator. Every alert the stacks render must be listed."""

FOR_KEYS: dict[str, str] = {
    "VllmTargetDown": "down_for",
    "VllmQueueDepthHigh": "queue_for",
    "OllamaProbeFailing": "probe_for",
    "EdgeNodeProbeFailing": "probe_for",
    "GatewayTargetDown": "down_for",
    "GatewayClientAtLimit": "gateway_limited_for",
    "GatewayAuthFailures": "gateway_auth_for",
}
"""Alerts whose ``for`` is a configured threshold (AlertThresholds field)."""


def _minutes(duration: str) -> int:
    total = 0.0
    for value, unit in re.findall(r"(\d+)(ms|s|m|h|d)", duration):
        total += int(value) * {"ms": 1 / 60000, "s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit]
    return math.ceil(total)


def _render(text: str, labels: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        return labels[m.group(1)]

    assert "$value" not in text, "annotations must not template $value (promtool tests compare them exactly)"
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", sub, text)


def _elsewhere(firing: Series, namespace: str) -> Series:
    """The firing series of ``namespace`` copied into another namespace."""
    return [(m, {**labels, "namespace": OTHER_NS}, values) for m, labels, values in firing if labels.get("namespace") == namespace]


def build_tests(rule_file: str, groups: list[dict[str, Any]], thresholds: AlertThresholds) -> tuple[dict[str, Any], list[str]]:
    """The promtool test document for ``groups`` (as in ``rule_file``) rendered with ``thresholds``, and its case ids."""
    tests, ids = [], []
    # absent() fires for every job without series: give every other VllmNoTargetUp job a live target.
    absent_jobs = [_scope(Ctx(r["expr"], 0, 0, 0, thresholds)) for g in groups for r in g["rules"] if r["alert"] == "VllmNoTargetUp"]
    for group in groups:
        for rule in group["rules"]:
            name = rule["alert"]
            if name not in CASES:
                raise AssertionError(f"alert {name} (group {group['name']}) has no promtool case in tests/components/monitoring/promtool/promtool_cases.py")
            if name in FOR_KEYS:
                want = getattr(thresholds, FOR_KEYS[name])
                assert rule["for"] == want, f"{name}: for {rule['for']!r} is not the configured {FOR_KEYS[name]} {want!r}"
            for_min = _minutes(rule["for"])
            wait = for_min + 20  # the for-duration plus the longest range window (15m) and slack
            ctx = Ctx(expr=rule["expr"], n=wait + 10, wait=wait, for_min=for_min, t=thresholds)
            firing, quiet, labels = CASES[name](ctx)
            scoped_ns = _label(rule["expr"], "namespace", "")
            if scoped_ns:
                quiet = quiet + _elsewhere(firing, scoped_ns)
            if name == "VllmNoTargetUp":
                live = [("up", {**s, "pod": "live-0", "container": "auth-proxy"}, f"1x{ctx.n}") for s in absent_jobs if s != labels]
                firing, quiet = firing + live, quiet + live
            exp_labels = {**labels, **rule["labels"]}
            exp_annotations = {k: _render(v, exp_labels) for k, v in rule["annotations"].items()}
            for kind, series, expected in (
                ("firing", firing, [{"exp_labels": exp_labels, "exp_annotations": exp_annotations}]),
                ("quiet", quiet, []),
            ):
                tests.append(
                    {
                        "name": f"{group['name']}/{name}/{kind}",
                        "interval": "1m",
                        "input_series": [{"series": f"{m}{_sel(lb)}", "values": v} for m, lb, v in series],
                        "alert_rule_test": [{"eval_time": f"{wait}m", "alertname": name, "exp_alerts": expected}],
                    }
                )
                ids.append(f"{group['name']}/{name}/{kind}")
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}, ids


def stack_thresholds(stack: str) -> AlertThresholds:
    """The thresholds stack ``stack`` configures (defaults when it has no monitoring)."""
    from stacks.loader import load_stack

    monitoring = load_stack(stack).config.monitoring
    return monitoring.thresholds if monitoring is not None else AlertThresholds()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python tests/components/monitoring/promtool/promtool_cases.py RULES_FILE [STACK]")
    rules_path = Path(sys.argv[1])
    t = stack_thresholds(sys.argv[2]) if len(sys.argv) == 3 else AlertThresholds()
    doc, _ = build_tests(rules_path.name, yaml.safe_load(rules_path.read_text())["groups"], t)
    out = rules_path.with_suffix(".test.yaml")
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    print(out)
