"""Training on tiny data (S = 32, a few steps): losses fall, resume is exact, grids are written."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from unmask_cli import models, pipelines, training  # noqa: E402
from unmask_cli.synthesize import SynthesisConfig, resolve_styles, run  # noqa: E402


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from tests.conftest import SAMPLES

    out = tmp_path_factory.mktemp("tiny") / "ds"
    styles, _ = resolve_styles("random")
    run(SAMPLES, out, SynthesisConfig(size=64, variants=4, seed=1, styles=styles), workers=1)
    return out


def _config(kind: str, data: Path, **kw) -> training.TrainConfig:
    base = dict(
        kind=kind,
        data=str(data),
        size=32,
        batch=4,
        epochs=2,
        width=8,
        seed=3,
        checkpoint_every=3,
        log_every=2,
        val_samples=8,
    )
    base.update(kw)
    return training.TrainConfig(**base)


def _fixed_batch(trainer: training.Trainer):
    ds = pipelines.dataset(Path(trainer.config.data), trainer.train_records[:4], 32, 4, 0, 0, training=False)
    return next(iter(ds))


@pytest.mark.parametrize("kind, key", [("mask", "loss"), ("face", "l1_hole")])
def test_loss_falls_on_a_fixed_batch(tiny_data, tmp_path, kind, key):
    trainer = training.trainer(_config(kind, tiny_data, lr=2e-3), tmp_path / kind)
    batch = _fixed_batch(trainer)
    step = tf.function(trainer._distributed_step)
    losses = [float(step(*batch)[key]) for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses


def _variables(trainer):
    values = {}
    for name, obj in trainer.trackables().items():
        for i, v in enumerate(obj.variables):  # layer auto-names differ between instances; order does not
            values[f"{name}/{i}"] = v.numpy().copy()
    return values


@pytest.mark.parametrize("kind", ["mask", "face"])
def test_resume_restores_step_weights_and_optimizer_exactly(tiny_data, tmp_path, kind):
    config = _config(kind, tiny_data)
    first = training.trainer(config, tmp_path / "run")
    first.fit(max_steps=3)  # checkpoint_every=3: the last checkpoint is exactly here
    saved = _variables(first)
    assert int(first.step.numpy()) == 3
    again = training.trainer(config, tmp_path / "run", resume=True)
    assert int(again.step.numpy()) == 3
    restored = _variables(again)
    assert saved.keys() == restored.keys()
    optimizer_vars = [k for k in saved if "opt" in k.split("/")[0]]
    assert optimizer_vars and any(np.abs(saved[k]).sum() > 0 for k in optimizer_vars)
    for k in saved:
        np.testing.assert_array_equal(saved[k], restored[k], err_msg=k)
    fresh = training.trainer(config, tmp_path / "other")
    assert any(not np.array_equal(saved[k], v) for k, v in _variables(fresh).items())


def test_a_damaged_checkpoint_state_file_resumes_from_the_newest_checkpoint(tiny_data, tmp_path):
    config = _config("mask", tiny_data)
    training.trainer(config, tmp_path / "run").fit(max_steps=3)
    (tmp_path / "run" / "checkpoints" / "checkpoint").write_text("not { a state file")
    assert int(training.trainer(config, tmp_path / "run", resume=True).step.numpy()) == 3


def test_a_run_whose_checkpoints_are_gone_is_not_started_over_its_weights(tiny_data, tmp_path):
    import shutil

    config = _config("mask", tiny_data)
    training.trainer(config, tmp_path / "run").fit(max_steps=3)
    weights = (tmp_path / "run" / training.MASK_WEIGHTS).read_bytes()
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        training.trainer(config, tmp_path / "run", resume=True)
    assert (tmp_path / "run" / training.MASK_WEIGHTS).read_bytes() == weights


def test_an_out_folder_holding_the_users_files_is_refused(tiny_data, tmp_path):
    out = tmp_path / "mine"
    (out / "samples").mkdir(parents=True)
    (out / "samples" / "epoch_001.png").write_bytes(b"mine")
    for resume in (False, True):
        with pytest.raises(training.ConfigMismatch, match="holds files and no run"):
            training.trainer(_config("mask", tiny_data), out, resume=resume)
    assert [p.name for p in out.iterdir()] == ["samples"]
    assert (out / "samples" / "epoch_001.png").read_bytes() == b"mine"


def test_resume_refuses_a_different_configuration(tiny_data, tmp_path):
    training.trainer(_config("mask", tiny_data), tmp_path / "run").fit(max_steps=1)
    with pytest.raises(training.ConfigMismatch):
        training.trainer(_config("mask", tiny_data, size=64), tmp_path / "run", resume=True)
    with pytest.raises(training.ConfigMismatch):
        training.trainer(_config("mask", tiny_data), tmp_path / "run")  # no --resume: refuse to clobber


def test_a_start_that_fails_on_its_data_leaves_no_run_behind(tiny_data, tmp_path):
    """A wrong data or Mask G run folder is one error; the corrected command must not then be told the run already
    exists."""
    for data in (tmp_path / "missing", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(FileNotFoundError):
            training.trainer(_config("mask", data), tmp_path / "run")
    (tmp_path / "a_file").write_text("not a folder")
    for mask_run in (tmp_path, tmp_path / "a_file"):  # a Mask G run folder that is not one
        with pytest.raises(FileNotFoundError, match="not a `unmask train mask` run folder"):
            training.trainer(_config("face", tiny_data, mask_source="mask_g", mask_run=str(mask_run)), tmp_path / "run")
    (tmp_path / "face_run").mkdir()
    (tmp_path / "face_run" / "run.json").write_text(json.dumps({"kind": "face", "size": 32}))
    with pytest.raises(ValueError, match="a face run of size 32, not a Mask G run of size 32"):
        config = _config("face", tiny_data, mask_source="mask_g", mask_run=str(tmp_path / "face_run"))
        training.trainer(config, tmp_path / "run")
    assert not (tmp_path / "run" / "run.json").exists()
    training.trainer(_config("mask", tiny_data), tmp_path / "run")  # the corrected command starts


def test_resume_of_a_run_from_before_turned_share_keeps_its_data_order(tiny_data, tmp_path):
    training.trainer(_config("mask", tiny_data), tmp_path / "run").fit(max_steps=1)
    run_json = tmp_path / "run" / "run.json"
    old = json.loads(run_json.read_text())
    del old["turned_share"]  # written before the option existed
    run_json.write_text(json.dumps(old))
    assert int(training.trainer(_config("mask", tiny_data), tmp_path / "run", resume=True).step.numpy()) == 1
    with pytest.raises(training.ConfigMismatch, match="turned_share"):  # another share is another sample order
        training.trainer(_config("mask", tiny_data, turned_share=0.5), tmp_path / "run", resume=True)


def _records(turns: list[float]) -> list[dict]:
    """Manifest records whose landmarks are the template with one eye pulled towards the nose bridge by |turn|, as
    a turned face shows its far eye foreshortened: the right eye (in the image) for turn > 0, the left for < 0."""
    from unmask_cli.faces import CROP_TEMPLATE, LEFT_EYE, RIGHT_EYE

    records = []
    for i, turn in enumerate(turns):
        points = CROP_TEMPLATE.copy() * 128
        bridge_x = points[27:31, 0].mean()
        eye = RIGHT_EYE if turn > 0 else LEFT_EYE
        points[eye, 0] = bridge_x + (points[eye, 0] - bridge_x) * (1 - abs(turn))
        records.append({"id": str(i), "landmarks": points.tolist()})
    return records


def test_head_turn_reads_a_foreshortened_eye_on_either_side():
    from unmask_cli.faces import CROP_TEMPLATE, head_turn

    assert abs(head_turn(CROP_TEMPLATE)) < 0.02
    right, left = (np.array(r["landmarks"]) for r in _records([0.6, -0.6]))
    assert head_turn(right) > 0.25 and head_turn(left) < -0.25
    assert head_turn(left) == pytest.approx(-head_turn(right), abs=0.02)  # the template is nearly symmetric


def test_oversample_turned_repeats_turned_faces_to_the_share_asked():
    from unmask_cli.faces import head_turn

    records = _records([0.0] * 90 + [0.6] * 10)
    oversampled = pipelines.oversample_turned(records, 0.4)
    turned = [r for r in oversampled if abs(head_turn(np.array(r["landmarks"]))) >= pipelines.TURNED]
    assert oversampled[: len(records)] == records  # every sample kept, in its place
    assert len(turned) / len(oversampled) == pytest.approx(0.4, abs=0.01)
    assert oversampled == pipelines.oversample_turned(records, 0.4)  # the same list on resume
    assert pipelines.oversample_turned(records, 0.05) == records  # already 10% turned
    assert len(pipelines.oversample_turned(records, 1.0)) == 10
    with pytest.raises(ValueError, match="no turned faces"):
        pipelines.oversample_turned(_records([0.0] * 20), 0.3)


def test_resume_with_more_epochs_extends_the_run(tiny_data, tmp_path):
    config = _config("mask", tiny_data)
    training.trainer(config, tmp_path / "run").fit(max_steps=1)
    longer = _config("mask", tiny_data, epochs=config.epochs + 5)
    trainer = training.trainer(longer, tmp_path / "run", resume=True)
    assert int(trainer.step.numpy()) == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["epochs"] == config.epochs + 5


def test_resume_with_fewer_epochs_than_trained_is_refused_and_run_json_kept(tiny_data, tmp_path):
    """--resume --epochs 1 on a finished 2-epoch run rewrote run.json to say 1 epoch over 2 epochs' weights."""
    training.trainer(_config("mask", tiny_data, steps_per_epoch=1), tmp_path / "run").fit()
    with pytest.raises(training.ConfigMismatch, match=r"has trained 2 steps \(2 epochs\); --epochs 1 ends before"):
        training.trainer(_config("mask", tiny_data, steps_per_epoch=1, epochs=1), tmp_path / "run", resume=True)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["epochs"] == 2


