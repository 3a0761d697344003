"""`slm-deploy models` and `slm-deploy size`: the model catalog and the memory model on the CLI.

Exit codes: 0 for a report (a configuration that does not fit is a report too: the table says
"does not fit" and --json has "fits": false); 2 for bad input (unknown model, quantization or
hardware, invalid settings), with one line on stderr and no traceback.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from slm_deploy.console import out
from rich.table import Table

# The catalog and sizing model are imported inside the commands, so that other commands
# (a warm `slm-deploy gate`, `--help`) do not pay for loading them.
if TYPE_CHECKING:
    from components.sizing import MemoryPlan, VllmPlan

GiB = 1024**3

__all__ = ["register"]

ENGINES = ("vllm", "ollama", "onnx")
DEFAULT_QUANT = {"vllm": "bf16", "ollama": "Q4_K_M", "onnx": "cpu-int4"}


def _gib(n: int | None) -> str:
    return "-" if n is None else f"{n / GiB:.2f} GiB"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the model catalog with parameter classes and checkpoint sizes."""
    from components.catalog import list_models
    from components.sizing import checkpoint_bytes
    rows = [
        {
            "id": m.id, "display_name": m.display_name, "params": m.params, "param_class": m.param_class,
            "checkpoint_bytes": checkpoint_bytes(m), "max_position_embeddings": m.max_position_embeddings,
            "hf_repo": m.hf_repo, "hf_revision": m.hf_revision, "ollama_tag": m.ollama_tag,
            "onnx": m.onnx is not None, "onnx_variants": list(m.onnx.variants) if m.onnx else [],
            "vllm_quantizations": m.vllm_quantizations,
            "ollama_quantizations": m.ollama_quantizations, "tool_call_parser": m.tool_call_parser,
            "gated": m.gated, "license": m.license,
        }
        for m in list_models()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Model catalog (sizes in GiB)")
    table.add_column("id", no_wrap=True)
    for col in ("params", "class", "bf16 ckpt", "context", "ollama", "vLLM formats", "ONNX variants", "gated"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], f"{r['params'] / 1e9:.2f}B", r["param_class"], _gib(r["checkpoint_bytes"]),
                      str(r["max_position_embeddings"]), r["ollama_tag"] or "-",
                      ",".join(r["vllm_quantizations"]), ",".join(r["onnx_variants"]) or "-",
                      "yes" if r["gated"] else "no")
    out.print(table)


def _host_memory(hardware: str | None, engine: str = "ollama") -> int | None:
    """One rule with the stack files, per engine, as its stack key sizes a CPU tier: Ollama against the
    tier's installed memory, as ``docker.memoryGb`` (a Docker host has no kubelet reservation); ONNX
    against the tier's allocatable memory, as ``onnxEdge[].hardwareTier`` (OnnxEdgeNodeArgs.plan)."""
    from components.catalog import get_cpu_tier
    if hardware is None:
        return None
    tier = get_cpu_tier(hardware)
    return tier.allocatable_bytes if engine == "onnx" else tier.memory_bytes


def _check_hardware_kind(engine: str, hardware: str | None) -> None:
    """A CPU tier given to vLLM (or a GPU to ollama/onnx) gets a message about the kind, not a 'did you mean'."""
    from components.catalog import list_cpu_tiers, list_gpus

    if hardware is None:
        return
    gpus = {g.id.lower() for g in list_gpus()}
    tiers = {t.id.lower() for t in list_cpu_tiers()}
    if engine == "vllm" and hardware.lower() in tiers:
        raise ValueError(f"--hardware {hardware}: a CPU tier; vLLM here serves on GPUs ({', '.join(sorted(gpus))}). "
                         "CPU tiers are for --engine ollama or --engine onnx (see: hardware)")
    if engine != "vllm" and hardware.lower() in gpus:
        raise ValueError(f"--hardware {hardware}: a GPU; --engine {engine} is sized against a CPU tier "
                         f"({', '.join(sorted(tiers))}); GPUs are for --engine vllm (see: hardware)")


