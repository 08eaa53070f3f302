"""onnxruntime sessions: the one place execution providers are chosen and checked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCE = (TENSORRT, CUDA, CPU)
DEVICES = {"cpu": (CPU,), "cuda": (CUDA, CPU), "tensorrt": (TENSORRT, CUDA, CPU)}


class ProviderError(ValueError):
    pass


def choose_providers(
    available: Sequence[str], device: str = "auto", explicit: Sequence[str] | None = None
) -> list[str]:
    """Providers to ask for, best first: explicit ones as given, else by device (auto: TensorRT → CUDA → CPU)."""
    if explicit:
        missing = [p for p in explicit if p not in available]
        if missing:
            raise ProviderError(f"provider(s) {', '.join(missing)} not available (have: {', '.join(available)})")
        return list(explicit)
    if device == "auto":
        return [p for p in PREFERENCE if p in available] or [CPU]
    if device not in DEVICES:
        raise ProviderError(f"unknown device '{device}' (auto, cpu, cuda, tensorrt)")
    wanted = DEVICES[device]
    if wanted[0] not in available:
        raise ProviderError(
            f"--device {device} needs {wanted[0]}, which this onnxruntime lacks "
            f"(have: {', '.join(available)}; install unmask[gpu] on a CUDA machine)"
        )
    return [p for p in wanted if p in available]


def create_session(
    path: Path | bytes, device: str = "auto", providers: Sequence[str] | None = None, threads: int | None = None
):
    """(session, fallback warning or None). onnxruntime-gpu without usable CUDA silently runs on CPU after
    logging an error; we silence its log and report the fallback ourselves, in one line."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    requested = choose_providers(ort.get_available_providers(), device, providers)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    # Mask G and Face G run one after the other in two sessions: idle threads of one that spin-wait for work
    # steal the cores from the other (measured: 17 → 26-33 img/s for the pair at batch 1 on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = path if isinstance(path, bytes) else str(path)
    session = ort.InferenceSession(source, options, providers=requested)
    active = session.get_providers()
    warning = None
    if requested[0] not in active:
        warning = f"{requested[0]} could not start (CUDA/TensorRT libraries missing?); running on {active[0]}"
    return session, warning