def test_resume_with_a_new_lr_trains_at_it(tiny_data, tmp_path):
    import keras

    config = _config("mask", tiny_data, lr=2e-4)
    training.trainer(config, tmp_path / "run").fit(max_steps=1)
    slower = _config("mask", tiny_data, lr=5e-5)
    trainer = training.trainer(slower, tmp_path / "run", resume=True)  # the checkpoint holds the optimizer's rate
    trainer.fit(max_steps=1)
    optimizers = [o for o in trainer.trackables().values() if isinstance(o, keras.optimizers.Optimizer)]
    assert optimizers and all(float(o.learning_rate.numpy()) == pytest.approx(5e-5) for o in optimizers)


def test_scheduled_lr_is_constant_then_falls_linearly_to_zero():
    assert training.scheduled_lr(2e-4, 0, 100, 0) == 2e-4  # no decay: constant to the end
    assert training.scheduled_lr(2e-4, 100, 100, 0) == 2e-4
    assert training.scheduled_lr(2e-4, 60, 100, 40) == 2e-4
    assert training.scheduled_lr(2e-4, 80, 100, 40) == pytest.approx(1e-4)
    assert training.scheduled_lr(2e-4, 100, 100, 40) == 0.0


def test_constant_run_resumed_with_lr_decay_follows_the_schedule(tiny_data, tmp_path):
    config = _config("face", tiny_data, epochs=2, log_every=1)
    first = training.trainer(config, tmp_path / "run")
    first.fit(max_steps=3)
    decayed = _config("face", tiny_data, epochs=2, log_every=1, lr_decay_epochs=1)
    trainer = training.trainer(decayed, tmp_path / "run", resume=True)  # same checkpoint layout as a constant run
    total = 2 * trainer.steps_per_epoch
    trainer.fit()
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"] for r in logged if "lr" in r}
    assert lrs[1] == lrs[3] == config.lr  # the constant steps before the resume
    tail = [lrs[s] for s in range(trainer.steps_per_epoch + 2, total + 1)]  # step s ran at the rate after s - 1
    assert tail == sorted(tail, reverse=True) and tail[0] < config.lr and tail[-1] > 0
    for s in range(4, total + 1):
        assert lrs[s] == pytest.approx(training.scheduled_lr(config.lr, s - 1, total, trainer.steps_per_epoch))
    assert float(trainer.g_opt.learning_rate.numpy()) == pytest.approx(tail[-1])
    # run.json says what the run is now, and what its first three steps were trained with
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["lr_decay_epochs"] == 1 and saved["history"] == [{"until_step": 3, "changed": {"lr_decay_epochs": 0}}]