def _plan(model: str, engine: str, quant: str | None, ctx: int | None, concurrency: int,
          hardware: str | None, gpu_count: int | None = None) -> VllmPlan | MemoryPlan:
    from components.catalog import get_gpu
    from components.sizing import report
    _check_hardware_kind(engine, hardware)
    q = quant or DEFAULT_QUANT[engine]
    if engine == "vllm":
        gpu = get_gpu(hardware or "l4").id
        return report("vllm", model, quantization=q, max_model_len=ctx, concurrency=concurrency, gpu=gpu,
                      gpu_count=gpu_count, tensor_parallel_size=gpu_count)
    host = _host_memory(hardware, engine)
    if engine == "ollama":
        return report("ollama", model, quantization=q, num_ctx=ctx or 4096, num_parallel=concurrency,
                      host_memory_bytes=host)
    return report("onnx", model, variant=q, max_length=ctx or 4096, concurrency=concurrency,
                  host_memory_bytes=host)


def _where_it_fits(model: str, engine: str, quant: str | None, ctx: int | None, concurrency: int) -> list[str]:
    """Hardware ids of the catalog on which this configuration fits (vLLM: with its GPU count)."""
    from components.catalog import list_cpu_tiers, list_gpus
    out = []
    if engine == "vllm":
        for gpu in list_gpus():
            try:
                plan = _plan(model, engine, quant, ctx, concurrency, gpu.id)
            except ValueError:
                continue  # e.g. fp8 on a GPU without fp8
            if plan.fits:
                out.append(f"{plan.gpu_count}x {gpu.id}")
        return out
    for tier in list_cpu_tiers():
        if _plan(model, engine, quant, ctx, concurrency, tier.id).fits:
            out.append(tier.id)
    return out


def _settings(plan: VllmPlan | MemoryPlan) -> dict[str, object]:
    from components.sizing import VllmPlan
    if isinstance(plan, VllmPlan):
        return {
            "gpu": plan.gpu, "gpu_count": plan.gpu_count, "node_label_value": plan.node_label_value,
            "tensor_parallel_size": plan.tensor_parallel_size, "max_model_len": plan.max_model_len,
            "max_num_seqs": plan.max_num_seqs, "gpu_memory_utilization": plan.gpu_memory_utilization,
            "engine_args": plan.engine_args(), "cpu_request": plan.cpu_request,
            "memory_request": plan.memory_request, "memory_limit": plan.memory_limit,
            "checkpoint_repo": plan.checkpoint_repo, "checkpoint_revision": plan.checkpoint_revision,
        }
    return {**plan.settings, "cpu_request": plan.cpu_request, "memory_request": plan.memory_request,
            "memory_limit": plan.memory_limit}


