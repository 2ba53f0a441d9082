"""`analyze()`: decode once, run every feature extractor side by side, fuse, and return an Analysis.

Why side by side: each extractor alone leaves a core idle much of the time (torch, onnxruntime and numpy
release the GIL), and they all read the same decoded Audio.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .schema import Analysis, Tags, TagTimeline, normalised


@dataclass
class AnalyzeConfig:
    """Which extractors to run. All on by default; switching one off leaves its fields empty."""

    rhythm: bool = True
    harmony: bool = True
    tags: bool = True
    notes: bool = True
    loudness: bool = True
    threads: int = 2  # extractors run side by side: each alone leaves a core idle much of the time


def analyze(
    source: str | os.PathLike | np.ndarray, sr: int | None = None, config: AnalyzeConfig | None = None
) -> Analysis:
    """Analyse one file (or an array with its sample rate) and return an Analysis.

    Raises j2a.audio.AudioError with a one-line reason for unusable input. Non-music input
    (speech, nature sounds) gets `is_music=False` and no musical features, so nothing downstream
    can describe it as a song.
    """
    from ..audio import open_audio
    from ..features import harmony, loudness, music, notes, rhythm, tags, yamnet

    cfg = config or AnalyzeConfig()
    timings: dict[str, float] = {}

    def timed(name, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        timings[name] = round(time.perf_counter() - t, 3)
        return out

    audio = timed("decode", open_audio, source, sr)

    # Every extractor reads the same Audio, so they run concurrently (torch, onnxruntime and numpy release
    # the GIL). The musical ones start before is_music is known and are discarded for non-music input:
    # that wastes a little work on speech, but nearly halves the wall time on music, the common case.
    # YAMNet runs first inside the is_music job (about 3 ms per 0.48-s window): its sound-source
    # evidence decides is_music, and its windows are fused with musicnn's patches into the tags.
    def hear():
        windows = timed("yamnet", yamnet.window_scores, audio) if cfg.tags else None
        return music.detect(audio, windows), windows

    jobs = {
        "is_music": (True, hear),
        "tags": (cfg.tags, tags.patch_scores),
        "rhythm": (cfg.rhythm, rhythm.analyze_rhythm),
        "notes": (cfg.notes, notes.analyze_notes),
        "harmony": (cfg.harmony, harmony.analyze_harmony),
        "loudness": (cfg.loudness, loudness.analyze_loudness),
    }
    import torch

    torch_threads = torch.get_num_threads()
    if cfg.threads > 1:  # parallel across extractors, not inside each: no oversubscribed cores
        torch.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=max(1, cfg.threads)) as pool:
        futs = {
            name: pool.submit(timed, name, fn, audio) if name != "is_music" else pool.submit(timed, name, fn)
            for name, (on, fn) in jobs.items()
            if on
        }
        detection, windows = futs.pop("is_music").result()
        if not detection.is_music:
            for name in ("rhythm", "notes", "harmony"):
                if name in futs:
                    futs.pop(name).cancel()
        try:
            out = {name: f.result() for name, f in futs.items() if not f.cancelled()}
        finally:
            torch.set_num_threads(torch_threads)
    tag_result = None
    if "tags" in out:
        tag_result = tags.fused_tags(*out["tags"], windows, audio.duration_s)
        if tag_result.scores:
            detection.scores["tag_max"] = round(max(tag_result.scores.values()), 3)
    result = Analysis(
        file=audio.name,
        duration_s=round(audio.duration_s, 3),
        is_music=detection.is_music,
        music=detection,
        tags=tag_result if detection.is_music else _sounds_only(tag_result),
        loudness=out.get("loudness"),
        timings_s=timings,
    )
    if not detection.is_music:
        return normalised(result)
    if "harmony" in out:
        h = out["harmony"]
        result.key, result.chords = h.key, h.chords
        # the notes re-rank the chords where they sound together, and the key reads those chords
        if out.get("notes") is not None and h.feats is not None:
            result.chords = harmony.decode_chords(h.feats, audio.duration_s, notes=out["notes"])
        if out.get("notes") is not None and h.key_probs:  # the notes' key profile refines the key
            result.key = harmony.estimate_key(np.array(h.key_probs), result.chords, notes=out["notes"].events)
    if "rhythm" in out:
        r = out["rhythm"]
        if result.chords:  # chords change on downbeats: they weigh 3 against 4 beats to the bar
            r = rhythm.meter_from_chords(r, [c.start for c in result.chords[1:]])
        if out.get("notes") is not None:  # the notes tell a compound bar (6/8, 9/8) from a simple one
            ev = out["notes"].events
            r = rhythm.compound_meter(r, [n.start for n in ev], [n.velocity for n in ev])
        result.tempo, result.beats, result.downbeats, result.meter = r.tempo, r.beats, r.downbeats, r.meter
    result.notes = out.get("notes")
    return normalised(result)


def _sounds_only(t: Tags | None) -> Tags | None:
    """Non-music keeps what was heard (speech, a bird, a fan), never a musical tag."""
    if t is None:
        return None
    tl = t.timeline
    if tl is not None:
        keep = [k for k in tl.fused if k.startswith("sound:")]
        tl = TagTimeline(
            tl.hop_s,
            {k: tl.fused[k] for k in keep},
            {m: {k: v[k] for k in keep if k in v} for m, v in tl.models.items()},
        )
    return Tags(sound=t.sound, audioset=t.audioset, timeline=tl)
