"""Silero VAD's per-frame speech probabilities, from its batched ("sequence") ONNX export.

A port of the part of `silero_vad.sequence_vad` (silero-vad 6.2.3, MIT licence, (c) 2020-present
Silero Team; j2a/assets/models/LICENSES/silero-vad-MIT.txt) that J2A uses: `frame_blocks` and
`SileroVADSequence.audio_forward` at 16 kHz, with the same session options, so the probabilities are
the same numbers. The model file, silero_vad_16k_sequence.onnx, ships in j2a/assets/models/.

The sequence model runs a whole block of 32-ms frames (512 samples, each prefixed with the previous
frame's last 64 samples) in one call, carrying the LSTM state (h, c) from block to block; per frame
it gives the same probability as the streaming model fed one frame at a time.
"""

from __future__ import annotations

import numpy as np

FRAME = 512  # samples per frame at 16 kHz
CONTEXT = 64  # samples of the previous frame prefixed to each frame
MAX_FRAMES = 512  # frames per ONNX call (~16.4 s)


def frame_blocks(audio: np.ndarray, max_frames: int = MAX_FRAMES):
    """Yield (block_frames, CONTEXT + FRAME) blocks; the first frame's context is zeros, the last frame
    is zero padded to a full frame."""
    n_frames = (audio.size + FRAME - 1) // FRAME
    context = np.zeros(CONTEXT, dtype=np.float32)
    for first in range(0, n_frames, max_frames):
        n = min(max_frames, n_frames - first)
        samples = audio[first * FRAME : min(audio.size, (first + n) * FRAME)]
        frames = np.zeros((n, FRAME), dtype=np.float32)
        frames.reshape(-1)[: samples.size] = samples
        contexts = np.empty((n, CONTEXT), dtype=np.float32)
        contexts[0] = context
        if n > 1:
            contexts[1:] = frames[:-1, -CONTEXT:]
        context = frames[-1, -CONTEXT:].copy()
        yield np.concatenate((contexts, frames), axis=1)


class SileroVAD:
    """The sequence ONNX model on one CPU thread; `probs(audio16k)` -> per-frame speech probability."""

    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def probs(self, audio: np.ndarray) -> np.ndarray:
        """1-D float32 array: one speech probability per 32-ms frame of a 16 kHz float32 signal."""
        hidden = np.zeros((1, 1, 128), dtype=np.float32)
        cell = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        for block in frame_blocks(audio):
            p, hidden, cell = self.session.run(["speech_probs", "hn", "cn"], {"input": block, "h": hidden, "c": cell})
            out.append(p)
        return np.concatenate(out).reshape(-1) if out else np.zeros(0, dtype=np.float32)
