"""Benchmark: `slm-deploy preview` (synth + render + full gate, cold process, no verdict cache) vs the
bare checkov CLI on the same rendered files, alternating, medians; plus a warm re-gate (cache hit).

    uv run python scripts/benchmark.py [--rounds 5] [STACK ...]   # writes docs/benchmarks.md
    uv run python scripts/benchmark.py --gateway                  # gateway overhead (scripts/gateway_benchmark.py)
    uv run python scripts/benchmark.py --scale-rounds 3            # also the scale series (issue 17)
    uv run python scripts/benchmark.py --scale-only --scale-rounds 2   # only the scale series, into its block
    uv run python scripts/benchmark.py --synth-phases 100          # synth ms/resource, stock vs synth_runtime
    uv run python scripts/benchmark.py --change-phases 100         # where a one-service change's time goes
    uv run python scripts/benchmark.py --regate-part 100 [--against ../main]   # gate part of a one-service change

Targets (issue 3): preview <= 1.0x the bare CLI; warm re-gate <= 0.1x of the cold preview.
Targets (issue 17): a 100-service stack previews in <= 1.0x the bare CLI, cost linear in services
(fit a + b*N), a one-service change re-gates in <= 2 s, peak RSS <= 400 MB. The scale stacks are copies
of `prod` with N VllmServices, generated in a temporary project directory (never in stacks/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HAND_WRITTEN = "<!-- hand-written analysis below; kept by scripts/benchmark.py -->"
BIN = Path(sys.executable).parent


def _run(cmd: list[str], env: dict[str, str], ok_codes=(0, 1), stdin: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed


def _machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _in_process_warm(stack: str) -> float:
    code = (
        "import time,sys; from pathlib import Path; from slm_deploy.gate import run_gate; "
        f"t=time.perf_counter(); r=run_gate(Path('build/{stack}'), '{stack}'); "
        "print(time.perf_counter()-t, r.cached, 'checkov' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    seconds, cached, checkov = out.split()
    if cached != "True" or checkov != "False":
        raise SystemExit(f"warm re-gate of {stack} was not a cache hit without checkov: {out}")
    return float(seconds)


def _program_payload(stack: str) -> str:
    """What the Pulumi program hands its gate: the validated config (secret names only)."""
    code = ("import json; from stacks.loader import load_stack; s = load_stack(%r); "
            "print(json.dumps({'values': s.config.model_dump(by_alias=True, exclude_defaults=True, mode='json'), "
            "'secretKeys': sorted(s.secret_keys)}))" % stack)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def bench(stack: str, rounds: int) -> dict[str, object]:
    cold_env = dict(os.environ, SLM_DEPLOY_NO_CACHE="1")
    env = dict(os.environ)
    preview = [str(BIN / "slm-deploy"), "preview", stack]
    gate = [str(BIN / "slm-deploy"), "gate", stack]
    bare = [str(BIN / "checkov"), "-d", f"build/{stack}", "--framework", "kubernetes", "dockerfile", "--skip-download"]
    _run(preview, env)  # render once so the bare CLI has files, and warm the OS page cache
    program_gate = [sys.executable, "-m", "slm_deploy.program_gate", stack]
    payload = _program_payload(stack)
    _run(program_gate, env, stdin=payload)  # populate the program gate's input-keyed verdict
    cold, cli, warm, program = [], [], [], []
    for _ in range(rounds):
        cold.append(_run(preview, cold_env))
        cli.append(_run(bare, env))
        _run(preview, env)  # populate the verdict cache for this exact build
        warm.append(_run(gate, env))
        program.append(_run(program_gate, env, stdin=payload))
    in_proc = statistics.median(_in_process_warm(stack) for _ in range(3))
    med = {k: statistics.median(v) for k, v in (("cold", cold), ("cli", cli), ("warm", warm), ("program", program))}
    return {"stack": stack, "rounds": rounds, **med, "warm_in_process": in_proc,
            "manifests": len(list((ROOT / "build" / stack / "manifests").glob("*.yaml")))}


# --------------------------------------------------------------------------- scale series (issue 17)

SCALE_SERVICES = (1, 10, 25, 50, 100)
ISSUE_17 = {1: (3.4, 4.0), 10: (6.3, 5.4), 25: (9.9, 7.1), 50: (16.7, 10.4), 100: (34.6, 15.9)}
"""The issue's table (cold preview, bare CLI in seconds), measured before this work on the same kind of machine."""