def size_command(
    model: Annotated[str, typer.Argument(help="Catalog model id, e.g. qwen3-8b.")],
    quant: Annotated[str | None, typer.Option("--quant", help="bf16|fp16|fp8|awq|gptq (vllm), Q4_K_M|Q8_0|... (ollama), cpu-int4|gpu-int4 (onnx).")] = None,
    ctx: Annotated[int | None, typer.Option("--ctx", min=1, help="Context tokens (vllm --max-model-len, ollama num_ctx, onnx max_length).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Concurrent sequences.")] = 4,
    hardware: Annotated[str | None, typer.Option("--hardware", help="GPU id (vllm) or CPU tier id (ollama/onnx: its installed memory, like docker.memoryGb). See: hardware.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="vllm|ollama|onnx")] = "vllm",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Weights, KV cache, overhead and total for one configuration; where it fits; engine settings.

    Exit 0 for every report, fitting or not; exit 2 for unknown ids or invalid settings.
    """
    if engine not in ENGINES:
        raise _fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    try:
        plan = _plan(model, engine, quant, ctx, concurrency, hardware)
        fits_on = _where_it_fits(model, engine, quant, ctx, concurrency)
    except ValueError as exc:  # UnknownCatalogId is a ValueError too
        raise _fail(str(exc)) from None
    from components.sizing import worded

    one_gpu = None
    if engine == "vllm" and getattr(plan, "gpu_count", 1) > 1:
        try:
            one_gpu = _plan(model, engine, quant, ctx, concurrency, hardware, gpu_count=1)
        except ValueError:
            one_gpu = None
    data = {
        "model": plan.model, "engine": engine, "quantization": plan.quantization,
        "plan": plan_line(plan), "verdict": _verdict(plan, one_gpu), "warnings": plan_warnings(plan),
        "weights_bytes": plan.weights_bytes, "kv_cache_bytes": plan.kv_cache_bytes,
        "overhead_bytes": plan.overhead_bytes, "total_bytes": plan.total_bytes,
        "available_bytes": plan.available_bytes, "fits": plan.fits, "fits_on": fits_on,
        "settings": _settings(plan), "suggestions": worded(plan.fixes, SIZE_WORDS),
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_size(data)


# What would fit, in this command's own options (the sizing model's fixes; components.sizing.Fix).
SIZE_WORDS = {"context": "--ctx {value}", "concurrency": "--concurrency {value}", "quantization": "--quant {value}",
              "gpu": "--hardware {value}", "host": "--hardware {value}",
              "gpu_count": "{value} GPUs (tensor parallel {value}; a stack's gpuCount)",
              "kv_cache": "{value} (a stack's kvCacheDtype / server.kvCacheType)"}


def _print_size(data: dict) -> None:
    console = out
    table = Table(title=f"{data['model']} on {data['engine']} ({data['quantization']})")
    table.add_column("component")
    table.add_column("GiB", justify="right")
    for label, key in (("weights", "weights_bytes"), ("KV cache", "kv_cache_bytes"),
                       ("overhead", "overhead_bytes"), ("total", "total_bytes"),
                       ("available", "available_bytes")):
        table.add_row(label, _gib(data[key]))
    console.print(table)
    colour = "green" if data["fits"] else "red"
    console.print(f"Verdict: [{colour}]{data['verdict']}[/{colour}]", highlight=False)
    console.print(f"Plan: {data['plan']}", highlight=False)
    for warning in data["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    for s in data["suggestions"]:
        console.print(f"  would fit with {s}")
    console.print(f"Fits on: {', '.join(data['fits_on']) or 'nothing in the catalog'}")
    settings = Table(title="Derived settings")
    settings.add_column("setting")
    settings.add_column("value")
    for key, value in data["settings"].items():
        settings.add_row(key, " ".join(value) if isinstance(value, list) else str(value))
    console.print(settings)


def plan_line(plan: VllmPlan | MemoryPlan) -> str:
    """One line a newcomer reads: ``qwen3-8b bf16 -> 2x L4, TP 2, max-model-len 8192, max-num-seqs 19``."""
    from components.sizing import VllmPlan
    if isinstance(plan, VllmPlan):
        return (f"{plan.model} {plan.quantization} -> {plan.gpu_count}x {plan.gpu.upper()}, "
                f"TP {plan.tensor_parallel_size}, max-model-len {plan.max_model_len}, max-num-seqs {plan.max_num_seqs}")
    settings = ", ".join(f"{k} {v}" for k, v in plan.settings.items() if not isinstance(v, (list, dict)))
    return f"{plan.model} {plan.quantization} -> {_gib(plan.total_bytes)} of {_gib(plan.available_bytes)}; {settings}"


def plan_warnings(plan: VllmPlan | MemoryPlan) -> list[str]:
    from components.sizing import VllmPlan
    if isinstance(plan, VllmPlan) and plan.fits and plan.max_num_seqs == 1:
        return ["max-num-seqs 1: the KV cache holds one sequence at max-model-len, so requests are served one "
                "at a time (no batching); lower --ctx or use a larger GPU / more GPUs"]
    return []


def _verdict(plan: VllmPlan | MemoryPlan, one_gpu: VllmPlan | MemoryPlan | None) -> str:
    from components.sizing import VllmPlan
    if isinstance(plan, VllmPlan):
        where = f"{plan.gpu_count}x {plan.gpu}"
        if not plan.fits:
            return f"does not fit on {where}"
        if plan.gpu_count > 1 and (one_gpu is None or not one_gpu.fits):
            return f"does not fit on 1x {plan.gpu}; fits on {where} (tensor parallel {plan.tensor_parallel_size})"
        return f"fits on {where}"
    return "fits" if plan.fits else "does not fit"


def stack_sizing_lines(config, host_key: str = "docker.memoryGb") -> list[str]:
    """The sizing plan of every model server of a loaded stack, and its warnings (preview, new-stack):
    each vLLM service, each Ollama model (against docker.memoryGb on a Docker host, named ``host_key``:
    new-stack names its question), each ONNX edge node."""
    lines = []
    for service in getattr(config, "vllm", None) or []:
        plan, why = service.plan, ""
        if plan.gpu_count > 1 and service.gpu_count is None:  # derived: say why it is more than one GPU
            why = f" (the fewest {plan.gpu} GPUs it fits on)"
        lines.append(f"sizing   {service.name}: {plan_line(plan)}{why}")
        lines += [f"warning: {service.name}: {w}" for w in plan_warnings(service.plan)]
    ollama = getattr(config, "ollama", None)
    if ollama is not None:
        memory = ollama.memory()
        host = config.docker.memory_gb if config.target == "docker" and config.docker else None
        of = f" of a {host:g} GB host ({host_key})" if host else ""
        for plan in memory.plans:
            lines.append(f"sizing   ollama {plan.model}: {plan.quantization}, context {plan.num_ctx} x "
                         f"{plan.num_parallel} parallel -> {_gib(plan.total_bytes)}{of}")
    for node in getattr(config, "onnx_edge", None) or []:
        plan = node.plan()
        lines.append(f"sizing   {node.name}: {plan.model} {plan.quantization}, max length {plan.max_length} x "
                     f"{plan.concurrency} -> {_gib(plan.total_bytes)} of {_gib(plan.available_bytes)} "
                     f"allocatable on {node.hardware_tier}")
    return lines


def hardware_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the hardware the sizing model knows: GPUs (vLLM) and CPU tiers (Ollama, ONNX)."""
    from components.catalog import list_cpu_tiers, list_gpus
    gpus = [{"id": g.id, "name": g.display_name, "memory_gib": round(g.memory_bytes / GiB, 1), "fp8": g.fp8,
             "compute_capability": g.compute_capability, "node_label_value": g.node_label_value, "engines": ["vllm"]}
            for g in list_gpus()]
    tiers = [{"id": t.id, "name": t.display_name, "memory_gib": t.memory_gib, "cpus": t.cpus,
              "allocatable_gib": round(t.allocatable_bytes / GiB, 2), "engines": ["ollama", "onnx"]}
             for t in list_cpu_tiers()]
    if as_json:
        typer.echo(json.dumps({"gpus": gpus, "cpu_tiers": tiers}, indent=2))
        return
    table = Table("id", "GPU", "memory GiB", "fp8", "compute", "node label", title="GPUs (--engine vllm)")
    for g in gpus:
        table.add_row(g["id"], g["name"], f"{g['memory_gib']:g}", "yes" if g["fp8"] else "no",
                      g["compute_capability"], g["node_label_value"])
    out.print(table)
    table = Table("id", "host", "memory GiB", "CPUs", "allocatable GiB (Kubernetes)",
                  title="CPU tiers (--engine ollama, --engine onnx)")
    for t in tiers:
        table.add_row(t["id"], t["name"], str(t["memory_gib"]), str(t["cpus"]), f"{t['allocatable_gib']:g}")
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the `models`, `size` and `hardware` commands to the CLI app."""
    app.command("models")(models_command)
    app.command("size")(size_command)
    app.command("hardware")(hardware_command)
