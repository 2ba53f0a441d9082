"""Make tests/fixtures/musicnn_tf_reference.npz: what *real* TensorFlow + librosa + musicnn produce.

Run once, in a throwaway venv that has TensorFlow (never in the project venv):

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.15.1 librosa==0.10.2.post1 "numpy<2" soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfvenv/bin/python scripts/make_musicnn_fixture.py

Inputs: a deterministic synthetic 9-s signal (`test_signal()`, numpy only, so the test can rebuild it
bit for bit) and 3.1-s excerpts of three shared clips, each written as a 16 kHz float32 WAV and run
through musicnn's own `extractor.extractor()` (librosa front-end + the TF1 graph restored from the
package's checkpoints). We store the float16 mel power behind the patches musicnn fed to TensorFlow, and what TF
returned: tag probabilities (every patch), the penultimate layer (first patch) and mean-pool features, for MTT_musicnn and
MSD_musicnn, plus the library versions. The PyTorch port is tested against these numbers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "musicnn_tf_reference.npz"
SHARED_AUDIO = REPO.parent / "shared" / "data" / "audio"
# (file, excerpt start s): one full 3-s patch of each
CLIPS = [("pistachio_ragtime.ogg", 10.0), ("brahms_hungarian_dance_5.ogg", 5.0), ("techno_loop.mp3", 3.0)]
EXCERPT_S = 3.1  # one patch of 187 frames needs 2.99 s (the fixture must stay small)
SIGNAL_KEPT = "techno_loop"  # loud enough that musicnn's float16 log-mel saturates: the hard case
MODELS = ("MTT_musicnn", "MSD_musicnn")
SR = 16000


def test_signal(seconds: float = 9.0, sr: int = SR) -> np.ndarray:
    """Deterministic music-like test signal from closed-form formulas (no RNG, so any numpy version
    reproduces it): decaying harmonic notes of a little melody, a bass line, a hi-hat-like tick made
    from a chaotic logistic map, and a slow chirp. Peak about 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    melody = [60, 64, 67, 72, 71, 67, 64, 62, 60, 65, 69, 72, 74, 72, 69, 65, 64, 62]
    for i, midi in enumerate(melody):
        start = i * 0.5
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tt = np.clip(t - start, 0, None)
        env = (t >= start) * np.exp(-3.0 * tt)
        for h, a in ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.15)):
            y += 0.08 * a * env * np.sin(2 * np.pi * f0 * h * tt)
    bass = [36, 36, 41, 43, 36, 36, 41, 43, 36]
    for i, midi in enumerate(bass):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        seg = (t >= i) & (t < i + 1)
        y += 0.12 * seg * np.sin(2 * np.pi * f0 * t) * np.exp(-1.5 * (t - i))
    z = np.empty_like(t)
    v = 0.3141592653589793
    z_list = []
    for _ in range(len(t)):  # logistic map in its chaotic regime: broadband, deterministic "noise"
        v = 3.99 * v * (1 - v)
        z_list.append(v)
    z[:] = np.asarray(z_list) - 0.5
    tick = np.exp(-40.0 * np.mod(t, 0.25))
    y += 0.15 * tick * z
    y += 0.03 * np.sin(2 * np.pi * (200 * t + 150 * t**2))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def main() -> None:
    import librosa
    import musicnn
    import soundfile as sf
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor

    inputs = {"synthetic": test_signal()}
    for name, start in CLIPS:
        y, _ = librosa.load(SHARED_AUDIO / name, sr=SR, offset=start, duration=EXCERPT_S)
        # rounded to float16 so the fixture can hold the exact signal the reference was computed from
        inputs[Path(name).stem] = y.astype(np.float16).astype(np.float32)

    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
    out: dict[str, np.ndarray] = {
        "names": np.array(list(inputs)),
        "tf_version": np.array(tf.__version__),
        "librosa_version": np.array(librosa.__version__),
        "numpy_version": np.array(np.__version__),
        "musicnn_version": np.array(getattr(musicnn, "__version__", "0.1.0")),
        "n_frames": np.array(n_frames),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for key, y in inputs.items():
            wav = Path(tmp) / f"{key}.wav"
            sf.write(wav, y, SR, subtype="FLOAT")
            batch, _ = extractor.batch_data(str(wav), n_frames, n_frames)  # musicnn's own front-end
            # Store the float16 mel power (half the bytes of the float32 log patches) and check that it
            # rebuilds musicnn's batch exactly: batch = log10(10000 * mel16 + 1), taken in float32.
            audio, _ = librosa.load(str(wav), sr=config.SR)
            mel16 = librosa.feature.melspectrogram(
                y=audio, sr=SR, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS
            ).T.astype(np.float16)
            mel16 = mel16[: len(batch) * n_frames].reshape(len(batch), n_frames, -1)
            assert np.array_equal(np.log10(10000 * mel16 + 1), batch), "musicnn's front-end changed?"
            out[f"{key}/mel16"] = mel16
            if key == SIGNAL_KEPT:
                out[f"{key}/signal16k"] = y.astype(np.float16)  # exact (see above): front-end check on real audio
            for model in MODELS:
                probs, _, feats = extractor.extractor(str(wav), model=model, extract_features=True)
                out[f"{key}/{model}/probs"] = probs.astype(np.float32)
                # musicnn 0.1.0's extractor appends the *first* batch's penultimate for every later batch
                # (it unpacks `backend_` but concatenates `penultimate_`), so only window 0 is TF's truth.
                out[f"{key}/{model}/penultimate"] = np.asarray(feats["penultimate"], np.float32).reshape(-1, 200)[:1]
                out[f"{key}/{model}/mean_pool"] = np.asarray(feats["mean_pool"], np.float32)
                print(key, model, batch.shape, "top:", np.argsort(-probs.mean(0))[:5], file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB) with TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