def test_epoch_writes_grid_metrics_and_weights(tiny_data, tmp_path):
    config = _config("face", tiny_data, epochs=1)
    trainer = training.trainer(config, tmp_path / "run")
    val = trainer.fit()
    assert {"psnr_masked", "ssim_masked", "texture_ratio"} <= val.keys()
    grid_path = tmp_path / "run" / "samples" / "epoch_001.png"
    import cv2

    sheet = cv2.imread(str(grid_path))
    n = len(trainer.grid_batch[0])
    cell, gap = 64, 2
    label_h = max(14, cell // 8)
    assert sheet.shape[:2] == (label_h + gap + n * (cell + gap), 4 * (cell + gap))
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("validation" in x for x in lines) and any("g" in x for x in lines)
    assert (tmp_path / "run" / training.FACE_WEIGHTS).is_file()


def test_face_training_on_mask_g_output(tiny_data, tmp_path):
    training.trainer(_config("mask", tiny_data), tmp_path / "mask").fit(max_steps=2)
    config = _config("face", tiny_data, mask_source="mask_g", mask_run=str(tmp_path / "mask"))
    trainer = training.trainer(config, tmp_path / "face")
    trainer.fit(max_steps=2)
    masked, mask, _ = trainer.grid_batch
    hole = trainer.hole_mask(masked, mask).numpy()
    expected = (trainer.mask_model(masked).numpy() > 0.5).astype(np.float32)
    assert (hole >= expected).all()  # Mask G's mask (grown by 1 px) is the noise region, not the true mask


def test_composite_leaves_unmasked_pixels_untouched():
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    generated = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    mask = np.zeros((2, 32, 32, 1), np.float32)
    mask[:, 10:20, 5:25] = 1
    out = models.composite(tf.constant(generated), tf.constant(image), tf.constant(mask)).numpy()
    keep = mask[..., 0] == 0
    np.testing.assert_array_equal(out[keep], image[keep])
    np.testing.assert_array_equal(out[~keep], generated[~keep])


def test_noise_fills_only_the_mask():
    image = tf.zeros((1, 32, 32, 3))
    mask = np.zeros((1, 32, 32, 1), np.float32)
    mask[:, 8:16, 8:16] = 1
    x = training.noisy_input(image, tf.constant(mask), tf.constant([1, 2], tf.int64)).numpy()
    assert x.shape == (1, 32, 32, 4)
    assert (x[..., :3][mask[..., 0] == 0] == 0).all()
    assert x[..., :3][mask[..., 0] == 1].std() > 0.3
    np.testing.assert_array_equal(x[..., 3:], mask)


def test_models_export_friendly_shapes():
    assert models.mask_g(64, width=8).output_shape == (None, 64, 64, 1)
    assert models.face_g(64, width=8).output_shape == (None, 64, 64, 3)
    with pytest.raises(ValueError):
        models.mask_g(48)


def test_kill_9_mid_training_then_resume_finishes(tiny_data, tmp_path):
    run_dir = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "unmask_cli",
        "train",
        "mask",
        str(tiny_data),
        "--out",
        str(run_dir),
        "--size",
        "32",
        "--width",
        "8",
        "--epochs",
        "3",
        "--checkpoint-every",
        "2",
        "--seed",
        "1",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 240
    index = run_dir / "checkpoints" / "checkpoint"
    while time.time() < deadline and not index.exists() and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert index.exists(), "no checkpoint was written before the kill"
    result = subprocess.run([*cmd, "--resume", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stderr
    report = json.loads(result.stdout)
    total = report["steps"]
    assert report["steps_this_session"] < total  # it really continued, not restarted
    assert (run_dir / training.MASK_WEIGHTS).is_file()


@pytest.mark.parametrize(("stop", "epoch_steps"), [("SIGINT", []), ("SIGTERM", []), ("SIGINT", ["1"])])
def test_ctrl_c_stops_after_the_step_with_a_checkpoint_of_it(tiny_data, tmp_path, stop, epoch_steps):
    """Not wherever the interrupt lands (inside TensorFlow it was a traceback), and not losing the steps since the
    last checkpoint: the run stops at a step, saves it, and the resume starts there. SIGTERM too (a scheduler's
    stop; Python's default died at once). With one step an epoch, every step ends an epoch: the stop waited for
    the epoch's validation, and then never came (the run trained to its end)."""
    import re

    run_dir = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "unmask_cli", "train", "mask", str(tiny_data), "--out", str(run_dir)]
    cmd += ["--size", "32", "--width", "8", "--batch", "4", "--epochs", "40", "--checkpoint-every", "1000"]
    cmd += ["--steps-per-epoch", *epoch_steps] if epoch_steps else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # pytest may run with it ignored
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not metrics.exists() and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(getattr(signal, stop))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "stopping after this step" in stderr and "Traceback" not in stderr
    step = int(re.search(r"interrupted at step (\d+)", stderr).group(1))
    assert f"ckpt-{step}" in stderr and (run_dir / "checkpoints" / f"ckpt-{step}.index").is_file()
    saved = json.loads((run_dir / "run.json").read_text())  # the config, and where its data path pointed
    config = training.TrainConfig(**{k: v for k, v in saved.items() if k in training.TrainConfig.__dataclass_fields__})
    resumed = training.trainer(config, run_dir, True)
    assert int(resumed.step.numpy()) == step


def test_mirrored_strategy_trains(tiny_data, tmp_path):
    trainer = training.trainer(_config("face", tiny_data, strategy="mirrored"), tmp_path / "mirrored")
    assert isinstance(trainer.strategy, tf.distribute.MirroredStrategy)
    trainer.fit(max_steps=2)
    assert int(trainer.step.numpy()) == 2


def test_new_run_starts_from_an_exported_generator_and_resume_keeps_its_own_weights(tiny_data, tmp_path):
    import onnxruntime as ort

    exported = Path(__file__).resolve().parents[1] / "exported" / "mask_g.onnx"
    config = _config("mask", tiny_data, size=128, width=None, init=str(exported), checkpoint_every=2)
    trainer = training.trainer(config, tmp_path / "run")
    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.abs(trainer.model(x, training=False).numpy() - onnx_out).max() < 1e-4
    trainer.fit(max_steps=2)
    trained = trainer.model.get_weights()
    resumed = training.trainer(config, tmp_path / "run", resume=True)  # the checkpoint wins over --init
    assert all(np.array_equal(a, b) for a, b in zip(trained, resumed.model.get_weights(), strict=True))


def test_d_warmup_trains_only_the_critics_first(tiny_data, tmp_path):
    trainer = training.trainer(_config("face", tiny_data, d_warmup=2, checkpoint_every=100), tmp_path / "run")
    g0 = [w.copy() for w in trainer.g.get_weights()]
    d0 = [w.copy() for w in trainer.d_global.get_weights()]
    trainer.fit(max_steps=2)
    assert all(np.array_equal(a, b) for a, b in zip(g0, trainer.g.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(d0, trainer.d_global.get_weights(), strict=True))
    trainer.fit(max_steps=1)  # then the generator learns at the configured rate
    assert float(trainer.g_opt.learning_rate.numpy()) == pytest.approx(trainer.config.lr)
    assert not all(np.array_equal(a, b) for a, b in zip(g0, trainer.g.get_weights(), strict=True))


def _first_training_batch(tiny_data, size: int = 64, **options) -> list[np.ndarray]:
    """(masked, mask, clean) of the first training batch of 16 samples, with the pipeline options given."""
    records = pipelines.load_split(tiny_data, 0.0)[0][:16]
    ds = pipelines.dataset(tiny_data, records, size, 16, 0, 0, training=True, **options)
    return [t.numpy() for t in next(iter(ds))]


def test_bare_share_shows_clean_faces_with_an_empty_mask(tiny_data):
    def batch(share: float):
        masked, mask, clean = _first_training_batch(tiny_data, 32, bare_share=share)
        bare = mask.reshape(16, -1).max(1) == 0
        return masked, clean, bare

    masked, clean, bare = batch(0.0)
    assert not bare.any()
    masked, clean, bare = batch(1.0)
    assert bare.all() and np.allclose(masked, clean)
    masked, clean, bare = batch(0.5)
    assert 0 < bare.sum() < 16
    assert np.allclose(masked[bare], clean[bare]) and not np.allclose(masked[~bare], clean[~bare])


def test_mask_g_samples_get_fabric_below_the_mask_on_both_images(tiny_data, monkeypatch):
    records = pipelines.load_split(tiny_data, 0.0)[0][:8]

    def batch(chance: float):
        monkeypatch.setattr(pipelines, "CLOTHES_CHANCE", chance)
        ds = pipelines.dataset(tiny_data, records, 64, 8, 0, 0, training=True, strong_augment=True)
        return [t.numpy() for t in next(iter(ds))]

    (_, mask0, clean0), (_, mask, clean) = batch(0.0), batch(1.0)
    assert np.array_equal(mask, mask0)  # the target is the mask alone, never the fabric
    dressed = 0
    for i in range(8):
        m = mask[i, ..., 0] > 0.5
        rows = np.arange(64)[:, None]
        bottom = np.where(m.any(0), (rows * m).max(0), (rows * m).max())
        changed = np.abs(clean[i] - clean0[i]).max(-1) > 0.1  # (the contrast change moves the rest a little)
        assert not (changed & (rows <= bottom[None, :])).any()  # nothing at or above the mask's lower edge
        dressed += changed.sum() > 20
    assert dressed >= 6


def test_mask_g_samples_get_darker_masks_sometimes(tiny_data, monkeypatch):
    records = pipelines.load_split(tiny_data, 0.0)[0][:8]

    def batch(chance: float):
        monkeypatch.setattr(pipelines, "DARKEN_CHANCE", chance)
        monkeypatch.setattr(pipelines, "CLOTHES_CHANCE", 0.0)
        ds = pipelines.dataset(tiny_data, records, 64, 8, 0, 0, training=True, strong_augment=True)
        return [t.numpy() for t in next(iter(ds))]

    (plain, mask, _), (dark, mask2, _) = batch(0.0), batch(1.0)
    assert np.array_equal(mask, mask2)
    for i in range(8):
        m = mask[i, ..., 0] > 0.5
        inside = ((plain[i][m] + 1) / 2).mean(), ((dark[i][m] + 1) / 2).mean()
        assert inside[1] < 0.85 * inside[0]  # the mask is darker
        assert np.abs(plain[i][~m] - dark[i][~m]).mean() < 0.08  # the rest is not (contrast and JPEG aside)


def test_alignment_jitter_moves_image_and_mask_together():
    import tensorflow as tf

    # a crop whose mask is exactly the red square: after the jitter the red must still be where the mask is
    size = 64
    image = np.full((size, size, 3), 0.5, np.float32)
    mask = np.zeros((size, size, 1), np.float32)
    image[30:50, 20:44] = (1.0, 0.0, 0.0)
    mask[30:50, 20:44] = 1.0
    tops, moved = [], 0
    for k in range(12):
        seed = tf.constant([7, k], tf.int64)
        masked, jittered, clean = (t.numpy() for t in pipelines._jitter_alignment(image, mask, image, seed, chance=1.0))
        red = (masked[..., 0] - masked[..., 1]) > 0.5
        inside = jittered[..., 0] > 0.5
        assert set(np.unique(jittered)) <= {0.0, 1.0}  # the target stays binary
        assert (red & inside).sum() / (red | inside).sum() > 0.85  # the mask follows the image
        assert np.array_equal(masked, clean)
        tops.append(int(np.argmax(inside.any(1))))
        moved += not np.array_equal(jittered, mask)
        kept = pipelines._jitter_alignment(image, mask, image, seed, chance=0.0)
        assert np.array_equal(kept[1].numpy(), mask)  # chance 0: untouched
    assert moved == 12 and max(tops) - min(tops) >= 4  # the mask's top row really varies


def test_the_training_pipeline_jitters_the_chosen_share_of_samples(tiny_data):
    """`unmask train mask --align-jitter SHARE` through tf.data: that share of the masks moved, the rest as drawn."""
    records = pipelines.load_split(tiny_data, 0.0)[0][:16]

    def masks(share: float) -> np.ndarray:
        ds = pipelines.dataset(tiny_data, records, 64, 16, 0, 0, training=True, align_jitter=share)
        return next(iter(ds))[1].numpy()

    still, half, moved = masks(0.0), masks(0.5), masks(1.0)
    assert set(np.unique(moved)) <= {0.0, 1.0}
    changed = lambda a: (a != still).reshape(16, -1).any(1)  # noqa: E731
    assert changed(moved).all() and 0 < changed(half).sum() < 16


def test_face_training_jitters_the_alignment_when_asked(tiny_data, tmp_path, monkeypatch):
    """`unmask train face --align-jitter SHARE` reaches Face G's training batches (it was Mask G's alone): Face G too
    meets crops aligned on landmarks found on the masked face at inference."""
    shares = []
    real = pipelines.dataset

    def spy(*args, **kwargs):
        if kwargs.get("training", True):
            shares.append(kwargs.get("align_jitter"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipelines, "dataset", spy)
    # with widened holes too: their code path runs inside the compiled training step
    training.trainer(_config("face", tiny_data, epochs=1, align_jitter=0.5, wide_hole=0.5), tmp_path / "run").fit()
    assert shares and set(shares) == {0.5}


def test_low_resolution_samples_blur_face_and_context_alike(tiny_data):
    """`unmask train face --low-res SHARE`: the chosen samples shrunk and enlarged back, the masked and the clean
    image the same way, the mask untouched."""
    import cv2
    import tensorflow as tf

    detail = lambda images: np.mean([cv2.Laplacian(im.astype(np.float32), cv2.CV_32F).var() for im in images])  # noqa: E731
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    seed = tf.constant([3, 1], tf.int64)
    a, b = (t.numpy() for t in pipelines._lower_resolution(image, image.copy(), seed, chance=1.0))
    assert np.array_equal(a, b) and detail([a]) < 0.2 * detail([image])
    a, b = (t.numpy() for t in pipelines._lower_resolution(image, image.copy(), seed, chance=0.0))
    assert np.array_equal(a, image) and np.array_equal(b, image)

    _, sharp_mask, sharp_clean = _first_training_batch(tiny_data, low_res=0.0)
    _, mask, clean = _first_training_batch(tiny_data, low_res=1.0)
    assert np.array_equal(mask, sharp_mask) and detail(clean) < 0.5 * detail(sharp_clean)


def test_export_names_the_init_model_as_it_was_when_the_run_started(tiny_data, tmp_path):
    import shutil

    from unmask_cli import export

    shipped = Path(__file__).resolve().parents[1] / "exported" / "mask_g.onnx"
    init = tmp_path / "exported" / "mask_g.onnx"
    init.parent.mkdir()
    shutil.copy(shipped, init)
    config = _config("mask", tiny_data, size=128, width=None, init=str(init), checkpoint_every=2)
    trainer = training.trainer(config, tmp_path / "run")
    trainer.fit(max_steps=2)
    run_config = json.loads((tmp_path / "run" / "run.json").read_text())
    weights = tmp_path / "run" / "mask_g.weights.h5"
    before = export._metadata("mask", run_config, weights, "fp32")["unmask.init_from"]
    assert before.startswith("mask_g.onnx: ") and " steps on " in before
    # the run's own export replaces the model it started from (as `unmask export --out exported` does)
    export.export(tmp_path / "run", tmp_path / "none", init.parent, on_line=lambda _: None, only="mask")
    assert export._metadata("mask", run_config, weights, "fp32")["unmask.init_from"] == before


def test_hand_share_shows_clean_faces_with_a_hand_over_the_mouth_and_an_empty_mask(tiny_data):
    from unmask_cli.occluders import MOUTH

    masked, mask, clean = _first_training_batch(tiny_data, hand_share=0.0)
    assert (mask.reshape(16, -1).max(1) > 0).all()
    masked, mask, clean = _first_training_batch(tiny_data, hand_share=1.0)
    assert (mask == 0).all()
    y, x = (MOUTH[::-1] * 64).astype(int)
    mouth = np.abs(masked - clean)[:, y - 4 : y + 4, x - 4 : x + 4].mean((1, 2, 3))
    top = np.abs(masked - clean)[:, :16].mean((1, 2, 3))
    # the hand covers the mouth; the forehead is the face's own (up to the contrast change, which is taken around
    # the image's mean and so moves a little with the hand)
    assert (mouth > 3 * top).all() and top.max() < 0.02
    again = _first_training_batch(tiny_data, hand_share=1.0)[0]
    assert np.array_equal(masked, again)  # seeded by the sample: a resumed run sees the same hands


def test_a_hand_in_front_of_the_mask_is_left_out_of_the_target(tiny_data):
    masked0, mask0, _ = _first_training_batch(tiny_data, hand_over_mask=0.0)
    masked, mask, _ = _first_training_batch(tiny_data, hand_over_mask=1.0)
    hand = np.abs(masked - masked0).max(-1) > 0.1  # what the hand changed in the masked image
    assert hand.any(axis=(1, 2)).all()
    # the mask behind the hand is not target (what else changed is its shadow and soft edge, still mask)
    assert (mask[..., 0][hand & (mask0[..., 0] > 0)] == 0).mean() > 0.8
    assert (mask <= mask0).all() and mask.sum() > 0.5 * mask0.sum()  # the rest of the mask still is


def test_harsh_light_lights_both_images_alike_and_leaves_the_mask(tiny_data):
    grey = np.full((64, 64, 3), 0.6, np.float32)
    masked = grey.copy()
    masked[40:60, 16:48] = (0.2, 0.3, 0.9)  # a blue mask
    lit = [pipelines._harsh_light(masked, grey, tf.constant([s, 1], tf.int64), 1.0) for s in range(12)]
    lit = [(a.numpy(), b.numpy()) for a, b in lit]
    outside = np.ones((64, 64), bool)
    outside[40:60, 16:48] = False
    assert all(np.array_equal(a[outside], b[outside]) for a, b in lit)  # the same light on both images
    faces = [b for _, b in lit]
    assert not all(np.array_equal(a, b) for a, b in itertools.pairwise(faces))  # each sample its own light
    means = np.array([face.mean(axis=(0, 1)) for face in faces])  # per sample, per channel
    assert means.mean() < 0.5  # darker on the whole (under-exposure)
    assert np.ptp(means, axis=1).max() > 0.08  # some with a colour cast
    sides = [abs(f[:, :8].mean() - f[:, -8:].mean()) + abs(f[:8].mean() - f[-8:].mean()) for f in faces]
    assert max(sides) > 0.05  # some lit from one side
    untouched = pipelines._harsh_light(masked, grey, tf.constant([0, 1], tf.int64), 0.0)[0].numpy()
    assert np.array_equal(untouched, masked)

    plain, plain_mask, _ = _first_training_batch(tiny_data, harsh_light=0.0)
    harsh, mask, _ = _first_training_batch(tiny_data, harsh_light=1.0)
    assert np.array_equal(mask, plain_mask) and harsh.mean() < plain.mean()


def test_bright_light_overexposes_both_images_alike_and_leaves_the_mask(tiny_data):
    skin = np.empty((64, 64, 3), np.float32)
    skin[:] = (0.55, 0.4, 0.3)  # a mid-tone face
    masked = skin.copy()
    masked[40:60, 16:48] = (0.2, 0.3, 0.9)  # a blue mask
    lit = [pipelines._bright_light(masked, skin, tf.constant([s, 1], tf.int64), 1.0) for s in range(12)]
    lit = [(a.numpy(), b.numpy()) for a, b in lit]
    outside = np.ones((64, 64), bool)
    outside[40:60, 16:48] = False
    assert all(np.array_equal(a[outside], b[outside]) for a, b in lit)  # the same light on both images
    faces = np.array([b[0, 0] for _, b in lit])  # each sample's skin colour
    assert (faces.mean(1) > skin[0, 0].mean() + 0.15).all()  # every one brighter
    assert (faces[:, 0] >= 0.999).any()  # some blown out to white in a channel
    assert (np.ptp(faces, axis=1) < np.ptp(skin[0, 0]) - 0.05).any()  # some with the colour washed out
    assert len({tuple(np.round(f, 3)) for f in faces}) == len(faces)  # each sample its own light
    untouched = pipelines._bright_light(masked, skin, tf.constant([0, 1], tf.int64), 0.0)[0].numpy()
    assert np.array_equal(untouched, masked)

    plain, plain_mask, _ = _first_training_batch(tiny_data, bright_light=0.0)
    bright, mask, _ = _first_training_batch(tiny_data, bright_light=1.0)
    assert np.array_equal(mask, plain_mask) and bright.mean() > plain.mean() + 0.1


def test_widened_holes_grow_sideways_and_down_never_up_for_the_share_asked():
    """`--wide-hole`: a share of the holes reaches 2-12 px (at 128²) past each side of the mask and half that below
    it, never above it (the eyes stay in view); the rest are left as Mask G found them."""
    hole = np.zeros((64, 128, 128, 1), np.float32)
    hole[:, 60:90, 40:88] = 1.0
    seed = tf.constant([3, 5], tf.int64)
    assert np.array_equal(training.widen_holes(tf.constant(hole), seed, 0.0).numpy(), hole)

    grown = training.widen_holes(tf.constant(hole), seed, 1.0).numpy()[..., 0]
    cols = grown.any(axis=1)
    left = 40 - cols.argmax(axis=1)
    right = (127 - cols[:, ::-1].argmax(axis=1)) - 87
    assert np.all(grown >= hole[..., 0])
    assert not grown[:, :60].any()
    assert np.array_equal(left, right) and left.min() >= 2 and left.max() <= 12
    assert len(set(left.tolist())) >= 5  # the reach is drawn per sample
    last_row = 127 - grown.any(axis=2)[:, ::-1].argmax(axis=1)
    assert np.array_equal(last_row - 89, left // 2)

    half = training.widen_holes(tf.constant(hole), seed, 0.5).numpy()
    changed = (half != hole).reshape(64, -1).any(axis=1).mean()
    assert 0.25 <= changed <= 0.75


def _train_cli(*args: str):
    from typer.testing import CliRunner

    from unmask_cli.cli import app

    return CliRunner().invoke(app, ["train", *args])


TINY = ["--size", "32", "--width", "8", "--batch", "4", "--epochs", "1", "--seed", "3"]


def test_training_on_samples_smaller_than_size_says_they_are_enlarged(tiny_data, tmp_path):
    """A 64² dataset trained at --size 128 without a word: the model learns soft, enlarged faces."""
    args = ["--width", "8", "--batch", "4", "--epochs", "1", "--seed", "3"]
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "big"), "--size", "128", *args)
    assert result.exit_code == 0, result.output
    assert "samples were made at 64² and train enlarged to --size 128" in result.output
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "small"), "--size", "32", *args)
    assert result.exit_code == 0 and "enlarged" not in result.output, result.output


def test_a_damaged_sample_stops_training_with_its_name_not_a_traceback(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(tiny_data, data)
    records = pipelines.load_split(data, 0.05)[0]
    bad = data / records[0]["masked"]
    bad.write_bytes(b"this was a sample once")
    result = _train_cli("mask", str(data), "--out", str(tmp_path / "run"), *TINY)
    assert result.exit_code in (1, 2), result.output  # 2 if the validation grid meets it at the start
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    error = [ln for ln in lines if ln.startswith("error")]
    assert len(error) == 1 and str(bad) in error[0] and "not a readable image" in error[0], result.output
    assert "Traceback" not in result.output
    # the way on it gives works: --resume alone met the same file again
    assert "restore or delete it" in error[0], error[0]
    bad.unlink()
    result = _train_cli("mask", str(data), "--out", str(tmp_path / "run"), *TINY, "--resume")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["--batch", "0"], "--batch"),
        (["--checkpoint-every", "0"], "--checkpoint-every"),
        (["--epochs", "0"], "--epochs"),
        (["--init", "README.md"], "not an ONNX model"),
    ],
)
def test_bad_training_options_are_one_error_before_any_step(tiny_data, tmp_path, args, words):
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "run"), *TINY, *args)
    assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "run" / "run.json").exists()


