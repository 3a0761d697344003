"""promtool unit tests generated from the rendered rule files and the stack's thresholds.

For every alerting rule in a rendered rule file this builds two promtool test
groups: one whose input series must make the alert fire (with exact labels and
annotations) and one "quiet" case just on the other side of the threshold.
Inputs are computed from the thresholds, so changing a threshold in a stack
file moves the test inputs with it; an alert without a case generator fails.

Run by tests/test_monitoring_promtool.py; ``python tests/promtool/promtool_cases.py
RULES_FILE THRESHOLDS_JSON`` writes the test YAML next to a rule file for manual use.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Series = list[dict[str, str]]
Case = tuple[Series, Series, dict[str, str]]  # firing inputs, quiet inputs, labels the expr yields

_NS = "slm-test"


def _sel(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": f"{metric}{_sel(labels)}", "values": values}


def _label(expr: str, name: str, default: str) -> str:
    m = re.search(rf'\b{name}="([^"]+)"', expr)
    return m.group(1) if m else default


def _num(expr: str) -> float:
    """The threshold: the number after the last comparison operator."""
    m = re.findall(r"(?:>=|<=|==|>|<)\s*([0-9.]+)\s*$", expr)
    assert m, f"no trailing threshold in {expr!r}"
    return float(m[-1])


def target_down(expr: str, n: int) -> Case:
    labels = {"job": _label(expr, "job", "x"), "namespace": _NS, "pod": "srv-0"}
    full = {**labels, "container": "auth-proxy"}
    return [_series("up", full, f"0x{n}")], [_series("up", full, f"1x{n}")], labels


def queue_depth(expr: str, n: int) -> Case:
    q = _num(expr)
    labels = {"job": _label(expr, "job", "x"), "model_name": "m"}
    full = {**labels, "engine": "0"}
    m = "vllm:num_requests_waiting"
    return [_series(m, full, f"{q + 1:g}x{n}")], [_series(m, full, f"{q:g}x{n}")], labels


def ttft_p95(expr: str, n: int) -> Case:
    t = _num(expr)
    labels = {"job": _label(expr, "job", "x"), "model_name": "m"}
    m = "vllm:time_to_first_token_seconds_bucket"

    def buckets(counts: dict[str, int]) -> Series:
        return [_series(m, {**labels, "le": le}, f"0+{inc}x{n}") for le, inc in counts.items()]

    firing = buckets({f"{t:g}": 0, f"{2 * t:g}": 60, "+Inf": 60})  # every request between t and 2t
    quiet = buckets({f"{t / 2:g}": 60, f"{t:g}": 60, f"{2 * t:g}": 60, "+Inf": 60})  # every request under t/2
    return firing, quiet, labels


def kv_cache(expr: str, n: int) -> Case:
    k = _num(expr)
    assert k < 1, "a KV-cache threshold of 1 can never be exceeded"
    labels = {"job": _label(expr, "job", "x"), "model_name": "m"}
    full = {**labels, "engine": "0"}
    m = "vllm:kv_cache_usage_perc"
    return [_series(m, full, f"{min(1.0, k + (1 - k) / 2):g}x{n}")], [_series(m, full, f"{k / 2:g}x{n}")], labels


def preemptions(expr: str, n: int) -> Case:
    per_minute = _num(expr)
    labels = {"job": _label(expr, "job", "x"), "model_name": "m"}
    full = {**labels, "engine": "0"}
    m = "vllm:num_preemptions_total"
    return [_series(m, full, f"0+{math.floor(per_minute) + 1}x{n}")], [_series(m, full, f"0x{n}")], labels


def error_rate(expr: str, n: int) -> Case:
    e = _num(expr)
    assert e < 1, "an error-rate threshold of 1 can never be exceeded"
    labels = {"job": _label(expr, "job", "x")}
    base = {**labels, "handler": "/v1/chat/completions", "method": "POST"}
    m = "http_requests_total"
    firing = [_series(m, {**base, "status": "5xx"}, f"0+10x{n}"), _series(m, {**base, "status": "2xx"}, f"0x{n}")]
    quiet = [_series(m, {**base, "status": "5xx"}, f"0x{n}"), _series(m, {**base, "status": "2xx"}, f"0+10x{n}")]
    return firing, quiet, labels


def _pod(expr: str) -> dict[str, str]:
    return {"namespace": _label(expr, "namespace", _NS), "pod": "srv-0", "container": "vllm"}


def restart_loop(expr: str, n: int) -> Case:
    r = _num(expr)
    labels = _pod(expr)
    full = {**labels, "job": "kube-state-metrics"}
    m = "kube_pod_container_status_restarts_total"
    inc = math.ceil(r / 10) + 1  # ~15 * inc restarts per 15m window >= r
    return [_series(m, full, f"0+{inc}x{n}")], [_series(m, full, f"0x{n}")], labels


def oom_killed(expr: str, n: int) -> Case:
    labels = _pod(expr)
    full = {**labels, "job": "kube-state-metrics"}
    reason = _series("kube_pod_container_status_last_terminated_reason", {**full, "reason": "OOMKilled"}, f"1x{n}")
    restarts = "kube_pod_container_status_restarts_total"
    # quiet: the last termination was an OOM kill long ago; no restart in the window
    return [reason, _series(restarts, full, f"0+1x{n}")], [reason, _series(restarts, full, f"5x{n}")], labels


def _gpu() -> dict[str, str]:
    return {"Hostname": "gpu-node-1", "gpu": "0"}


def gpu_memory(expr: str, n: int) -> Case:
    g = _num(expr)
    assert g < 0.999
    labels = _gpu()
    full = {**labels, "UUID": "GPU-1", "modelName": "NVIDIA L4"}
    used, free = "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"
    firing = [_series(used, full, f"9990x{n}"), _series(free, full, f"10x{n}")]
    quiet = [_series(used, full, f"{int(g * 5000)}x{n}"), _series(free, full, f"{10000 - int(g * 5000)}x{n}")]
    return firing, quiet, labels


def gpu_temperature(expr: str, n: int) -> Case:
    t = _num(expr)
    labels = _gpu()
    full = {**labels, "UUID": "GPU-1"}
    m = "DCGM_FI_DEV_GPU_TEMP"
    return [_series(m, full, f"{t + 5:g}x{n}")], [_series(m, full, f"{t - 10:g}x{n}")], labels


def probe_failing(expr: str, n: int) -> Case:
    labels = {"job": _label(expr, "job", "x"), "instance": "http://srv:11434/api/version"}
    full = {**labels, "engine": "ollama"}
    return [_series("probe_success", full, f"0x{n}")], [_series("probe_success", full, f"1x{n}")], labels


CASES: dict[str, Callable[[str, int], Case]] = {
    "VllmTargetDown": target_down,
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
}
"""Alert name -> case generator. Every alert the stacks render must be listed."""


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


def build_tests(rule_file: str, groups: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The promtool test document for ``groups`` (as in ``rule_file``) and the ids of its cases."""
    tests, ids = [], []
    for group in groups:
        for rule in group["rules"]:
            name = rule["alert"]
            if name not in CASES:
                raise AssertionError(f"alert {name} (group {group['name']}) has no promtool case in tests/promtool/promtool_cases.py")
            wait = _minutes(rule["for"]) + 20  # the for-duration plus the longest range window (15m) and slack
            n = wait + 10
            firing, quiet, labels = CASES[name](rule["expr"], n)
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
                        "input_series": series,
                        "alert_rule_test": [{"eval_time": f"{wait}m", "alertname": name, "exp_alerts": expected}],
                    }
                )
                ids.append(f"{group['name']}/{name}/{kind}")
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}, ids


if __name__ == "__main__":
    rules_path = Path(sys.argv[1])
    doc, _ = build_tests(rules_path.name, yaml.safe_load(rules_path.read_text())["groups"])
    out = rules_path.with_suffix(".test.yaml")
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    print(out)
