"""Plugin discovery through `importlib.metadata` entry points: the one place plugins are loaded.

Built-in styles and backends are registered through the same entry points a third-party package would use, so
the core never imports a plugin module by name. Discovery is lazy (listing reads metadata only); loading imports
one plugin and turns any failure into a `PluginError` with one line that names it.

`UNMASK_PLUGINS` (comma-separated names) restricts which plugins are visible, e.g. in tests.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np

SYNTHESIZERS = "unmask.synthesizers"
BACKENDS = "unmask.backends"
GROUPS = (SYNTHESIZERS, BACKENDS)


class PluginError(RuntimeError):
    """A plugin is missing or failed to load; `str()` is one line naming it and the reason."""


@runtime_checkable
class MaskSynthesizer(Protocol):
    """Draws a face mask on an aligned face (group `unmask.synthesizers`).

    Given an RGB uint8 image (H×W×3) and its 68 dlib landmarks (68×2 float, x,y in pixels), returns the masked
    RGB uint8 image and a binary uint8 mask (H×W, 1 where the mask covers the face). Deterministic for `rng`.
    """

    name: str

    def __call__(
        self, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class Backend(Protocol):
    """Runs the exported models (group `unmask.backends`).

    Constructed as `cls(models_dir, **options)`. `run` maps a batch of aligned crops (N×S×S×3 float32 RGB in
    `value_range`) to (masks N×S×S×1 of 0/1: the pixels it replaced, restored crops N×S×S×3 in the same range:
    new pixels where the mask is 1, the input's pixels elsewhere).
    """

    name: str
    input_size: int
    value_range: tuple[float, float]
    description: str  # e.g. which providers run it; shown to the user

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class PluginInfo:
    group: str
    name: str
    value: str  # "module:attr", as written in the entry point
    distribution: str
    version: str


def _allowed(name: str) -> bool:
    only = os.environ.get("UNMASK_PLUGINS")
    return only is None or name in {n.strip() for n in only.split(",") if n.strip()}


OWN_DISTRIBUTION = "unmask"


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.metadata["Name"] if ep.dist else "?"


def _registrations(group: str) -> dict[str, list[EntryPoint]]:
    """Every registration of each name in `group`, the one used first: unmask's own over a third party's of the
    same name (a distribution's `surgical` replaced the built-in without a word, and which one won depended on
    install order), else in pip's order. One distribution seen twice (two metadata copies) counts once."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=group):
        if not _allowed(ep.name):
            continue
        same = found.setdefault(ep.name, [])
        if all((_distribution(o), o.value) != (_distribution(ep), ep.value) for o in same):
            same.append(ep)
    for eps in found.values():
        eps.sort(key=lambda ep: _distribution(ep) != OWN_DISTRIBUTION)  # stable: pip's order otherwise
    return found


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {name: eps[0] for name, eps in _registrations(group).items()}


def _info(group: str, name: str, ep: EntryPoint) -> PluginInfo:
    version = ep.dist.version if ep.dist else "?"
    return PluginInfo(group=group, name=name, value=ep.value, distribution=_distribution(ep), version=version)


def discover(group: str) -> list[PluginInfo]:
    """Every plugin installed for `group`, without importing any of them."""
    return [_info(group, name, ep) for name, ep in sorted(_entry_points(group).items())]


def unused(group: str) -> list[tuple[PluginInfo, str]]:
    """Registrations of a name another distribution's registration takes (`_registrations`), each with the one-line
    reason it is not used."""
    return [
        (_info(group, name, ep), f"{group} plugin '{name}' of {_distribution(ep)} ({ep.value}) is not used: "
         f"{_distribution(eps[0])} registers the same name")
        for name, eps in sorted(_registrations(group).items())
        for ep in eps[1:]
    ]  # fmt: skip


def names(group: str) -> list[str]:
    return sorted(_entry_points(group))


@cache
def _load_cached(group: str, name: str) -> Any:
    eps = _entry_points(group)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise PluginError(f"{group} plugin '{name}' is not installed (available: {known})")
    ep = eps[name]
    try:
        # what a plugin prints while it loads goes to stderr: stdout may be carrying --json
        with contextlib.redirect_stdout(sys.stderr):
            obj = ep.load()
            # A style entry point may name a class (instantiated with no arguments) or a ready callable;
            # a backend names a class, constructed later with the user's options.
            return obj() if group == SYNTHESIZERS and isinstance(obj, type) else obj
    except (Exception, SystemExit) as exc:  # any failure inside third-party code becomes one clear line
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise PluginError(f"{group} plugin '{name}' ({ep.value}) failed to load: {reason}") from exc


def load(group: str, name: str) -> Any:
    """Import and return plugin `name` of `group`, or raise `PluginError` with a one-line reason."""
    return _load_cached(group, name)


def check_style_output(style: str, crop: np.ndarray, masked, mask) -> None:
    """A style plugin's (masked image, mask) must fit the crop, or the dataset gets samples training cannot use."""
    masked, mask = np.asarray(masked), np.asarray(mask)
    if masked.shape != crop.shape or masked.dtype != np.uint8:
        raise ValueError(f"style '{style}' returned a {masked.dtype} image of {masked.shape}, not uint8 {crop.shape}")
    if mask.shape != crop.shape[:2] or not np.isin(mask, (0, 1)).all():
        raise ValueError(f"style '{style}' returned a mask of {mask.shape} not of 0/1 values {crop.shape[:2]}")
    if not mask.any():
        raise ValueError(f"style '{style}' returned an empty mask")


def load_synthesizer(name: str) -> MaskSynthesizer:
    plugin = load(SYNTHESIZERS, name)
    if not callable(plugin):
        raise PluginError(f"{SYNTHESIZERS} plugin '{name}' is not callable (got {type(plugin).__name__})")
    return plugin


def backend_class(name: str) -> type:
    """The backend class registered as `name`; construct it with the models folder and options."""
    cls = load(BACKENDS, name)
    if not isinstance(cls, type) or not hasattr(cls, "run"):
        raise PluginError(f"{BACKENDS} plugin '{name}' is not a backend class with a run() method")
    return cls


def backend_name(spec: str) -> str:
    """The plugin name of a backend spec: "onnxruntime:int8" → "onnxruntime"."""
    return spec.partition(":")[0]


def open_backend(spec: str, **options):
    """A backend from a spec "name" or "name:precision" (e.g. "onnxruntime:int8"), for side-by-side runs of one
    backend's variants; the instance's `name` becomes the spec so that reports tell the variants apart."""
    name, _, precision = spec.partition(":")
    if precision:
        options = {**options, "precision": precision}
    backend = backend_class(name)(**options)
    backend.name = spec
    return backend


def check(info: PluginInfo) -> str | None:
    """Try loading a plugin; None when it loads, else the one-line error."""
    try:
        load(info.group, info.name)
    except PluginError as exc:
        return str(exc)
    return None
