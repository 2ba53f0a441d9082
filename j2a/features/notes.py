"""Notes: basic-pitch (Bittner et al., ICASSP 2022) note events plus a summary a caption can use.

Why our own driver around basic-pitch's model: `basic_pitch.inference` and `note_creation` import
TensorFlow / librosa / resampy at module level, which J2A does not install. We run the ONNX model of
the basic-pitch wheel (Apache-2.0; J2A ships a copy, see model_files) with onnxruntime, and replicate
its windowing exactly (22050 Hz, 43844-sample windows, 30 frames of overlap of which 15 are dropped
at each side, the same frame→time mapping). The note decoding below is a port of `output_to_notes_polyphonic` (onset peak
picking, inferred onsets, the "melodia trick"), with basic-pitch's default thresholds.

Memory: audio streams through in model windows and the decoder runs on blocks of BLOCK_FRAMES model
frames (about 33 s), so memory is one block of activations (+ the note list) whatever the length.
A note that crosses a block boundary is split in two there (one extra onset every ~33 s at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import argrelmax

from ..analysis.schema import NoteEvent, Notes
from ..theory import SHARP_NAMES

SR = 22050
FFT_HOP = 256
AUDIO_N_SAMPLES = SR * 2 - FFT_HOP  # 43844: the model's window
N_OVERLAP_FRAMES = 30
OVERLAP_LEN = N_OVERLAP_FRAMES * FFT_HOP
HOP_SIZE = AUDIO_N_SAMPLES - OVERLAP_LEN
ANNOTATIONS_FPS = SR // FFT_HOP  # 86
ANNOT_N_FRAMES = ANNOTATIONS_FPS * 2
MIDI_OFFSET = 21
MAX_FREQ_IDX = 87
BLOCK_FRAMES = 142 * 20  # decoder block: 20 windows' worth of frames
BATCH = 8  # windows per onnxruntime call


@dataclass
class NoteConfig:
    """basic-pitch's own defaults (predict())."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    min_note_ms: float = 127.70
    energy_tol: int = 11
    infer_onsets: bool = True
    melodia_trick: bool = True


def note_name(midi: int) -> str:
    return f"{SHARP_NAMES[midi % 12]}{midi // 12 - 1}"


