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
            "onnx": m.onnx is not None, "vllm_quantizations": m.vllm_quantizations,
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
    for col in ("params", "class", "bf16 ckpt", "context", "ollama", "vLLM formats", "gated"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], f"{r['params'] / 1e9:.2f}B", r["param_class"], _gib(r["checkpoint_bytes"]),
                      str(r["max_position_embeddings"]), r["ollama_tag"] or "-",
                      ",".join(r["vllm_quantizations"]), "yes" if r["gated"] else "no")
    out.print(table)


def _host_memory(hardware: str | None) -> int | None:
    from components.catalog import get_cpu_tier
    return None if hardware is None else get_cpu_tier(hardware).allocatable_bytes


def _plan(model: str, engine: str, quant: str | None, ctx: int | None, concurrency: int,
          hardware: str | None) -> VllmPlan | MemoryPlan:
    from components.catalog import get_gpu
    from components.sizing import report
    q = quant or DEFAULT_QUANT[engine]
    if engine == "vllm":
        gpu = get_gpu(hardware or "l4").id
        return report("vllm", model, quantization=q, max_model_len=ctx, concurrency=concurrency, gpu=gpu)
    host = _host_memory(hardware)
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
    hardware: Annotated[str | None, typer.Option("--hardware", help="GPU id (vllm) or CPU tier id (ollama/onnx).")] = None,
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
    data = {
        "model": plan.model, "engine": engine, "quantization": plan.quantization,
        "weights_bytes": plan.weights_bytes, "kv_cache_bytes": plan.kv_cache_bytes,
        "overhead_bytes": plan.overhead_bytes, "total_bytes": plan.total_bytes,
        "available_bytes": plan.available_bytes, "fits": plan.fits, "fits_on": fits_on,
        "settings": _settings(plan), "suggestions": list(plan.suggestions),
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_size(data)


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
    verdict = "[green]fits[/green]" if data["fits"] else "[red]does not fit[/red]"
    console.print(f"Verdict: {verdict}")
    for s in data["suggestions"]:
        console.print(f"  would fit with {s}")
    console.print(f"Fits on: {', '.join(data['fits_on']) or 'nothing in the catalog'}")
    settings = Table(title="Derived settings")
    settings.add_column("setting")
    settings.add_column("value")
    for key, value in data["settings"].items():
        settings.add_row(key, " ".join(value) if isinstance(value, list) else str(value))
    console.print(settings)


def register(app: typer.Typer) -> None:
    """Add the `models` and `size` commands to the CLI app."""
    app.command("models")(models_command)
    app.command("size")(size_command)
