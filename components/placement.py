"""Pod placement shared by the components: the toleration of a taint that reserves nodes."""

from __future__ import annotations

from pulumi_kubernetes.core.v1 import TolerationArgs

__all__ = ["taint_toleration"]


def taint_toleration(key: str) -> TolerationArgs:
    """Tolerate the ``NoSchedule`` taint ``key`` whatever its value (``operator: Exists``), so the pod may run on the
    nodes it reserves: GPU nodes (``cluster.gpuTaintKey``) or edge nodes (``EDGE_TAINT_KEY``)."""
    return TolerationArgs(key=key, operator="Exists", effect="NoSchedule")