def test_out_onto_a_file_and_a_damaged_run_description_are_one_line(tiny_data, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "file"), *TINY)
    assert result.exit_code == 2 and "exists and is not a folder" in result.output
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{not json")
    result = _train_cli("mask", str(tiny_data), "--out", str(run_dir), *TINY, "--resume")
    assert result.exit_code == 2 and "run.json: damaged run description" in result.output, result.output


def test_a_damaged_checkpoint_is_named_on_resume(tiny_data, tmp_path):
    trainer = training.trainer(_config("mask", tiny_data, epochs=1), tmp_path / "run")
    trainer.fit(max_steps=3)
    data_file = sorted((tmp_path / "run" / "checkpoints").glob("ckpt-3.data-*"))[0]
    data_file.write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match="damaged checkpoint"):
        training.trainer(_config("mask", tiny_data, epochs=1), tmp_path / "run", resume=True)


def test_resume_refuses_another_epoch_length(tiny_data, tmp_path):
    training.trainer(_config("mask", tiny_data, steps_per_epoch=2), tmp_path / "run").fit(max_steps=1)
    with pytest.raises(training.ConfigMismatch, match="steps_per_epoch"):
        training.trainer(_config("mask", tiny_data, steps_per_epoch=3), tmp_path / "run", resume=True)


