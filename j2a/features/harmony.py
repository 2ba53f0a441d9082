"""Harmony: global key (madmom's CNN key model, refined by the chord timeline) and a chord timeline.

Models: Korzeniowski & Widmer's CNN key classifier (ISMIR 2018) and their CNN chord features + CRF
(MLSP 2016), both shipped with madmom. Labels are mir_eval / Harte syntax ("A:min", "C:maj", "N").

Why one shared front end: both models read a 44.1 kHz, 8192-sample STFT (chords at 10 fps, key at
5 fps = every other chord frame), so J2A computes the STFT once and applies the two filterbanks.

Memory: audio is read with `Audio.chunks(44100, CHUNK_S, OVERLAP_S)` (60 s blocks, 4 s overlap), so
the samples, STFT and network activations held at any moment cover one block (samples 11 MB, complex
STFT 21 MB, largest chord-CNN activation ~10 MB: under 100 MB in all, whatever the file's length).
What grows with the file is only the 128-d chord feature per 0.1 s frame (51 KB per second of audio,
~185 MB for 60 min) and the CRF's back-pointers (36,000 frames x 25 states, ~7 MB for 60 min).
The key network's pooled logits are averaged over blocks (weighted by frames), which is what the
network's own global average pooling does over a whole file, up to edge effects at block borders.

Key refinement (why): on chorales and other cadential music the CNN key model often names the
dominant (Bach modulates there). The chord timeline knows more: how long each chord is heard and
which chord closes the piece (the final cadence lands on the tonic). `chord_key_scores` turns the
timeline into a score for each of the 24 keys from general music theory (diatonic-function
weights below, a bonus for the key whose tonic is the final chord's root, a smaller one for the
first chord's root); the refined key maximises log p_cnn(key) + CHORD_WEIGHT * chord score.
Nothing here is fitted to particular pieces; the weights are round numbers set a priori.

Truthfulness: when the key posterior is flat (noise, atonal clusters, drums) the label is None and
only the candidates are reported, so nothing downstream claims a key the audio does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.schema import CHORDAL_VOICES, Chord, Key
from ..theory import SHARP_NAMES, triad

SR = 44100
FPS = 10  # chord frame rate; the key model uses every other frame (5 fps)
HOP = SR // FPS
FRAME_SIZE = 8192
CHUNK_S = 60.0
OVERLAP_S = 4.0  # >= 2 x (chord CNN context of 11 frames + half a frame): edge frames are recomputed

# madmom's class order
MADMOM_KEYS = [
    "A major",
    "Bb major",
    "B major",
    "C major",
    "Db major",
    "D major",
    "Eb major",
    "E major",
    "F major",
    "F# major",
    "G major",
    "Ab major",
    "A minor",
    "Bb minor",
    "B minor",
    "C minor",
    "C# minor",
    "D minor",
    "D# minor",
    "E minor",
    "F minor",
    "F# minor",
    "G minor",
    "G# minor",
]


@dataclass
class HarmonyConfig:
    chord_weight: float = 1.0  # weight of the chord-timeline key score against log p_cnn(key)
    refine_key: bool = True  # False = the CNN key model alone (madmom's default answer)
    # No key is claimed when the CNN posterior's normalised entropy (0 = one key, 1 = uniform) is
    # above max_entropy, or the refined top key has less than min_confidence. Set on the shared dev
    # clips and synthetic atonal signals: tonal music there has entropy <= 0.61, random chromatic
    # clusters and noise >= 0.72; drum loops (no pitched harmony) land at ~0.8 and get no key.
    min_confidence: float = 0.2
    max_entropy: float = 0.65
    # The transcribed notes' key profile (`notes_key_scores`, a correlation in -1..1) joins the CNN's log posterior
    # and the chord score with this weight. Why: madmom's key CNN learnt dance music and scores common-practice
    # pieces flatly (it named 83 of 168 tonal rendered pieces right and declined 34); the notes' profile, weighted
    # 8, names 113 (bench/RESULTS.md, "Key from the notes"). A profile this tonal (`notes_gate`, over at least
    # `notes_gate_min` notes) names a key even when the CNN is unsure; drum loops and noise stay under 0.7.
    notes_weight: float = 8.0
    # The same profile read from the bass alone (`bass_key_scores`: the lowest sounding note, by duration) joins with
    # this weight. Why: the notes' pitch classes cannot tell a minor key from its relative major (the same scale);
    # the bass dwells on the tonic and the dominant. Chosen on the rendered search set (key exact 114 -> 124 of
    # 176 tonal pieces, both halves of the scores gaining; weights 6-24 within 2); bench/RESULTS.md, "Key from the bass".
    bass_weight: float = 8.0
    notes_gate: float = 0.8
    notes_gate_min: int = 12
    # The transcribed notes re-rank the chord CRF's frame scores (`notes_chord_scores`: the share of the notes sounding
    # in a frame that are a triad's tones, against the mean triad, times this weight). Why: madmom's chord CNN learnt
    # pop recordings; on rendered chorales its chords were right 62% of the time (majmin WCSR), and basic-pitch hears
    # the notes of such textures well. Weight 6 chosen on 50 chorales (0.617 -> 0.736; 4-8 within 0.02), held out on
    # 50 more (0.612 -> 0.713) and on the 200 renders of the search set, every instrument family gaining (0.554 ->
    # 0.599); bench/RESULTS.md, "Chords from the notes". The notes never make a chord out of what the CNN calls no
    # chord (the "N" state gets the best triad's score), and they count only where notes sound together, as for
    # stating chords at all (`chord_notes_min_voices`, schema.CHORDAL_VOICES): a single line's overlapping notes are
    # no chord.
    chord_notes_weight: float = 6.0
    chord_notes_min_voices: float = CHORDAL_VOICES


@dataclass
class Harmony:
    key: Key
    chords: list[Chord] = field(default_factory=list)
    key_probs: list[float] = field(default_factory=list)  # CNN posterior in MADMOM_KEYS order
    feats: np.ndarray | None = field(default=None, repr=False)  # chord features, to decode again with the notes


# ------------------------------------------------------------------------------------- models
_MODELS: dict = {}


def _models():
    """Load the three madmom networks once per process."""
    if not _MODELS:
        from .madmom_compat import madmom  # the import fix, before any madmom module  # isort: skip
        from madmom.audio.spectrogram import LogarithmicFilteredSpectrogramProcessor
        from madmom.ml.crf import ConditionalRandomField
        from madmom.ml.nn import NeuralNetwork, NeuralNetworkEnsemble
        from madmom.models import CHORDS_CFCRF, CHORDS_CNN_FEAT, KEY_CNN

        _MODELS.update(
            key_nns=[_to_torch(n) for n in NeuralNetworkEnsemble.load(KEY_CNN).processors[0].processors],
            chord_nn=_to_torch(NeuralNetwork.load(CHORDS_CNN_FEAT[0])),
            crf=ConditionalRandomField.load(CHORDS_CFCRF[0]),
            key_spec=LogarithmicFilteredSpectrogramProcessor(num_bands=24, fmin=65, fmax=2100, unique_filters=True),
            chord_spec=LogarithmicFilteredSpectrogramProcessor(num_bands=24, fmin=60, fmax=2600, unique_filters=True),
            madmom=madmom,
        )
    return _MODELS


def _to_torch(net):
    """madmom's CNN layers as a torch Sequential: same weights, ~50x faster than madmom's per-channel
    scipy convolutions. Input (1, 1, frames, bins); output (1, C, frames', bins') or pooled (1, C)."""
    import torch
    from torch import nn

    from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.ml.nn import activations as act
    from madmom.ml.nn import layers as L

    acts = {act.elu: nn.ELU(), act.relu: nn.ReLU(), act.linear: None}
    mods = []
    for layer in net.layers:
        if isinstance(layer, L.PadLayer):
            assert tuple(layer.axes) == (0, 1) and layer.value == 0
            mods.append(nn.ZeroPad2d(layer.width))
        elif isinstance(layer, L.ConvolutionalLayer):
            assert layer.pad == "valid" and layer.stride in (None, 1, (1, 1))
            w = np.asarray(layer.weights, np.float32)  # (in, out, kt, kf); madmom convolves (flipped kernel)
            conv = nn.Conv2d(w.shape[0], w.shape[1], w.shape[2:], bias=True)
            conv.weight.data = torch.from_numpy(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1].copy())
            conv.bias.data = torch.full((w.shape[1],), float(np.asarray(layer.bias).reshape(-1)[0]))
            mods.append(conv)
            if acts[layer.activation_fn] is not None:
                mods.append(acts[layer.activation_fn])
        elif isinstance(layer, L.BatchNormLayer):
            bn = nn.BatchNorm2d(len(layer.mean), eps=0.0)
            inv = np.asarray(layer.inv_std, np.float64)
            bn.running_mean.data = torch.tensor(np.asarray(layer.mean), dtype=torch.float32)
            bn.running_var.data = torch.tensor(1.0 / inv**2, dtype=torch.float32)
            bn.weight.data = torch.tensor(np.asarray(layer.gamma), dtype=torch.float32)
            bn.bias.data = torch.tensor(np.asarray(layer.beta), dtype=torch.float32)
            mods.append(bn)
            if acts[layer.activation_fn] is not None:
                mods.append(acts[layer.activation_fn])
        elif isinstance(layer, L.MaxPoolLayer):
            assert layer.axis is None and tuple(layer.size) == tuple(layer.stride)
            mods.append(nn.MaxPool2d(tuple(layer.size)))
        elif isinstance(layer, L.AverageLayer):
            assert tuple(layer.axis) == (0, 1)
            mods.append(nn.AdaptiveAvgPool2d(1))
            mods.append(nn.Flatten())
        else:
            raise TypeError(f"unsupported madmom layer {type(layer).__name__}")
    return nn.Sequential(*mods).eval()


def _run(net, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]).numpy()[0]


def _block_features(y: np.ndarray):
    """(chord CNN features at 10 fps, key spectrogram at 5 fps) for one block of 44.1 kHz samples."""
    m = _models()  # imports madmom through j2a.features.madmom_compat first
    from madmom.audio.signal import FramedSignal, Signal
    from madmom.audio.stft import ShortTimeFourierTransform

    sig = Signal(np.ascontiguousarray(y, dtype=np.float32), sample_rate=SR, num_channels=1)
    frames = FramedSignal(sig, frame_size=FRAME_SIZE, fps=FPS)
    stft = ShortTimeFourierTransform(frames)
    chord_spec = m["chord_spec"].process(stft)
    key_spec = m["key_spec"].process(stft[::2])
    pad = np.zeros((11, chord_spec.shape[1]), np.float32)
    x = _run(m["chord_nn"], np.vstack([pad, np.asarray(chord_spec), pad]))  # (C, frames, bins)
    # 3-frame superframes averaged over time and frequency (madmom's _cnncfp_superframes + _cnncfp_avg)
    x = x.mean(axis=2).T
    feats = (x[:-2] + x[1:-1] + x[2:]) / 3.0
    return feats.astype(np.float32), np.asarray(key_spec)


def _key_logits(key_spec: np.ndarray) -> np.ndarray:
    """Pooled (pre-softmax) key logits of one block, averaged over the ensemble."""
    return np.mean([_run(n, key_spec).reshape(-1) for n in _models()["key_nns"]], axis=0)


def extract(audio) -> tuple[np.ndarray, np.ndarray]:
    """Chord features (n_frames x 128, 10 fps) and the CNN key posterior (24,) for a whole input.

    Blocks overlap by OVERLAP_S; each 0.1 s frame is taken from the block where it lies furthest
    from a border, so block edges do not leak zero padding into the features.
    """
    margin = int(round(OVERLAP_S / 2 * FPS))
    feats, logits, weights = [], [], []
    n_total = 0  # frames held in feats
    for start_s, y in audio.chunks(SR, CHUNK_S, OVERLAP_S):
        if len(y) == 0:
            continue
        first = int(round(start_s * FPS))  # global index of this block's first frame
        f, kspec = _block_features(y)
        lo = 0 if first == 0 else margin
        cut = first + lo  # frames from here on come from this block (the previous one's tail is dropped)
        if feats and n_total > cut:
            feats[-1] = feats[-1][: len(feats[-1]) - (n_total - cut)]
            n_total = cut
        feats.append(f[lo:])
        n_total += len(f) - lo
        if len(kspec) >= 4:
            logits.append(_key_logits(kspec))
            weights.append(len(kspec))
    if not feats:
        raise ValueError(f"{audio.name}: no audio frames for harmony analysis")
    feats = np.vstack(feats)
    lg = np.average(np.stack(logits), axis=0, weights=np.asarray(weights, float))
    p = np.exp(lg - lg.max())
    return feats, p / p.sum()


def decode_chords(
    feats: np.ndarray, duration_s: float | None = None, notes=None, cfg: HarmonyConfig | None = None
) -> list[Chord]:
    """CRF decoding of the chord features into merged {start, end, label} segments; given `notes` (a Notes of the
    same input) that sound together, their triads join the frame scores (see HarmonyConfig.chord_notes_weight)."""
    cfg = cfg or HarmonyConfig()
    crf = _models()["crf"]
    obs = feats @ crf.W
    if notes is not None and (notes.voices or 0.0) >= cfg.chord_notes_min_voices:
        obs = obs + cfg.chord_notes_weight * notes_chord_scores(notes.events, len(feats))
    chords: list[Chord] = []
    for i, c in enumerate(_viterbi(crf, obs)):
        label = "N" if c == 24 else _state_label(c)
        t0, t1 = i / FPS, (i + 1) / FPS
        if chords and chords[-1].label == label:
            chords[-1].end = t1
        else:
            chords.append(Chord(start=t0, end=t1, label=label))
    if chords and duration_s is not None:
        chords[-1].end = max(chords[-1].start, min(chords[-1].end, duration_s))
    return [Chord(round(c.start, 3), round(c.end, 3), c.label) for c in chords]


def _viterbi(crf, obs: np.ndarray) -> np.ndarray:
    """madmom's ConditionalRandomField.process with the frame scores (observations @ W) given, so that other
    evidence can join them; the same path when nothing joins (tests/features/test_harmony.py)."""
    n = len(obs)
    back = np.empty((n, len(crf.pi)), dtype=np.int64)
    v = crf.pi.copy()
    for i in range(n):
        trans = crf.A + v[:, None]
        back[i] = trans.argmax(0)
        v = crf.c + obs[i] + trans.max(0)
    v = v + crf.tau
    path = np.empty(n, dtype=np.int64)
    if n:
        path[-1] = v.argmax()
        for i in range(n - 2, -1, -1):
            path[i] = back[i + 1, path[i + 1]]
    return path


def notes_chord_scores(events, n_frames: int) -> np.ndarray:
    """Per chord frame (n_frames x 25, the CRF's states), the share of the sounding notes' pitch classes that are each
    triad's tones, less the mean over the triads; "N" gets the best triad's score, so the notes re-rank chords but
    never turn "no chord" into one. Zero where fewer than two pitch classes sound (one note fits many triads)."""
    chroma = np.zeros((n_frames, 12))
    for e in events or []:
        a, b = max(int(e.start * FPS), 0), min(int(np.ceil(e.end * FPS)), n_frames)
        if b > a:
            chroma[a:b, e.pitch % 12] += 1
    share = chroma / np.maximum(chroma.sum(1, keepdims=True), 1) @ _TRIADS.T
    out = np.zeros((n_frames, 25))
    out[:, :24] = share - share.mean(1, keepdims=True)
    out[:, 24] = out[:, :24].max(1)
    out[(chroma > 0).sum(1) < 2] = 0
    return out


# ------------------------------------------------------------------------------- key from chords
def key_index(tonic_pc: int, minor: bool) -> int:
    """Index into MADMOM_KEYS for a tonic pitch class (C=0) and mode."""
    return (tonic_pc - 9) % 12 + (12 if minor else 0)


def key_of_index(i: int) -> tuple[int, bool]:
    return (i % 12 + 9) % 12, i >= 12


# The chord CRF's 24 triad states are in the key order (state i: the triad of key i's tonic and mode; 24 is "N").
def _state_label(i: int) -> str:
    root, minor = key_of_index(i)
    return f"{SHARP_NAMES[root]}:{'min' if minor else 'maj'}"


_TRIADS = np.array(
    [
        [(pc - root) % 12 in ((0, 3, 7) if minor else (0, 4, 7)) for pc in range(12)]
        for root, minor in map(key_of_index, range(24))
    ],
    float,
)


# Diatonic-function weights: how typical a chord (interval of its root above the tonic, quality)
# is in a major / minor key. From common-practice harmony (tonic > dominant, subdominant > other
# diatonic triads > frequent secondary dominants); anything else scores 0.
_MAJOR_FN = {
    (0, "maj"): 1.0,
    (7, "maj"): 0.8,
    (5, "maj"): 0.7,
    (9, "min"): 0.5,
    (2, "min"): 0.5,
    (4, "min"): 0.3,
    (2, "maj"): 0.3,
    (4, "maj"): 0.2,
    (9, "maj"): 0.2,
}
_MINOR_FN = {
    (0, "min"): 1.0,
    (7, "maj"): 0.8,
    (5, "min"): 0.7,
    (3, "maj"): 0.5,
    (8, "maj"): 0.5,
    (10, "maj"): 0.4,
    (7, "min"): 0.3,
    (5, "maj"): 0.2,
    (0, "maj"): 0.3,
    (2, "maj"): 0.2,
}
FINAL_BONUS = 1.0  # the closing chord's root is the tonic (holds for cadential music; Picardy thirds too)
FIRST_BONUS = 0.3


def chord_key_scores(chords: list[Chord] | list[dict]) -> np.ndarray:
    """A 0..~2 score per key (MADMOM_KEYS order) from the chord timeline; zeros when no chords."""
    segs = []
    for c in chords:
        lab, s, e = (c["label"], c["start"], c["end"]) if isinstance(c, dict) else (c.label, c.start, c.end)
        pc = triad(lab)
        if pc is not None and e > s:
            segs.append((pc, e - s))
    scores = np.zeros(24)
    if not segs:
        return scores
    total = sum(d for _, d in segs)
    for i in range(24):
        tonic, minor = key_of_index(i)
        fn = _MINOR_FN if minor else _MAJOR_FN
        scores[i] = sum(d * fn.get(((r - tonic) % 12, q), 0.0) for (r, q), d in segs) / total
        # cadences: the last (and, less strictly, the first) chord is rooted on the tonic
        if segs[-1][0][0] == tonic:
            scores[i] += FINAL_BONUS
        if segs[0][0][0] == tonic:
            scores[i] += FIRST_BONUS
    return scores


def _final_chords(chords: list[Chord], min_dur: float = 0.3) -> list[Chord]:
    """Drop a trailing blip (reverb tail, CRF jitter) so 'the final chord' is a held chord."""
    out = [c for c in chords if c.label != "N"]
    while len(out) > 1 and out[-1].end - out[-1].start < min_dur:
        out.pop()
    return out


# Albrecht & Shanahan (2013) major and minor key profiles: pitch-class durations of a corpus of common-practice
# pieces, tonic first. Of the published profiles it named the most rendered pieces' keys from basic-pitch notes
# (113 of 168; Temperley-Kostka-Payne 102, Krumhansl-Kessler 73).
_PROFILE_MAJOR = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
_PROFILE_MINOR = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])


def notes_key_scores(events) -> np.ndarray:
    """Per key (MADMOM_KEYS order), the correlation of the notes' duration-weighted pitch classes with the key's
    profile; zeros under three pitch classes (a drone or a tuned drum is no scale, and would vote for its own
    pitch as a tonic)."""
    hist = np.zeros(12)
    for e in events or []:
        hist[e.pitch % 12] += max(e.end - e.start, 0.0)
    return _profile_scores(hist)


def bass_pitch_classes(events) -> np.ndarray:
    """Seconds each pitch class is the lowest sounding note (a sweep over the notes' starts and ends)."""
    hist = np.zeros(12)
    edges = sorted((t, i, e.pitch) for e in events or [] if e.end > e.start for t, i in ((e.start, 1), (e.end, -1)))
    sounding: dict[int, int] = {}
    for (t, step, pitch), nxt in zip(edges, edges[1:] + [None]):
        sounding[pitch] = sounding.get(pitch, 0) + step
        if not sounding[pitch]:
            del sounding[pitch]
        if nxt is not None and sounding and nxt[0] > t:
            hist[min(sounding) % 12] += nxt[0] - t
    return hist


def bass_key_scores(events) -> np.ndarray:
    """`notes_key_scores` read from the bass line alone (see HarmonyConfig.bass_weight for why)."""
    return _profile_scores(bass_pitch_classes(events))


def _profile_scores(hist: np.ndarray) -> np.ndarray:
    out = np.zeros(24)
    if (hist > 0).sum() < 3:
        return out
    for i in range(24):
        tonic, minor = key_of_index(i)
        out[i] = np.corrcoef(hist, np.roll(_PROFILE_MINOR if minor else _PROFILE_MAJOR, tonic))[0, 1]
    return out


def estimate_key(probs: np.ndarray, chords: list[Chord], cfg: HarmonyConfig | None = None, notes=None) -> Key:
    """Combine the CNN key posterior with the chord-timeline key score and, given `notes` (note events), their
    key profile; None label for no clear key."""
    cfg = cfg or HarmonyConfig()
    probs = np.asarray(probs, float)
    entropy = float(-(probs * np.log(probs + 1e-12)).sum() / np.log(24))
    logp = np.log(probs + 1e-9)
    if cfg.refine_key and chords:
        logp = logp + cfg.chord_weight * chord_key_scores(_final_chords(chords))
    tonal = False
    if cfg.refine_key and notes:
        profile = notes_key_scores(notes)
        logp = logp + cfg.notes_weight * profile + cfg.bass_weight * bass_key_scores(notes)
        tonal = len(notes) >= cfg.notes_gate_min and profile.max() >= cfg.notes_gate
    post = np.exp(logp - logp.max())
    post /= post.sum()
    order = np.argsort(-post)
    cands = [{"label": MADMOM_KEYS[i], "score": round(float(post[i]), 4)} for i in order[:5]]
    best = int(order[0])
    conf = float(post[best])
    if not tonal and (entropy > cfg.max_entropy or conf < cfg.min_confidence):
        return Key(label=None, confidence=round(conf, 4), candidates=cands)
    tonic, mode = MADMOM_KEYS[best].split()
    return Key(label=MADMOM_KEYS[best], confidence=round(conf, 4), tonic=tonic, mode=mode, candidates=cands)


def analyze_harmony(audio, beats: list[float] | None = None, config: HarmonyConfig | None = None) -> Harmony:
    """Key and chord timeline of one input (a j2a.audio.Audio).

    `beats` is accepted for the analysis pipeline's signature; the CRF already yields stable
    segments, so chords are not snapped to beats (snapping would move true chord changes that
    fall between beats).
    """
    feats, probs = extract(audio)
    chords = decode_chords(feats, audio.duration_s, cfg=config)
    key = estimate_key(probs, chords, config)
    return Harmony(key=key, chords=chords, key_probs=[round(float(p), 5) for p in probs], feats=feats)
