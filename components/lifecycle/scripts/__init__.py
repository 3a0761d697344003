"""Scripts the lifecycle Jobs run (standard library only), shipped to the cluster as ConfigMap data.

* ``verify_download.py``: checks a downloaded checkpoint against the hub's sizes and checksums;
* ``smoke_check.py``: ``/v1/models`` and one chat completion through the authenticating proxy;
* ``bench_report.py``: a ``vllm bench serve`` result next to sizing's prediction, to the log and a ConfigMap.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["SCRIPTS_DIR", "script_text"]

SCRIPTS_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def script_text(name: str) -> str:
    """The text of one script (``verify_download.py``, ``smoke_check.py``, ``bench_report.py``)."""
    return (SCRIPTS_DIR / name).read_text(encoding="utf-8")