def _timed(cmd: list[str], env: dict[str, str], stdin: str | None = None, ok_codes=(0, 1)) -> tuple[float, int, float]:
    """Wall time, peak RSS (KiB, the largest process of the run: ours or its worker) and CPU seconds (user + system,
    the command and the children it waited for: the checkov worker, promtool) of one command. On a shared machine
    the CPU time moves far less with the load than the wall time does."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def scale_stack(project: Path, services: int) -> str:
    """Write ``stacks/Pulumi.scale<N>.yaml`` into ``project``: prod with N VllmServices (prod's, in turn)."""
    import yaml

    (project / "stacks").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    base = doc["config"]["slm-deploy:vllm"]
    # Each copy serves its model under its own name (one gateway cannot route two services by one model name).
    copies = [dict(base[i % len(base)], name=f"{base[i % len(base)]['name']}-{i:03d}") for i in range(services)]
    for copy in copies:
        copy["servedModelName"] = copy["name"]
    doc["config"]["slm-deploy:vllm"] = copies
    gateway = doc["config"].get("slm-deploy:gateway")
    if gateway:  # prod's clients name prod's models: each client gets the copies of the models it named
        clients = [dict(c, models=[s["servedModelName"] for s in copies if s["model"] in c["models"]])
                   for c in gateway.get("clients", [])]
        gateway["clients"] = [c for c in clients if c["models"]]
    name = f"scale{services}"
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return name


def _fit(xs: list[float], ys: list[float]) -> dict[str, object]:
    """Least squares ``y = a + b*x`` with the residuals."""
    n, mx, my = len(xs), statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    return {"a": a, "b": b, "residuals": [y - (a + b * x) for x, y in zip(xs, ys)]}


def _loadavg() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


NEW_REPLICAS = (3, 4, 5, 6, 7, 2)
"""Minimum replicas a one-service change cycles through (prod autoscales 2-8): six states, so a state comes back only
after more runs than the program gate keeps verdicts of (slm_deploy.program_gate._KEEP_PROGRAM_VERDICTS = 3) and the
per-object cache keeps runs of (one): every measured run is a real change, never a cached verdict."""


def _change_one_service(stack_file: Path) -> int:
    """Set one service's minimum replicas to the next value of :data:`NEW_REPLICAS`; returns it."""
    import yaml

    doc = yaml.safe_load(stack_file.read_text())
    services = doc["config"]["slm-deploy:vllm"]
    service = services[min(7, len(services) - 1)]
    current = service.get("replicas", 2)
    service["replicas"] = NEW_REPLICAS[(NEW_REPLICAS.index(current) + 1) % len(NEW_REPLICAS)] \
        if current in NEW_REPLICAS else NEW_REPLICAS[0]
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return service["replicas"]


def bench_scale(rounds: int, services: tuple[int, ...] = SCALE_SERVICES) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="slm-scale-"))
    project, cache = tmp / "project", tmp / "cache"
    cold_env = dict(os.environ, SLM_DEPLOY_NO_CACHE="1")
    warm_env = dict(os.environ, SLM_DEPLOY_CACHE_DIR=str(cache))
    load_before = _loadavg()
    started = _machine()["date"]
    rows = []
    try:
        names = {n: scale_stack(project, n) for n in services}
        for n, name in names.items():
            out = tmp / "out" / name
            preview = [str(BIN / "slm-deploy"), "-C", str(project), "preview", name, "--out", str(out)]
            bare = [str(BIN / "checkov"), "-d", str(out / "manifests"), "--framework", "kubernetes", "dockerfile",
                    "--skip-download", "--quiet"]
            _timed(preview, cold_env)  # render once so the bare CLI has files
            cold, cli, rss, cold_cpu, cli_cpu = [], [], [], [], []
            for _ in range(rounds):
                seconds, peak, cpu = _timed(preview, cold_env)
                cold.append(seconds)
                rss.append(peak)
                cold_cpu.append(cpu)
                seconds, _, cpu = _timed(bare, cold_env)
                cli.append(seconds)
                cli_cpu.append(cpu)
            row = {"services": n, "manifests": len(list((out / "manifests").glob("*.yaml"))),
                   "cold": statistics.median(cold), "cli": statistics.median(cli), "rss_mb": max(rss) / 1024,
                   "cold_cpu": statistics.median(cold_cpu), "cli_cpu": statistics.median(cli_cpu)}
            print(row, flush=True)
            rows.append(row)
        phases = _phases(project, names[max(services)], tmp / "phases", rounds)
        print(phases, flush=True)
        change = _one_service_change(project, names[max(services)], tmp, warm_env, rounds)
        change["phases"] = _change_phases(project, names[max(services)], tmp, warm_env, rounds)
        print(change, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for name in (f"scale{n}" for n in services):  # the program gate renders into build/<stack>
            shutil.rmtree(ROOT / "build" / name, ignore_errors=True)
    xs = [float(r["services"]) for r in rows]
    return {"rows": rows, "rounds": rounds, "fit_preview": _fit(xs, [r["cold"] for r in rows]),
            "fit_cli": _fit(xs, [r["cli"] for r in rows]), "fit_cpu": _fit(xs, [r["cold_cpu"] for r in rows]),
            "fit_cli_cpu": _fit(xs, [r["cli_cpu"] for r in rows]), "change": change, "phases": phases,
            "load": f"{load_before} before, {_loadavg()} after (1/5/15-min load averages)", "started": started,
            "machine": _machine()}


_PHASES = """
import gc, json, os, sys, statistics, time
from pathlib import Path
t0 = time.perf_counter()
from stacks.loader import load_stack
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
t1 = time.perf_counter()
stack = load_stack(sys.argv[1], Path(sys.argv[2]))
t2 = time.perf_counter()
result = synth_stack(stack)
t3 = time.perf_counter()
summary = render(result, Path(sys.argv[3]))
t4 = time.perf_counter()
resources = len(result.resources)
# Synth CPU (process time: the main thread and the mock monitor's executor thread), warm (lazy SDK imports done),
# the SDK's stock mock runtime vs slm_deploy.synth_runtime, in the order given; each from a collected heap with no
# earlier synth result alive (a live one made the next synth pay for its garbage collection).
cpu = {"stock": [], "fast": []}
del result
for stock in json.loads(sys.argv[4]):
    gc.collect()
    c = time.process_time()
    again = synth_stack(stack, stock_runtime=stock)
    cpu["stock" if stock else "fast"].append(time.process_time() - c)
    del again
cpu = {k: statistics.median(v) for k, v in cpu.items()}
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "synth": t3 - t2, "render": t4 - t3,
                  "resources": resources, "manifests": summary["manifests"],
                  "synth_cpu_fast": cpu["fast"], "synth_cpu_stock": cpu["stock"]}))
"""


def _phases(project: Path, name: str, out: Path, rounds: int) -> dict[str, float]:
    """Synth and render of one stack in a fresh process (no gate): medians per phase; plus the synth's CPU with the
    SDK's stock mock runtime and with slm_deploy.synth_runtime, alternating which goes first."""
    runs = []
    for i in range(rounds):
        order = json.dumps([False, True, True, False] if i % 2 == 0 else [True, False, False, True])
        proc = subprocess.run([sys.executable, "-c", _PHASES, name, str(project), str(out), order], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


_CHANGE_PHASES = """
import json, sys, time
from pathlib import Path
from slm_deploy.gate.worker import ScanWorker
worker = ScanWorker()  # forked before Pulumi loads, as `slm-deploy preview` and the program gate do
from slm_deploy.gc_pause import declare_one_shot, gc_paused
declare_one_shot()  # a process per run, as the CLI and the program gate's child declare (slm_deploy/gc_pause.py)
t0 = time.perf_counter()
with gc_paused():  # as their imports run
    from stacks.loader import load_stack
    from slm_deploy.pipeline import synth_stack
    from slm_deploy.render import render
    from slm_deploy.gate import run_gate
t1 = time.perf_counter()
stack = load_stack(sys.argv[1], Path(sys.argv[2]))
t2 = time.perf_counter()
result = synth_stack(stack)
t3 = time.perf_counter()
render(result, Path(sys.argv[3]))
t4 = time.perf_counter()
gate = run_gate(Path(sys.argv[3]), stack.name, worker=worker)
t5 = time.perf_counter()
worker.close()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "synth": t3 - t2, "render": t4 - t3, "gate": t5 - t4,
                  "cached_verdict": bool(gate.cached)}))
"""


def _change_phases(project: Path, name: str, tmp: Path, env: dict[str, str], rounds: int) -> dict[str, float]:
    """Where a one-service change's time goes, phase by phase, in one fresh process per run (the steps a preview and
    the program gate take: load, synth under the mock runtime, render, incremental gate with a prewarmed worker)."""
    out = tmp / "out" / f"{name}-phases"
    stack_file = project / "stacks" / f"Pulumi.{name}.yaml"

    def once() -> dict[str, float]:
        proc = subprocess.run([sys.executable, "-c", _CHANGE_PHASES, name, str(project), str(out)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    once()  # the per-object cache holds the whole stack
    runs = []
    for _ in range(rounds):
        _change_one_service(stack_file)  # a change to a state no cache holds
        runs.append(once())
    return {k: statistics.median(float(r[k]) for r in runs) for k in runs[0]}


_REGATE_PART = """
import json, os, sys, time
code, name, project, out = sys.argv[1:5]
sys.path.insert(0, code)  # the checkout whose code is measured (this one, or --against)
from pathlib import Path
try:  # one command per process, as the CLI and the program gate's child declare it (slm_deploy/gc_pause.py)
    from slm_deploy.gc_pause import declare_one_shot
    declare_one_shot()
except ImportError:  # code from before it
    pass
from slm_deploy.gate.worker import ScanWorker
worker = ScanWorker()  # forked before Pulumi loads, as `slm-deploy preview` and the program gate do
from stacks.loader import load_stack
from slm_deploy.pipeline import synth_stack
from slm_deploy.render import render
from slm_deploy.gate import run_gate
stack = load_stack(name, Path(project))
render(synth_stack(stack), Path(out))
def worker_cpu():
    fields = open(f"/proc/{worker._process.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
before = -1.0
while worker_cpu() != before:  # the worker's checkov import is over (a synth takes longer than it)
    before = worker_cpu()
    time.sleep(0.25)
w0, c0, t0 = worker_cpu(), time.process_time(), time.perf_counter()
gate = run_gate(Path(out), stack.name, worker=worker)
t1, c1, w1 = time.perf_counter(), time.process_time(), worker_cpu()
worker.close()
print(json.dumps({"parent_cpu": c1 - c0, "worker_cpu": w1 - w0, "cpu": c1 - c0 + w1 - w0, "wall": t1 - t0,
                  "cached_verdict": bool(gate.cached), "results": len(gate.passed) + len(gate.failed)
                  + len(gate.not_applicable) + len(gate.waived), "load1": os.getloadavg()[0]}))
"""


def _regate_part(services: int, rounds: int, against: Path | None) -> dict[str, object]:
    """The gate part of a one-service change of a SERVICES-service stack: ``run_gate`` after synth + render in a fresh
    process (prewarmed checkov worker, caches on), CPU seconds of the process and its worker. Two builds, A and B,
    differ in one service's minimum replicas (2 and 3); runs alternate B, A, B ... after a first run that fills the
    caches with A, so every measured run is a real re-gate of one changed service, never a cached verdict. With
    ``against`` (another checkout), its code runs alternately with this one on the same builds, each with its own
    cache directory."""
    import yaml

    tmp = Path(tempfile.mkdtemp(prefix="slm-regate-"))
    try:
        projects = {}
        for build, replicas in (("A", 2), ("B", 3)):
            name = scale_stack(tmp / f"project-{build}", services)
            stack_file = tmp / f"project-{build}" / "stacks" / f"Pulumi.{name}.yaml"
            doc = yaml.safe_load(stack_file.read_text())
            doc["config"]["slm-deploy:vllm"][min(7, services - 1)]["replicas"] = replicas
            stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
            projects[build] = tmp / f"project-{build}"
        codes = {"this": ROOT} | ({"against": against.resolve()} if against else {})

        def once(code: str, build: str) -> dict[str, object]:
            env = dict(os.environ, SLM_DEPLOY_CACHE_DIR=str(tmp / f"cache-{code}"))
            proc = subprocess.run([sys.executable, "-c", _REGATE_PART, str(codes[code]), name, str(projects[build]),
                                   str(tmp / f"out-{code}")], cwd=codes[code], env=env, capture_output=True, text=True,
                                  check=True)
            return json.loads(proc.stdout.strip().splitlines()[-1])

        for code in codes:
            once(code, "A")  # every cache holds build A
        runs: dict[str, list[dict[str, object]]] = {code: [] for code in codes}
        load_before = _loadavg()
        for _ in range(rounds):
            for build in ("B", "A"):
                for code in codes:
                    run = once(code, build)
                    if run["cached_verdict"]:
                        raise SystemExit(f"{code} {build}: a cached verdict, not a re-gate")
                    runs[code].append(run)
        out: dict[str, object] = {"services": services, "runs_per_code": 2 * rounds, "load": f"{load_before} before, "
                                  f"{_loadavg()} after", "results": runs["this"][0]["results"]}
        for code, values in runs.items():
            out[code] = {k: round(statistics.median(float(v[k]) for v in values), 3)
                         for k in ("parent_cpu", "worker_cpu", "cpu", "wall")}
            out[code]["cpu_runs"] = [round(float(v["cpu"]), 3) for v in values]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def _one_service_change(project: Path, name: str, tmp: Path, env: dict[str, str], rounds: int) -> dict[str, object]:
    """The biggest stack with caches on: unchanged re-preview, then each run changes one service (preview, and the
    program gate a `pulumi preview` runs), alternating this code with the same code on the SDK's stock mock runtime
    (``SLM_DEPLOY_SYNTH_RUNTIME=stock``: the synth as it was before slm_deploy.synth_runtime), in the same run."""
    from stacks.loader import load_stack

    out = tmp / "out" / f"{name}-warm"
    stack_file = project / "stacks" / f"Pulumi.{name}.yaml"
    preview = [str(BIN / "slm-deploy"), "-C", str(project), "preview", name, "--out", str(out)]
    program = [sys.executable, "-m", "slm_deploy.program_gate", name]
    stock_env = dict(env, SLM_DEPLOY_SYNTH_RUNTIME="stock")

    def payload() -> str:
        loaded = load_stack(name, project)
        return json.dumps({"values": loaded.config.model_dump(by_alias=True, exclude_defaults=True, mode="json"),
                           "secretKeys": sorted(loaded.secret_keys)})

    _timed(preview, env)  # populate the per-object cache, the verdict cache and the input marker
    _timed(program, env, stdin=payload())
    unchanged = [_timed(preview, env) for _ in range(rounds)]
    unchanged_program = [_timed(program, env, stdin=payload()) for _ in range(rounds)]
    runs: dict[str, list[tuple[float, int, float]]] = {k: [] for k in ("preview", "preview_stock", "program",
                                                                      "program_stock")}
    for i in range(rounds):
        for what, cmd, run_env, stdin in (("preview", preview, env, False), ("preview_stock", preview, stock_env, False),
                                           ("program", program, env, True), ("program_stock", program, stock_env, True)):
            if i % 2:  # alternate which runtime goes first
                what = {"preview": "preview_stock", "preview_stock": "preview", "program": "program_stock",
                        "program_stock": "program"}[what]
                run_env = stock_env if what.endswith("_stock") else env
            _change_one_service(stack_file)  # every run is a change, to a state no cache holds
            runs[what].append(_timed(cmd, run_env, stdin=payload() if stdin else None))

    def med(values: list[tuple[float, int, float]]) -> dict[str, float]:
        return {"wall": statistics.median(v[0] for v in values), "cpu": statistics.median(v[2] for v in values)}

    return {"services": int(name.removeprefix("scale")), "unchanged": med(unchanged),
            "unchanged_program": med(unchanged_program), **{k: med(v) for k, v in runs.items()}}


SCALE_START, SCALE_END = "<!-- scale-benchmark:start -->", "<!-- scale-benchmark:end -->"


def _write_scale(scale: dict) -> list[str]:
    rows, fp, fc, change = scale["rows"], scale["fit_preview"], scale["fit_cli"], scale["change"]
    ph, res = scale["phases"], scale["phases"]["resources"]
    machine = scale.get("machine") or _machine()
    lines = [
        SCALE_START,
        "",
        "## Scale: copies of prod with N VllmServices (issue 17)",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, Python {machine['python']}; "
        f"run started {scale.get('started', machine['date'])}, finished {machine['date']}; shared with other sessions.",
        "",
        f"Same run, {scale['rounds']} alternating rounds per size (cold preview with `SLM_DEPLOY_NO_CACHE=1`, then "
        "`checkov -d <out>/manifests --framework kubernetes dockerfile --skip-download --quiet` on the same output), "
        f"medians in seconds. Load while it ran: {scale['load']}. "
        "*Issue 17* is the table the issue was filed with (before this work, same kind of machine, other load).",
        "",
        "| services | manifests | cold preview | bare checkov CLI | preview / CLI | CPU s: preview | CPU s: CLI | "
        "CPU ratio | peak RSS | issue 17: preview | issue 17: CLI | issue 17: ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        before = ISSUE_17.get(r["services"])
        old = (f"{before[0]:.1f} | {before[1]:.1f} | {before[0] / before[1]:.2f}x" if before else "- | - | -")
        lines.append(f"| {r['services']} | {r['manifests']} | {r['cold']:.2f} | {r['cli']:.2f} | "
                     f"{r['cold'] / r['cli']:.2f}x | {r['cold_cpu']:.2f} | {r['cli_cpu']:.2f} | "
                     f"{r['cold_cpu'] / r['cli_cpu']:.2f}x | {r['rss_mb']:.0f} MB | {old} |")
    res_p = ", ".join(f"{x:+.2f}" for x in fp["residuals"])
    res_c = ", ".join(f"{x:+.2f}" for x in fc["residuals"])
    lines += [
        "",
        f"Fit over N = {', '.join(str(r['services']) for r in rows)} (least squares on the medians):",
        f"- preview: **{fp['a']:.2f} s + {fp['b'] * 1000:.0f} ms × N**; residuals {res_p} s "
        "(issue 17: ~0.31 s per service, faster than linear past 50)",
        f"- bare checkov CLI: **{fc['a']:.2f} s + {fc['b'] * 1000:.0f} ms × N**; residuals {res_c} s "
        "(issue 17: ~0.12 s per service)",
        f"- CPU seconds (user + system from `wait4`, less sensitive to the load than wall time): preview "
        f"**{scale['fit_cpu']['a']:.2f} s + {scale['fit_cpu']['b'] * 1000:.0f} ms × N** (residuals "
        + ", ".join(f"{x:+.2f}" for x in scale["fit_cpu"]["residuals"]) + f" s); bare CLI **{scale['fit_cli_cpu']['a']:.2f} s + "
        f"{scale['fit_cli_cpu']['b'] * 1000:.0f} ms × N** (residuals "
        + ", ".join(f"{x:+.2f}" for x in scale["fit_cli_cpu"]["residuals"]) + " s)",
        f"- peak RSS is the largest single process of a preview (ours or its checkov worker), from `wait4`.",
        "",
        f"Synth and render of the {change['services']}-service stack alone (fresh process, medians, wall seconds): synth "
        f"{scale['phases']['synth']:.2f} s for {scale['phases']['resources']:.0f} resources = "
        f"**{scale['phases']['synth'] / scale['phases']['resources'] * 1000:.1f} ms per resource** (target <= 3); render "
        f"{scale['phases']['render']:.2f} s for {scale['phases']['manifests']:.0f} manifests = "
        f"**{scale['phases']['render'] / scale['phases']['manifests'] * 1000:.2f} s per 1,000 objects** (target <= 1); "
        f"config load {scale['phases']['load']:.2f} s, imports {scale['phases']['imports']:.2f} s.",
        "",
        f"Synth CPU of the same stack, warm (lazy imports done), the SDK's stock mock runtime vs "
        f"`slm_deploy/synth_runtime.py` alternating in the same processes: **{ph['synth_cpu_stock'] / res * 1000:.1f} -> "
        f"{ph['synth_cpu_fast'] / res * 1000:.1f} ms CPU per resource** ({ph['synth_cpu_fast'] / ph['synth_cpu_stock']:.2f}x; "
        "target <= 3).",
        "",
        f"One-service change of the {change['services']}-service stack, caches on (per-object results, verdicts, "
        "input keys); each run sets one service's minimum replicas to a value no cache holds (a real re-gate, never a "
        "cached verdict); *stock* is the same code with `SLM_DEPLOY_SYNTH_RUNTIME=stock` (the synth before "
        "`synth_runtime.py`), alternating with it in the same run. Medians, wall seconds (CPU seconds, the checkov "
        "worker and promtool included):",
        "",
        "| case | preview | program gate (what `pulumi preview` runs first) |",
        "|---|---|---|",
        f"| unchanged stack | {change['unchanged']['wall']:.2f} ({change['unchanged']['cpu']:.2f} CPU) | "
        f"{change['unchanged_program']['wall']:.2f} ({change['unchanged_program']['cpu']:.2f} CPU) |",
        f"| one service changed, stock synth runtime | {change['preview_stock']['wall']:.2f} "
        f"({change['preview_stock']['cpu']:.2f} CPU) | {change['program_stock']['wall']:.2f} "
        f"({change['program_stock']['cpu']:.2f} CPU) |",
        f"| one service changed | {change['preview']['wall']:.2f} ({change['preview']['cpu']:.2f} CPU) | "
        f"{change['program']['wall']:.2f} ({change['program']['cpu']:.2f} CPU) |",
        f"| ratio (CPU) | {change['preview']['cpu'] / change['preview_stock']['cpu']:.2f}x | "
        f"{change['program']['cpu'] / change['program_stock']['cpu']:.2f}x |",
        "",
        "Where a one-service change's time goes (fresh process per run, prewarmed checkov worker, medians): "
        + ", ".join(f"{k} {change['phases'][k]:.2f} s" for k in ("imports", "load", "synth", "render", "gate"))
        + ". The gate part is what the per-object cache makes incremental; the synth re-runs the whole program.",
        "",
        SCALE_END,
    ]
    return lines


def _write(rows: list[dict], machine: dict[str, str], scale: dict | None = None) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `uv run python scripts/benchmark.py` (do not edit the figures by hand).",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, Python {machine['python']}, "
        f"{machine['date']}.",
        "",
        "- **cold preview**: `slm-deploy preview STACK` in a fresh process with `SLM_DEPLOY_NO_CACHE=1`: config, "
        "synth under Pulumi mocks, render, kubernetes-validate strict (2 versions), checkov in-process (ALL built-in "
        "kubernetes + dockerfile checks and our SLM checks), compose and manifest-set checks, waivers, reports.",
        "- **bare CLI**: `checkov -d build/STACK --framework kubernetes dockerfile --skip-download` (the venv's "
        "checkov) on the same rendered files; built-in checks only, no synth, no schemas, no reports of ours.",
        "- **warm re-gate**: `slm-deploy gate STACK` in a fresh process on the unchanged build (verdict-cache hit; "
        "checkov is not imported); *in-process* is `run_gate()` alone on a cache hit.",
        "- **warm program gate**: `python -m slm_deploy.program_gate STACK`, the child process the Pulumi program runs "
        "before registering anything on every `pulumi preview`/`up`, for an unchanged stack (input-keyed verdict: no "
        "synth, no checkov).",
        "- Runs alternate (preview, CLI, warm) per round; figures are medians in seconds.",
        "",
        "| stack | manifests | rounds | cold preview | bare checkov CLI | preview / CLI | warm re-gate (process) "
        "| warm / cold | warm in-process | warm program gate | program / cold |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stack']} | {r['manifests']} | {r['rounds']} | {r['cold']:.2f} | {r['cli']:.2f} | "
            f"{r['cold'] / r['cli']:.2f}x | {r['warm']:.2f} | {r['warm'] / r['cold']:.3f}x | {r['warm_in_process'] * 1000:.0f} ms | "
            f"{r['program']:.2f} | {r['program'] / r['cold']:.3f}x |"
        )
    met_cli = all(r["cold"] <= r["cli"] for r in rows)
    met_warm = all(r["warm"] <= 0.1 * r["cold"] for r in rows)
    met_program = all(r["program"] <= 0.1 * r["cold"] for r in rows)
    lines += [
        "",
        f"Targets: preview <= 1.0x the bare CLI: **{'met' if met_cli else 'NOT met'}**; "
        f"warm re-gate <= 0.1x of cold: `slm-deploy gate` process **{'met' if met_warm else 'NOT met'}**; "
        f"the Pulumi program's gate **{'met' if met_program else 'NOT met'}**; in-process run_gate met by a wide margin.",
        "",
    ]
    if scale:
        lines += _write_scale(scale)
    return "\n".join(lines)


def _replace_block(out: Path, block: str) -> None:
    """Put the scale block into ``out`` in place of the previous one (or before the hand-written part)."""
    text = out.read_text() if out.exists() else ""
    if SCALE_START in text:
        start, end = text.index(SCALE_START), text.index(SCALE_END) + len(SCALE_END)
        text = text[:start] + block + text[end:]
    elif HAND_WRITTEN in text:
        head, tail = text.split(HAND_WRITTEN, 1)
        text = head + block + "\n\n" + HAND_WRITTEN + tail
    else:
        text += "\n" + block + "\n"
    out.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stacks", nargs="*", default=["staging", "prod"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale-rounds", type=int, default=3, help="rounds per size of the scale series (0: skip it)")
    parser.add_argument("--scale-sizes", default=",".join(map(str, SCALE_SERVICES)), help="service counts of the series")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--scale-only", action="store_true", help="only the scale series; the rest of --out is kept")
    parser.add_argument("--gateway", action="store_true", help="only the gateway-overhead benchmark")
    parser.add_argument("--synth-phases", type=int, metavar="SERVICES",
                        help="only the synth/render phases of a SERVICES-service stack, with the synth's CPU on the SDK's "
                             "stock mock runtime vs synth_runtime (printed as JSON)")
    parser.add_argument("--change-only", type=int, metavar="SERVICES",
                        help="only the one-service change of a SERVICES-service stack, this code vs the SDK's stock mock "
                             "runtime, alternating (printed as JSON)")
    parser.add_argument("--change-phases", type=int, metavar="SERVICES",
                        help="only the phase split of a one-service change of a SERVICES-service stack (printed)")
    parser.add_argument("--regate-part", type=int, metavar="SERVICES",
                        help="only the gate part of a one-service change of a SERVICES-service stack, CPU seconds per "
                             "fresh process, builds A/B alternating (--scale-rounds rounds; printed as JSON)")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="with --regate-part: also measure another checkout's code, alternating with this one")
    args = parser.parse_args()
    if args.regate_part:
        print(json.dumps({"date": _machine()["date"], **_regate_part(args.regate_part, args.scale_rounds, args.against)}),
              flush=True)
        return
    if args.synth_phases:
        tmp = Path(tempfile.mkdtemp(prefix="slm-phases-"))
        try:
            name = scale_stack(tmp / "project", args.synth_phases)
            print(json.dumps({"services": args.synth_phases, "loadavg": _loadavg(), "date": _machine()["date"],
                              **_phases(tmp / "project", name, tmp / "out", args.scale_rounds)}), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.change_only:
        tmp = Path(tempfile.mkdtemp(prefix="slm-change-"))
        try:
            name = scale_stack(tmp / "project", args.change_only)
            env = dict(os.environ, SLM_DEPLOY_CACHE_DIR=str(tmp / "cache"))
            before, started = _loadavg(), _machine()["date"]
            result = _one_service_change(tmp / "project", name, tmp, env, args.scale_rounds)
            print(json.dumps({"loadavg": f"{before} before, {_loadavg()} after", "started": started,
                              "finished": _machine()["date"], "rounds": args.scale_rounds, **result}), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(ROOT / "build" / f"scale{args.change_only}", ignore_errors=True)
        return
    if args.change_phases:
        tmp = Path(tempfile.mkdtemp(prefix="slm-change-"))
        try:
            name = scale_stack(tmp / "project", args.change_phases)
            env = dict(os.environ, SLM_DEPLOY_CACHE_DIR=str(tmp / "cache"))
            print(json.dumps({"services": args.change_phases, "loadavg": _loadavg(),
                              **_change_phases(tmp / "project", name, tmp, env, args.scale_rounds)}), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.gateway:
        sys.path.insert(0, str(ROOT / "scripts"))
        import gateway_benchmark

        result = gateway_benchmark.run()
        print(result, flush=True)
        gateway_benchmark.write(gateway_benchmark.block(result, _machine()), Path(args.out))
        return
    if args.scale_only:
        scale = bench_scale(args.scale_rounds, tuple(int(n) for n in args.scale_sizes.split(",")))
        print(json.dumps(scale, indent=1), flush=True)
        _replace_block(Path(args.out), "\n".join(_write_scale(scale)))
        return
    rows = []
    for stack in args.stacks:
        row = bench(stack, args.rounds)
        print(row, flush=True)
        rows.append(row)
    sizes = tuple(int(n) for n in args.scale_sizes.split(","))
    scale = bench_scale(args.scale_rounds, sizes) if args.scale_rounds else None
    if scale:
        print(json.dumps(scale, indent=1), flush=True)
    text = _write(rows, _machine(), scale)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Keep the gateway block and the hand-written analysis below the marker across re-runs.
    if out.exists() and "<!-- gateway-benchmark:start -->" in out.read_text():
        previous = out.read_text()
        start = previous.index("<!-- gateway-benchmark:start -->")
        end = previous.index("<!-- gateway-benchmark:end -->") + len("<!-- gateway-benchmark:end -->")
        text += "\n" + previous[start:end] + "\n"
    if out.exists() and HAND_WRITTEN in out.read_text():
        text += "\n" + HAND_WRITTEN + out.read_text().split(HAND_WRITTEN, 1)[1]
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