def test_resume_takes_the_same_data_named_another_way(tiny_data, tmp_path, monkeypatch):
    training.trainer(_config("mask", tiny_data), tmp_path / "run").fit(max_steps=1)
    monkeypatch.chdir(tiny_data.parent)
    resumed = training.trainer(_config("mask", Path(tiny_data.name)), tmp_path / "run", resume=True)
    assert int(resumed.step.numpy()) == 1


def test_resume_from_another_directory_knows_a_relative_data_path_by_where_it_was(tiny_data, tmp_path, monkeypatch):
    """A run started with a relative data path was refused when resumed from elsewhere with the same data, and a
    folder of the same name elsewhere was taken for it."""
    import shutil

    monkeypatch.chdir(tiny_data.parent)
    training.trainer(_config("mask", Path(tiny_data.name)), tmp_path / "run").fit(max_steps=1)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["data_resolved"] == str(tiny_data.resolve())
    other = tmp_path / "elsewhere"
    shutil.copytree(tiny_data, other / tiny_data.name)
    monkeypatch.chdir(other)
    with pytest.raises(training.ConfigMismatch, match=re.escape(f"data={tiny_data.resolve()}")):  # same name elsewhere
        training.trainer(_config("mask", Path(tiny_data.name)), tmp_path / "run", resume=True)
    resumed = training.trainer(_config("mask", tiny_data.resolve()), tmp_path / "run", resume=True)
    assert int(resumed.step.numpy()) == 1


