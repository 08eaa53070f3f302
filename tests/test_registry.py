"""Plugins: a real third-party distribution, built and pip-installed in a temp dir, is discovered and used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from unmask_cli import registry

PLUGIN_DIST = "unmask-test-plugin"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unmask_cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    (root / "unmask_test_plugin").mkdir()
    (root / "unmask_test_plugin" / "__init__.py").write_text(
        textwrap.dedent('''
        import cv2
        import numpy as np

        class BlackBar:
            """A plain black band from the nose tip to below the chin."""
            name = "blackbar"

            def __call__(self, image, landmarks, rng):
                mask = np.zeros(image.shape[:2], np.uint8)
                top = int(landmarks[29, 1])
                bottom = int(min(image.shape[0], landmarks[8, 1] + 5))
                left, right = int(landmarks[2, 0]), int(landmarks[14, 0])
                mask[top:bottom, left:right] = 1
                out = image.copy()
                out[mask == 1] = int(rng.integers(0, 30))
                return out, mask
    ''')
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{PLUGIN_DIST}"
        version = "1.2.3"

        [project.entry-points."unmask.synthesizers"]
        blackbar = "unmask_test_plugin:BlackBar"
        brokenstyle = "unmask_test_plugin_missing:Nope"
        surgical = "unmask_test_plugin:BlackBar"

        [tool.setuptools]
        packages = ["unmask_test_plugin"]
    ''')
    )
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(root)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    yield root
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", PLUGIN_DIST], capture_output=True)


def test_plugins_lists_third_party_and_built_in(installed_plugin):
    result = _cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {(r["group"], r["name"]): r for r in json.loads(result.stdout) if r["status"] != "unused"}
    mine = rows[("unmask.synthesizers", "blackbar")]
    assert (mine["distribution"], mine["version"], mine["status"]) == (PLUGIN_DIST, "1.2.3", "ok")
    assert rows[("unmask.synthesizers", "surgical")]["distribution"] == "unmask"
    broken = rows[("unmask.synthesizers", "brokenstyle")]
    assert broken["status"] == "error" and "brokenstyle" in broken["error"]
    assert "\n" not in broken["error"]


def test_a_third_party_style_of_a_built_in_name_is_listed_unused_and_the_built_in_kept(installed_plugin):
    """A distribution's own `surgical` replaced the built-in one without a word (which won depended on pip's
    order): the built-in is used and `unmask plugins` says the other is not."""
    result = _cli("plugins", "--json")
    surgical = [r for r in json.loads(result.stdout) if r["name"] == "surgical"]
    assert {(r["distribution"], r["status"]) for r in surgical} == {("unmask", "ok"), (PLUGIN_DIST, "unused")}
    unused = next(r for r in surgical if r["status"] == "unused")
    assert "is not used: unmask registers the same name" in unused["error"]
    code = "from unmask_cli import registry; print(type(registry.load_synthesizer('surgical')).__module__)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "unmask_styles.surgical", loaded.stderr


def test_plugins_table_reports_broken_plugin_in_one_line(installed_plugin):
    result = _cli("plugins")
    assert result.returncode == 0
    errors = [line for line in result.stderr.splitlines() if "brokenstyle" in line]
    assert len(errors) == 1 and "ModuleNotFoundError" in errors[0]
    assert "Traceback" not in result.stderr
    assert "blackbar" in result.stdout and PLUGIN_DIST in result.stdout


def test_synthesize_uses_third_party_style(installed_plugin, sample_folder, tmp_path):
    out = tmp_path / "ds"
    result = _cli("synthesize", str(sample_folder), str(out), "--style", "blackbar", "--json")
    assert result.returncode == 0, result.stderr
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert manifest and {r["style"] for r in manifest} == {"blackbar"}


def test_broken_style_is_one_error_line_and_random_goes_on(installed_plugin, sample_folder, tmp_path):
    result = _cli("synthesize", str(sample_folder), str(tmp_path / "a"), "--style", "brokenstyle")
    assert result.returncode == 2
    assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1
    assert "brokenstyle" in result.stderr and "Traceback" not in result.stderr
    result = _cli("synthesize", str(sample_folder), str(tmp_path / "b"), "--style", "random", "--json")
    assert result.returncode == 0, result.stderr
    assert "brokenstyle" in result.stderr
    assert json.loads(result.stdout)["written"] == 4


def test_missing_plugin_names_the_alternatives():
    with pytest.raises(registry.PluginError) as info:
        registry.load(registry.SYNTHESIZERS, "does-not-exist")
    assert "does-not-exist" in str(info.value) and "surgical" in str(info.value)


def test_env_var_restricts_plugins(monkeypatch):
    monkeypatch.setenv("UNMASK_PLUGINS", "surgical,n95")
    assert registry.names(registry.SYNTHESIZERS) == ["n95", "surgical"]


def test_a_plugin_that_exits_or_prints_while_loading_is_one_error_and_keeps_stdout_clean(tmp_path, monkeypatch, capsys):
    """A plugin calling sys.exit() on import must not end the command, and one printing must not break --json."""
    from importlib.metadata import EntryPoint

    (tmp_path / "unmask_exiting_plugin.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "unmask_chatty_plugin.py").write_text(
        "print('hello from plugin import')\n\ndef style(image, landmarks, rng):\n    return image, image[..., 0] * 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    points = {
        "exits": EntryPoint("exits", "unmask_exiting_plugin:style", registry.SYNTHESIZERS),
        "chatty": EntryPoint("chatty", "unmask_chatty_plugin:style", registry.SYNTHESIZERS),
    }
    monkeypatch.setattr(registry, "_entry_points", lambda group: points)
    registry._load_cached.cache_clear()
    try:
        with pytest.raises(registry.PluginError, match=r"'exits'.*SystemExit"):
            registry.load_synthesizer("exits")
        assert callable(registry.load_synthesizer("chatty"))
    finally:
        registry._load_cached.cache_clear()
    captured = capsys.readouterr()
    assert "hello from plugin import" in captured.err and captured.out == ""