@lru_cache(maxsize=2)
def _session(threads: int = 0):
    import onnxruntime as ort

    from .model_files import model_file

    path = str(model_file("basic_pitch/nmp.onnx"))  # basic-pitch 0.4.0's ICASSP 2022 model, shipped by J2A
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on shared CPUs
    opts.intra_op_num_threads = threads  # 0: onnxruntime's default (one per core)
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _windows(blocks):
    """basic-pitch's windowing over a stream: OVERLAP_LEN/2 zeros first, windows every HOP_SIZE."""
    buf = np.zeros(OVERLAP_LEN // 2, np.float32)
    for block in blocks:
        buf = np.concatenate([buf, block.astype(np.float32, copy=False)])
        while len(buf) >= AUDIO_N_SAMPLES:
            yield buf[:AUDIO_N_SAMPLES]
            buf = buf[HOP_SIZE:]
    while len(buf) > 0:  # the tail, zero padded, as window_audio_file does
        yield np.pad(buf[:AUDIO_N_SAMPLES], (0, max(0, AUDIO_N_SAMPLES - len(buf))))
        buf = buf[HOP_SIZE:]


def activations(blocks):
    """Yield (note, onset) activation blocks (frames x 88), in order, with overlaps already dropped."""
    # Follow torch's thread setting: inside analyze() every extractor gets one thread (they run side by
    # side), and onnxruntime's own pool on top of that only adds contention (notes: 6.5 CPU-s with
    # two threads vs 5.9 with one on a 3-min track).
    import torch

    sess = _session(1 if torch.get_num_threads() == 1 else 0)
    n_olap = N_OVERLAP_FRAMES // 2
    pending = []

    def run(wins):
        x = np.stack(wins)[:, :, None]
        note, onset = sess.run(
            ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"], {"serving_default_input_2:0": x}
        )
        return note[:, n_olap:-n_olap].reshape(-1, 88), onset[:, n_olap:-n_olap].reshape(-1, 88)

    for w in _windows(blocks):
        pending.append(w)
        if len(pending) == BATCH:
            yield run(pending)
            pending = []
    if pending:
        yield run(pending)


def frames_to_time(idx: np.ndarray) -> np.ndarray:
    """basic-pitch's model_frames_to_time, for global frame indices."""
    idx = np.asarray(idx, dtype=np.float64)
    window_offset = (FFT_HOP / SR) * (ANNOT_N_FRAMES - AUDIO_N_SAMPLES / FFT_HOP) + 0.0018
    return idx * FFT_HOP / SR - window_offset * np.floor(idx / ANNOT_N_FRAMES)


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    diffs = []
    for n in range(1, n_diff + 1):
        padded = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(padded[n:] - padded[:-n])
    frame_diff = np.min(diffs, axis=0)
    frame_diff[frame_diff < 0] = 0
    frame_diff[:n_diff] = 0
    if np.max(frame_diff) > 0:
        frame_diff = np.max(onsets) * frame_diff / np.max(frame_diff)
    return np.maximum(onsets, frame_diff)


def decode(frames: np.ndarray, onsets: np.ndarray, cfg: NoteConfig) -> list[tuple[int, int, int, float]]:
    """Port of basic_pitch.note_creation.output_to_notes_polyphonic: [(start_frame, end_frame, midi, amplitude)]."""
    n_frames = frames.shape[0]
    min_len = int(np.round(cfg.min_note_ms / 1000 * (SR / FFT_HOP)))
    tol = cfg.energy_tol
    if cfg.infer_onsets:
        onsets = _inferred_onsets(onsets, frames)
    peak = np.zeros(onsets.shape)
    peaks = argrelmax(onsets, axis=0)
    peak[peaks] = onsets[peaks]
    t_idx, f_idx = np.where(peak >= cfg.onset_threshold)
    remaining = frames.astype(np.float64, copy=True)
    events = []
    for start, f in zip(t_idx[::-1], f_idx[::-1]):  # backwards in time
        if start >= n_frames - 1:
            continue
        i, k = start + 1, 0
        while i < n_frames - 1 and k < tol:
            k = k + 1 if remaining[i, f] < cfg.frame_threshold else 0
            i += 1
        i -= k
        if i - start <= min_len:
            continue
        remaining[start:i, max(f - 1, 0) : min(f + 2, MAX_FREQ_IDX + 1)] = 0
        events.append((int(start), int(i), int(f + MIDI_OFFSET), float(np.mean(frames[start:i, f]))))
    if cfg.melodia_trick:
        while np.max(remaining) > cfg.frame_threshold:
            mid, f = np.unravel_index(np.argmax(remaining), remaining.shape)
            remaining[mid, f] = 0
            fl, fh = max(f - 1, 0), min(f + 2, MAX_FREQ_IDX + 1)
            i, k = mid + 1, 0
            while i < n_frames - 1 and k < tol:
                k = k + 1 if remaining[i, f] < cfg.frame_threshold else 0
                remaining[i, fl:fh] = 0
                i += 1
            end = i - 1 - k
            i, k = mid - 1, 0
            while i > 0 and k < tol:
                k = k + 1 if remaining[i, f] < cfg.frame_threshold else 0
                remaining[i, fl:fh] = 0
                i -= 1
            begin = i + 1 + k
            if end - begin <= min_len:
                continue
            events.append((int(begin), int(end), int(f + MIDI_OFFSET), float(np.mean(frames[begin:end, f]))))
    return events


def transcribe(audio, cfg: NoteConfig | None = None) -> tuple[list[NoteEvent], int]:
    """All note events of an Audio (streamed), and the number of model frames covered."""
    cfg = cfg or NoteConfig()
    n_total = int(np.floor(audio.duration_s * SR * ANNOTATIONS_FPS / SR))  # basic-pitch's trim to the input length
    events: list[NoteEvent] = []
    note_buf, onset_buf, offset = [], [], 0

    def flush(final=False):
        nonlocal note_buf, onset_buf, offset
        if not note_buf:
            return
        note, onset = np.concatenate(note_buf), np.concatenate(onset_buf)
        take = len(note) if final else BLOCK_FRAMES
        take = min(take, max(n_total - offset, 0))
        if take > 0:
            times = frames_to_time(np.arange(offset, offset + take + 1))
            for s, e, pitch, amp in decode(note[:take], onset[:take], cfg):
                events.append(
                    NoteEvent(
                        start=round(float(times[s]), 3),
                        end=round(float(times[e]), 3),
                        pitch=pitch,
                        velocity=round(amp, 3),
                    )
                )
        rest = slice(take, None) if not final else slice(len(note), None)
        note_buf, onset_buf = [note[rest]], [onset[rest]]
        offset += take if not final else len(note)

    blocks = (y for _, y in audio.chunks(SR, chunk_s=30.0))
    for note, onset in activations(blocks):
        note_buf.append(note)
        onset_buf.append(onset)
        if sum(len(n) for n in note_buf) >= BLOCK_FRAMES:
            flush()
    flush(final=True)
    events.sort(key=lambda ev: (ev.start, ev.pitch))
    return events, n_total


def summarize(events: list[NoteEvent], duration_s: float) -> Notes:
    """Count, pitch range, most active pitch classes (by sounding time), density and polyphony."""
    if not events:
        return Notes(count=0, events=[])
    pitches = np.array([e.pitch for e in events])
    dur = np.array([max(e.end - e.start, 0.0) for e in events])
    lo, hi = int(pitches.min()), int(pitches.max())
    pc = np.bincount(pitches % 12, weights=dur, minlength=12)
    order = np.argsort(-pc)
    total = pc.sum() or 1.0
    classes = [{"name": SHARP_NAMES[i], "weight": round(float(pc[i] / total), 4)} for i in order if pc[i] > 0]
    # polyphony on a 10 ms grid: mean number of sounding notes over the frames where any note sounds
    fps = 100
    n = int(np.ceil(max(e.end for e in events) * fps)) + 2
    delta = np.zeros(n + 1)
    for e in events:
        delta[int(round(e.start * fps))] += 1
        delta[int(round(e.end * fps))] -= 1
    active = np.cumsum(delta)[:n]
    sounding = active > 0
    return Notes(
        count=len(events),
        pitch_range={"low": {"midi": lo, "name": note_name(lo)}, "high": {"midi": hi, "name": note_name(hi)}},
        pitch_classes=classes,
        density_per_s=round(len(events) / max(duration_s, 1e-9), 3),
        polyphony=round(float(active[sounding].mean()) if sounding.any() else 0.0, 3),
        voices=voices(events, fps),
        events=events,
    )


# Intervals at which the transcriber hears a note's own overtones (or an organ's mixture ranks) as notes of their
# own: the octave, twelfth, two octaves, its major third and fifth, three octaves
OVERTONES = (12, 19, 24, 28, 31, 36)


def voices(events: list[NoteEvent], fps: int = 100, block_s: float = 60.0) -> float:
    """Mean number of notes sounding at once while any sounds, not counting a note at an overtone interval above
    another sounding note (`OVERTONES`) that is no louder than it. Why apart from `polyphony`: a single reed or
    organ line transcribes at a polyphony of 1.8-6 from its overtones alone; counted this way, single lines stay
    near 1 and a chordal texture near 2 or more (bench/RESULTS.md, "Chords need two notes at once"). Why the
    loudness: a major triad over its root in the bass *is* the harmonic series (C2 C3 C4 E4 G4: 12, 24, 28, 31
    above C2), so by interval alone the demo's C-F-G-C pad counted 1.1 notes at once; an overtone the transcriber
    hears is quieter than its fundamental, the chord's notes are not. A piano roll per block of `block_s`, so
    memory does not grow with the file."""
    if not events:
        return 0.0
    on = np.array([round(e.start * fps) for e in events], int)
    off = np.array([round(e.end * fps) for e in events], int)
    pitch = np.array([e.pitch for e in events], int)
    vel = np.array([e.velocity for e in events], np.float32)
    n = int(off.max()) + 1
    step = int(block_s * fps)
    total = frames = 0
    for b0 in range(0, n, step):
        b1 = min(n, b0 + step)
        loud = np.zeros((b1 - b0, 128), np.float32)  # the loudest sounding note per frame and pitch; 0: silent
        for i in np.flatnonzero((off > b0) & (on < b1)):
            seg = loud[max(on[i], b0) - b0 : min(off[i], b1) - b0, pitch[i]]
            np.maximum(seg, max(vel[i], 1e-6), out=seg)
        roll = loud > 0
        over = np.zeros_like(roll)
        for h in OVERTONES:  # above a sounding note at an overtone interval, and no louder than it
            over[:, h:] |= roll[:, :-h] & (loud[:, h:] <= loud[:, :-h])
        counts = (roll & ~over).sum(1)
        any_ = roll.any(1)
        total += int(counts[any_].sum())
        frames += int(any_.sum())
    return round(total / frames, 3) if frames else 0.0


def analyze_notes(audio, cfg: NoteConfig | None = None) -> Notes:
    """basic-pitch note events of an Audio plus their summary."""
    events, _ = transcribe(audio, cfg)
    return summarize(events, audio.duration_s)