def test_a_truncated_sample_is_named_and_an_out_under_a_file_is_one_line(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(tiny_data, data)
    bad = data / pipelines.load_split(data, 0.05)[0][0]["masked"]
    bad.write_bytes(bad.read_bytes()[:100])  # a PNG cut short: TensorFlow says "Invalid PNG data", no name
    result = _train_cli("mask", str(data), "--out", str(tmp_path / "run"), *TINY)
    assert result.exit_code in (1, 2) and str(bad) in result.output and "Traceback" not in result.output
    (tmp_path / "file").write_text("not a folder")
    result = _train_cli("face", str(tiny_data), "--out", str(tmp_path / "file" / "run"), *TINY)
    assert result.exit_code == 2 and "cannot write there" in result.output, result.output


def test_thin_loops_are_drawn_beside_the_mask_and_join_the_target(tiny_data):
    import cv2

    masked0, mask0, clean0 = _first_training_batch(tiny_data, thin_loops=0.0)
    masked, mask, clean = _first_training_batch(tiny_data, thin_loops=1.0)
    assert np.array_equal(clean, clean0)  # the truth has no loops
    assert (mask >= mask0).all()  # the mask stays target, and the loops join it
    grown = (mask > mask0)[..., 0]
    assert grown.any(axis=(1, 2)).mean() > 0.7  # a side or a loop may be hidden, rarely all four
    assert grown.mean(axis=(1, 2)).max() < 0.05  # thin lines, not patches
    # nothing changes away from the target (up to the contrast change, taken around the image's mean)
    near = np.stack([cv2.dilate(m[..., 0].astype(np.uint8), np.ones((5, 5), np.uint8)) for m in mask]) > 0
    assert np.abs(masked - masked0).max(-1)[~near].max() < 0.05
    assert np.array_equal(masked, _first_training_batch(tiny_data, thin_loops=1.0)[0])  # seeded by the sample


def test_draw_loops_leaves_a_crop_without_a_mask_alone():
    from unmask_cli.ear_loops import draw_loops

    face = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    empty = np.zeros((64, 64), np.float32)
    image, target = draw_loops(face, empty, np.random.default_rng(1))
    assert np.array_equal(image, face) and not target.any()


def test_manifest_lines_training_cannot_use_are_said_in_one_note(tiny_data, tmp_path):
    """Not a traceback (a JSON line of another shape), and not silence (a sample whose file was deleted)."""
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(tiny_data, data)
    (data / pipelines.load_split(data, 0.0)[0][0]["clean"]).unlink()
    with (data / "manifest.jsonl").open("a") as fh:
        fh.write('{"id": "broken"}\n')
    result = _train_cli("mask", str(data), "--out", str(tmp_path / "run"), *TINY, "--max-steps", "1")
    assert result.exit_code == 0, result.output
    assert "left out 1 lines that are no sample and" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "option", [["--lr", "-1"], ["--lr", "0"], ["--width", "0"], ["--max-steps", "0"], ["--lr-decay-epochs", "-3"]]
)
def test_options_that_cannot_train_are_refused_before_any_work(tiny_data, tmp_path, option):
    """A negative rate trained backwards, --width 0 meant the default but run.json said 0, and --max-steps 0 wrote
    an untrained run."""
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "run"), *option)
    assert result.exit_code == 2 and option[0] in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_resume_on_a_dataset_that_changed_says_so_and_records_it(tiny_data, tmp_path):
    """The data order is a seeded permutation of the training samples: resumed on a dataset grown or shrunk since,
    the run went on silently in another order than the README's "exact batch after the last checkpoint"."""
    import shutil

    data, run = tmp_path / "ds", tmp_path / "run"
    shutil.copytree(tiny_data, data)
    args = ["mask", str(data), "--out", str(run), "--size", "32", "--width", "8", "--epochs", "5", "--seed", "3"]
    assert _train_cli(*args, "--max-steps", "2").exit_code == 0
    started = json.loads((run / "run.json").read_text())["train_samples"]
    again = _train_cli(*args, "--max-steps", "1", "--resume")
    assert again.exit_code == 0 and "training samples now" not in again.output, again.output
    val_fraction = training.TrainConfig(kind="mask", data="").val_fraction
    (data / pipelines.load_split(data, val_fraction)[0][0]["masked"]).unlink()  # a training sample gone
    result = _train_cli(*args, "--max-steps", "1", "--resume")
    assert result.exit_code == 0, result.output
    assert f"{started - 1} training samples now, {started} when the run started" in result.output
    saved = json.loads((run / "run.json").read_text())
    assert saved["train_samples"] == started - 1
    assert saved["history"] == [{"until_step": 3, "changed": {"train_samples": started}}]


def test_resume_where_there_is_no_run_starts_one(tiny_data, tmp_path):
    """`--resume` into a new folder says so and starts a run: after run.json learnt its training samples, it
    failed (AttributeError: the run was described before the data had loaded)."""
    result = _train_cli("mask", str(tiny_data), "--out", str(tmp_path / "run"), *TINY, "--max-steps", "1", "--resume")
    assert result.exit_code == 0 and "no run to resume there; starting a new one" in result.output, result.output
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["train_samples"] > 0 and "history" not in saved
