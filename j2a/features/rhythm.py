"""Rhythm: beats, downbeats, meter (3/4, 4/4, 6/8, 9/8) and tempo, from madmom's downbeat RNN + DBNs.

Pipeline (one RNN ensemble for everything):
  1. madmom's joint beat/downbeat BLSTM ensemble (`RNNDownBeatProcessor`'s 8 networks, Böck et al.
     2016) gives per-frame (100 fps) probabilities of "beat" and "downbeat". We run the *same* weights
     through a vectorised re-implementation (`_features`, `_Ensemble`): madmom's own code loops over
     frames in Python (per frame for the STFT, per frame x network x direction for the LSTMs);
     batching all 16 LSTM directions and several audio blocks per time step, the whole of rhythm
     costs 4-8x less CPU than madmom's raw downbeat processors (bench/rhythm_speed.py: 5.3 vs 43.6
     CPU s for 3 min). Tests check the port reproduces madmom's features and activations.
  2. madmom's `DBNBeatTrackingProcessor` (a tempo/phase HMM) decodes beats from p(beat)+p(downbeat).
     It is ~3x cheaper than madmom's joint downbeat DBN for [3, 4] beats per bar (5,617 states
     instead of 11,157 + 14,876), which is why meter and downbeats are decoded at beat level (3.).
  3. A small beat-level HMM over bar positions, for 3 and for 4 beats per bar, reads at each beat
     q = p(downbeat) / p(any beat). Its emission is a *scaled likelihood* log(q/pi) for a downbeat
     and log((1-q)/(1-pi)) otherwise, pi being the track's mean q, so an uninformative activation
     scores 0 for both meters and neither meter is favoured a priori. (madmom's joint DBN scores
     downbeat frames with log p(downbeat) and other beats with log p(beat): when downbeats are weakly
     marked, the meter with fewer downbeats per beat wins by default, which is our reading of why its
     defaults call sweet_waltz.ogg 4.) The meter is the one whose best path scores higher; its
     confidence is a logistic of the score difference (tempered: neighbouring beats are correlated);
     the best path gives the downbeats (phase jumps allowed, for pick-up bars and tracking slips).
     A bar of three beats is then read as 6/8 or 9/8 where the notes' onsets group it so (`compound_meter`,
     called by the analysis pipeline once the notes are known).
  4. Tempo: 60 / mean of the beat intervals within 8% of the median; the half/double candidates are
     weighted by madmom's comb-filter tempo histogram of the beat activation; confidence = share of
     steady intervals x the histogram's support for that tempo family. When the beat tracker's tempo
     is not a strong histogram peak (sparse solo material), beats are re-tracked around the
     histogram's tempo and that tempo is reported (`_check_against_histogram`).

Memory bound (why it is chunked): activations are computed on `chunk_s`-second blocks from
`Audio.chunks()` (batches of `batch_chunks` blocks; the overlap is trimmed so blocks join without
seams), and the beat DBN runs on `segment_s`-second segments whose beats are stitched at a beat
both segments agree on. madmom's Viterbi keeps a uint32 back-pointer per frame and state (5,617
states), i.e. 2.2 MB per second of audio: 8 GB for an hour in one piece. With the defaults rhythm
needs about 150 MB of working memory whatever the file's length: the larger of one LSTM batch (10
blocks of 24 s: outputs 2400 x 16 x 10 x 25 float32 = 38 MB, layer outputs 2 x 38 MB, input
projections made 256 steps at a time, 16 MB) and one 60 s DBN segment (135 MB), plus 8 bytes per
frame of activations (2.9 MB for 60 min). Measured on a streamed 20-min file: process peak RSS
664 MB with all models loaded (252 MB after imports, 351 MB after decoding/validation), i.e.
~310 MB for rhythm including allocator slack. Files shorter than a
block/segment go in one piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..analysis.schema import Meter, Tempo, TempoCandidate

SR = 44100
FPS = 100
HOP = SR // FPS  # 441 samples: chunk starts must be multiples of this for frames to line up


@dataclass
class RhythmConfig:
    chunk_s: float = 24.0  # RNN block length; BLSTM context beyond a block is lost, hence the overlap
    overlap_s: float = 4.0  # half of it (2 s) is context on each side, trimmed away
    batch_chunks: int = 10  # at most this many blocks go through the LSTMs together (speed vs. memory)
    segment_s: float = 60.0  # beat-DBN segment (memory: 2.2 MB per second, see module doc)
    segment_overlap_s: float = 12.0
    min_bpm: float = 55.0  # madmom's DBN defaults
    max_bpm: float = 215.0
    phase_jump_prob: float = 1e-3  # per beat, in the bar HMM (pick-up bars, tracking slips)
    meter_temperature: float = 4.0  # score difference (nats) per unit of logit: beats are correlated
    min_beats_for_meter: int = 12  # three bars of 4/4; fewer beats cannot support a meter
    # Tempo octave (`_prefer_moderate_octave`): the tempo level (x1/2, x1, x2 of the beat tracker's) whose
    # histogram support times a log-normal preference for moderate tempi (centre `octave_prior_bpm`, sd
    # `octave_prior_sd` octaves: listeners' preferred tempo, Moelants 2002) is best, on inputs of at least
    # `octave_min_s` (a few seconds give no histogram to speak of). Why: the DBN settles on the slower level
    # when two levels are about equally supported; on 198 rendered pieces it reported half the score's beat 39
    # times, and the prior put 164 of 198 at the score's tempo instead of 137 (bench/RESULTS.md, "Tempo octave").
    octave_prior_bpm: float = 120.0
    octave_prior_sd: float = 1.0
    octave_min_s: float = 15.0
    # Compound meter (`compound_meter`): a bar of three beats is 6/8 when its notes' onsets repeat every half
    # bar this many times more strongly than every third, and 9/8 when they repeat every ninth of a bar this
    # many times more strongly than every sixth; read over at least `compound_min_bars` bars and
    # `compound_min_onsets` notes. Why 3: on 200 rendered scores (bench/RESULTS.md, "Compound meter") the
    # ratios of the pieces notated 6/8 or 9/8 were 5.3-12.9 and 7.5-10.1, of those in 3/4 at most 1.9 and 2.0.
    compound_ratio: float = 3.0
    compound_min_bars: int = 8
    compound_min_onsets: int = 32
    # Harmonic rhythm (`meter_from_chords`): chords change on downbeats, so the share of chord changes that fall on
    # one beat in three or one in four (the best phase, over chance) joins the downbeat network's log-odds of 4 over 3
    # beats with this weight, over at least `chord_meter_min_beats` beats and `chord_meter_min_changes` changes on a
    # beat. Why: the network told 3/4 from 4/4 on 152 of 176 rendered pieces; with the chords re-ranked by the notes,
    # 162 (both halves of the scores gaining), and the meters confident enough to state (>= 0.9) stayed 97% right
    # (bench/RESULTS.md, "Meter from the chords").
    chord_meter_weight: float = 8.0
    chord_meter_min_beats: int = 16
    chord_meter_min_changes: int = 4
    # ...reached at this many changes on a beat; fewer weigh in proportion. Why: the share of a few changes is a
    # noisy estimate, and at full weight it overturned the network wrongly on 8-bar excerpts (held out: 41 right of
    # 57 without chords, 36 with, 39 scaled; the 40-bar search set and held-out chorales and scores unchanged or +1;
    # bench/RESULTS.md, "Meter: the chords' weight grows with their number").
    chord_meter_full_changes: int = 48


@dataclass
class Rhythm:
    tempo: Tempo
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    meter: Meter | None = None


# -- 1. activations --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _filterbanks() -> list[tuple[int, np.ndarray, np.ndarray, int]]:
    """(frame_size, hann window, log filterbank, diff_frames) exactly as RNNDownBeatProcessor builds them."""
    from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.audio.filters import LogarithmicFilterbank
    from madmom.audio.spectrogram import _diff_frames
    from madmom.audio.stft import fft_frequencies

    out = []
    for frame_size, bands in ((1024, 3), (2048, 6), (4096, 12)):
        fb = LogarithmicFilterbank(
            fft_frequencies(frame_size // 2, SR),
            num_bands=bands,
            fmin=30,
            fmax=17000,
            norm_filters=True,
            unique_filters=True,
        )
        window = np.hanning(frame_size).astype(np.float32)
        out.append(
            (frame_size, window, np.asarray(fb, dtype=np.float32), _diff_frames(0.5, HOP, frame_size, np.hanning))
        )
    return out


def _features(y: np.ndarray) -> np.ndarray:
    """madmom's multi-resolution log-filtered spectrogram + positive difference, shape (frames, 314).

    Frame i is centred on sample i*441 (zero padded at the edges), ceil(len/441) frames, as madmom's
    FramedSignal; the STFT is one batched rfft instead of a Python loop over frames.
    """
    import scipy.fft  # single-precision FFT: 3x faster than numpy's float64 one

    y = np.asarray(y, dtype=np.float32)
    n_frames = int(np.ceil(len(y) / HOP))
    parts = []
    for frame_size, window, fb, diff_frames in _filterbanks():
        half = frame_size // 2
        padded = np.concatenate([np.zeros(half, np.float32), y, np.zeros(frame_size, np.float32)])
        frames = np.lib.stride_tricks.as_strided(
            padded, shape=(n_frames, frame_size), strides=(padded.strides[0] * HOP, padded.strides[0])
        )
        spec = np.abs(scipy.fft.rfft(frames * window, axis=1)[:, :half])
        spec = np.log10(spec @ fb + 1.0)
        diff = np.zeros_like(spec)
        diff[diff_frames:] = np.maximum(spec[diff_frames:] - spec[:-diff_frames], 0)
        parts += [spec, diff]
    return np.hstack(parts)


class _Ensemble:
    """madmom's 8 downbeat BLSTMs (3 bidirectional layers of 25 LSTM cells with peepholes, softmax out),
    evaluated for many (sequence, network, direction) triples per time step."""

    def __init__(self):
        from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
        from madmom.ml.nn import NeuralNetworkEnsemble
        from madmom.models import DOWNBEATS_BLSTM

        nets = [
            p[0] if isinstance(p, (list, tuple)) else p
            for p in NeuralNetworkEnsemble.load(DOWNBEATS_BLSTM).processors[0]
        ]
        self.n = len(nets)
        self.layers = []  # per layer: W (net, in, dir*4H), b (net, dir*4H), R (net, dir, H, 4H), peep (net, dir, 3, H)
        for li in range(3):
            W, b, R, P = [], [], [], []
            for net in nets:
                bl = net.layers[li]
                ws, bs, rs, ps = [], [], [], []
                for lstm in (bl.fwd_layer, bl.bwd_layer):
                    gates = (lstm.input_gate, lstm.forget_gate, lstm.cell, lstm.output_gate)
                    ws.append(np.hstack([g.weights for g in gates]))
                    bs.append(np.hstack([g.bias for g in gates]))
                    rs.append(np.hstack([g.recurrent_weights for g in gates]))
                    ps.append(
                        np.stack(
                            [
                                lstm.input_gate.peephole_weights,
                                lstm.forget_gate.peephole_weights,
                                lstm.output_gate.peephole_weights,
                            ]
                        )
                    )
                    assert not np.any(lstm.init) and not np.any(lstm.cell_init)
                W.append(np.hstack(ws)), b.append(np.hstack(bs)), R.append(np.stack(rs)), P.append(np.stack(ps))
            self.layers.append(tuple(np.asarray(np.stack(x), np.float32) for x in (W, b, R, P)))
        self.H = self.layers[0][2].shape[-2]
        self.out_w = np.stack([net.layers[3].weights for net in nets]).astype(np.float32)
        self.out_b = np.stack([net.layers[3].bias for net in nets]).astype(np.float32)

    def __call__(self, feats: list[np.ndarray]) -> list[np.ndarray]:
        """Per sequence (frames, 314) -> (frames, 2) [p(beat), p(downbeat)], averaged over the ensemble.

        torch only for its fast small-tensor kernels (numpy's float32 sigmoid and strided tanh are
        5-10x slower at these sizes); one thread, since intra-op threading only loses here."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                x = [torch.from_numpy(np.ascontiguousarray(f, np.float32)).expand(self.n, *f.shape) for f in feats]
                for layer in self.layers:
                    x = self._bilstm(torch, x, [len(f) for f in feats], *(torch.from_numpy(a) for a in layer))
                out_w, out_b = torch.from_numpy(self.out_w), torch.from_numpy(self.out_b)
                return [torch.baddbmm(out_b[:, None], xi, out_w).softmax(-1).mean(0)[:, 1:].numpy() for xi in x]
        finally:
            torch.set_num_threads(threads)

    def _bilstm(self, torch, x, lens, W, b, R, P, block: int = 256):
        """One bidirectional layer for every (sequence, net, direction) at once.

        Sequences are left-aligned in processing order (the backward direction reads its input
        reversed) so that each time step is one batched matmul over (net*dir, sequence). Input
        projections are made `block` steps at a time to keep memory small (~13 MB for 10 sequences).
        """
        H, n, T, S = self.H, self.n, max(lens), len(x)
        Wd = (W[..., : 4 * H].contiguous(), W[..., 4 * H :].contiguous())
        bd = (b[:, None, : 4 * H], b[:, None, 4 * H :])
        R = R.reshape(n * 2, H, 4 * H)
        p_if = P[:, :, :2].reshape(n * 2, 1, 2, H)  # peepholes of input and forget gates
        p_o = P[:, :, 2].reshape(n * 2, 1, H)
        h = torch.zeros((n * 2, S, H))
        c = torch.zeros((n * 2, S, H))
        out = torch.empty((T, n * 2, S, H))
        proj = torch.empty((block, n, 2, S, 4 * H))
        for t in range(T):
            k = t % block
            if k == 0:  # input projections of the next `block` steps, zero past a sequence's end
                proj.zero_()
                for s, (xs, L) in enumerate(zip(x, lens)):
                    e = min(t + block, L)
                    if e > t:
                        proj[: e - t, :, 0, s] = torch.baddbmm(bd[0], xs[:, t:e], Wd[0]).transpose(0, 1)
                        proj[: e - t, :, 1, s] = (
                            torch.baddbmm(bd[1], xs[:, L - e : L - t], Wd[1]).flip(1).transpose(0, 1)
                        )
            g = torch.baddbmm(proj[k].view(n * 2, S, 4 * H), h, R)  # gates i, f, cell, o
            i_f = torch.addcmul(g.view(n * 2, S, 4, H)[:, :, :2], c[:, :, None], p_if).sigmoid_()
            c = torch.addcmul(c * i_f[:, :, 1], g[..., 2 * H : 3 * H].tanh(), i_f[:, :, 0])
            h = torch.addcmul(g[..., 3 * H :], c, p_o).sigmoid_().mul_(c.tanh())
            out[t] = h
        out = out.view(T, n, 2, S, H)
        return [
            torch.cat([out[:L, :, 0, s], out[:L, :, 1, s].flip(0)], -1).transpose(0, 1).contiguous()
            for s, L in enumerate(lens)
        ]  # (net, T, 2H) per sequence


@lru_cache(maxsize=1)
def _ensemble() -> _Ensemble:
    return _Ensemble()


def activations(audio, config: RhythmConfig | None = None) -> np.ndarray:
    """(frames, 2) beat / downbeat probabilities at 100 fps, computed block-wise with trimmed overlaps."""
    cfg = config or RhythmConfig()
    chunk_f, ov_f = int(round(cfg.chunk_s * FPS)), int(round(cfg.overlap_s * FPS))
    if not 0 <= ov_f < chunk_f or ov_f % 2:
        raise ValueError(f"rhythm: need 0 <= overlap_s < chunk_s and overlap of an even number of frames, got {cfg}")
    step_f, half = chunk_f - ov_f, ov_f // 2
    # spread the blocks evenly over batches (9 blocks -> one batch of 9, not 8 + a lonely 1)
    n_blocks = max(1, int(np.ceil((audio.duration_s * FPS - ov_f) / step_f)))
    n_batches = int(np.ceil(n_blocks / cfg.batch_chunks))
    batch = int(np.ceil(n_blocks / n_batches))
    net = _ensemble()
    pieces: list[np.ndarray] = []
    pending: list[tuple[int, np.ndarray]] = []  # (chunk index, features) waiting for a batch

    def flush(last_index: int | None):
        acts = net([f for _, f in pending])
        for (k, _), a in zip(pending, acts):
            lo = half if k > 0 else 0
            hi = len(a) if k == last_index else step_f + half
            pieces.append(a[lo:hi])
        pending.clear()

    prev = None  # one-block look-ahead tells us which block is the last
    for k, (_, block) in enumerate(audio.chunks(SR, chunk_f / FPS, ov_f / FPS)):
        if prev is not None:
            pending.append(prev)
            if len(pending) >= batch:
                flush(None)
        prev = (k, _features(block))
    if prev is not None:
        pending.append(prev)
        flush(prev[0])
    return np.concatenate(pieces) if pieces else np.zeros((0, 2), np.float32)


# -- 2. beats (segmented DBN) -----------------------------------------------------------------------
@lru_cache(maxsize=4)
def _beat_dbn(min_bpm: float, max_bpm: float):
    from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.features.beats import DBNBeatTrackingProcessor

    return DBNBeatTrackingProcessor(min_bpm=min_bpm, max_bpm=max_bpm, fps=FPS)


def track_beats(act: np.ndarray, cfg: RhythmConfig) -> np.ndarray:
    """Beat times (s) from the beat activation, with the DBN run on bounded, overlapping segments."""
    dbn = _beat_dbn(cfg.min_bpm, cfg.max_bpm)
    p = act.sum(1).astype(np.float32)
    seg, ov = int(cfg.segment_s * FPS), int(cfg.segment_overlap_s * FPS)
    if len(p) <= seg + ov:
        return np.asarray(dbn(p), float)
    beats = np.zeros(0)
    for start in range(0, len(p) - ov, seg - ov):
        b = np.asarray(dbn(p[start : start + seg]), float) + start / FPS
        if start == 0:
            beats = b
            continue
        lo, hi = start / FPS, (start + ov) / FPS  # overlap with the previous segment
        old = beats[(beats >= lo) & (beats < hi)]
        new = b[(b >= lo) & (b < hi)]
        seam = None
        if len(old) and len(new):  # switch at an agreed beat closest to the overlap's middle
            d = np.abs(old[:, None] - new[None, :])
            agree = np.argwhere(d < 0.05)
            if len(agree):
                mid = (lo + hi) / 2
                i, j = agree[np.argmin(np.abs(old[agree[:, 0]] - mid))]
                seam = (old[i], new[j])
        if seam is None:  # no agreement: cut in the middle, avoid a doubled beat
            mid = (lo + hi) / 2
            keep_old, keep_new = beats[beats < mid], b[b >= mid]
            if len(keep_old) > 1 and len(keep_new) and keep_new[0] - keep_old[-1] < 0.5 * np.median(np.diff(keep_old)):
                keep_new = keep_new[1:]
            beats = np.concatenate([keep_old, keep_new])
        else:
            beats = np.concatenate([beats[beats < seam[0]], b[b >= seam[1]]])
    return beats


# -- 3. meter and downbeats ------------------------------------------------------------------------
def _beat_sync(act: np.ndarray, beats: np.ndarray, radius: int = 3) -> np.ndarray:
    """Per beat: p(downbeat) / p(any beat), taken at the activation peak within +-radius frames."""
    idx = np.clip(np.round(beats * FPS).astype(int), 0, len(act) - 1)
    win = idx[:, None] + np.arange(-radius, radius + 1)[None]
    win = np.clip(win, 0, len(act) - 1)
    tot = act[win].sum(-1)  # (beats, window)
    best = win[np.arange(len(idx)), np.argmax(tot, axis=1)]
    return act[best, 1] / np.maximum(act[best].sum(-1), 1e-6)


def _bar_viterbi(q: np.ndarray, m: int, pi: float, jump: float) -> tuple[float, np.ndarray]:
    """Best bar-position path (0 = downbeat) for m beats per bar; returns (log score, positions)."""
    q = np.clip(q, 1e-3, 1 - 1e-3)
    emit = np.empty((len(q), m))
    emit[:] = np.log((1 - q) / (1 - pi))[:, None]
    emit[:, 0] = np.log(q / pi)
    trans = np.full((m, m), np.log(jump / max(1, m - 1)) if m > 1 else 0.0)
    for p in range(m):
        trans[p, (p + 1) % m] = np.log1p(-jump)
    score = emit[0] - np.log(m)
    back = np.zeros((len(q), m), int)
    for t in range(1, len(q)):
        cand = score[:, None] + trans  # from, to
        back[t] = np.argmax(cand, axis=0)
        score = cand[back[t], np.arange(m)] + emit[t]
    path = np.empty(len(q), int)
    path[-1] = int(np.argmax(score))
    for t in range(len(q) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return float(score.max()), path


def meter_and_downbeats(act: np.ndarray, beats: np.ndarray, cfg: RhythmConfig) -> tuple[Meter | None, np.ndarray]:
    if len(beats) < cfg.min_beats_for_meter:
        return Meter(label=None, beats_per_bar=None, confidence=0.0), np.zeros(0)
    q = _beat_sync(act, beats)
    pi = float(np.clip(q.mean(), 0.05, 0.95))
    fits = {m: _bar_viterbi(q, m, pi, cfg.phase_jump_prob) for m in (3, 4)}
    m = max(fits, key=lambda k: fits[k][0])
    other = 3 if m == 4 else 4
    diff = fits[m][0] - fits[other][0]
    conf = float(1.0 / (1.0 + np.exp(-diff / cfg.meter_temperature)))
    downbeats = beats[fits[m][1] == 0]
    return Meter(label=f"{m}/4", beats_per_bar=m, confidence=round(conf, 4)), downbeats


def meter_from_chords(r: Rhythm, change_times, cfg: RhythmConfig | None = None) -> Rhythm:
    """The rhythm with its 3/4-or-4/4 decision weighed again with where the chords change (see
    RhythmConfig.chord_meter_weight); a bar length the chords overturn gets the downbeats of their best phase."""
    cfg = cfg or RhythmConfig()
    m, beats = r.meter, np.asarray(r.beats, float)
    if m is None or m.label not in ("3/4", "4/4") or len(beats) < cfg.chord_meter_min_beats:
        return r  # a compound bar (6/8, 9/8) is the notes' reading of a three-beat bar: not weighed again
    t = np.asarray(change_times, float)
    per = float(np.median(np.diff(beats)))
    i = np.clip(np.searchsorted(beats, t), 1, len(beats) - 1)
    near = np.where(np.abs(beats[i] - t) < np.abs(beats[i - 1] - t), i, i - 1)
    on_beat = near[np.abs(beats[near] - t) < 0.3 * per]  # index of the beat each change falls on
    if len(on_beat) < cfg.chord_meter_min_changes:
        return r
    share = {n: [float(np.mean(on_beat % n == ph)) for ph in range(n)] for n in (3, 4)}
    over_chance = {n: max(max(share[n]) * n, 1e-3) for n in (3, 4)}
    p4 = np.clip(m.confidence if m.beats_per_bar == 4 else 1 - m.confidence, 1e-4, 1 - 1e-4)
    weight = cfg.chord_meter_weight * min(1.0, len(on_beat) / cfg.chord_meter_full_changes)
    lo = np.log(p4 / (1 - p4)) + weight * np.log(over_chance[4] / over_chance[3])
    n = 4 if lo > 0 else 3
    meter = Meter(label=f"{n}/4", beats_per_bar=n, confidence=round(float(1 / (1 + np.exp(-abs(lo)))), 4))
    downbeats = r.downbeats if n == m.beats_per_bar else beats[int(np.argmax(share[n])) :: n].tolist()
    return Rhythm(r.tempo, r.beats, list(downbeats), meter)


def compound_meter(r: Rhythm, onsets, weights=None, cfg: RhythmConfig | None = None) -> Rhythm:
    """The rhythm with a bar of three beats read as compound where its notes say so (`RhythmConfig.compound_*`).

    The downbeat network counts beats; it cannot tell whether a beat divides in two or in three. A 6/8 piece is
    tracked at two eighths a beat, three a bar, and reported as 3/4 at 1.5 times its tempo (confidently: the
    bars are right); a 9/8 one as 3/4 whose beats divide in three. The notes tell them apart: each onset's
    phase in its bar (0 at the downbeat, 1 at the next), and the strength of its k-th harmonic,
    |sum w exp(2 pi i k phase)| / sum w, which is large when onsets recur every 1/k of a bar wherever the
    bar starts. 6/8 groups the bar's six eighths in two halves (harmonic 2 over 3); 9/8 divides each of its
    three beats in three (harmonic 9 over 6). A 6/8 bar keeps its downbeats and gets two beats, the tempo
    becomes the dotted quarter's (x 2/3); a 9/8 bar keeps its beats."""
    cfg = cfg or RhythmConfig()
    m, d = r.meter, np.asarray(r.downbeats, float)
    if m is None or m.beats_per_bar != 3 or len(d) < cfg.compound_min_bars + 1:
        return r
    t = np.asarray(onsets, float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, float)
    inside = (t >= d[0]) & (t < d[-1])
    t, w = t[inside], w[inside]
    if len(t) < cfg.compound_min_onsets or w.sum() <= 0:
        return r
    i = np.searchsorted(d, t, side="right") - 1
    phase = (t - d[i]) / (d[i + 1] - d[i])

    def harmonic(k: int) -> float:
        return float(abs(np.sum(w * np.exp(2j * np.pi * k * phase))) / w.sum())

    floor = 0.02  # below this a harmonic is noise: a ratio of two near-zero strengths says nothing
    if harmonic(2) >= cfg.compound_ratio * max(harmonic(3), floor):
        return _six_eight(r, d)
    if harmonic(9) >= cfg.compound_ratio * max(harmonic(6), floor):
        return Rhythm(r.tempo, r.beats, r.downbeats, Meter(label="9/8", beats_per_bar=3, confidence=m.confidence))
    return r


def _six_eight(r: Rhythm, d: np.ndarray) -> Rhythm:
    """r (three tracked beats a bar, downbeats d) as 6/8: the same bars, two beats each (the downbeat and the
    bar's middle), the tempo x 2/3. Why not re-place the beats where the notes' half-bar pulse peaks: on the four
    rendered 6/8 pieces that moved them off the score's beats (beat F 0.54-0.60 with the tracked downbeats, 0.00-0.55
    re-placed; bench/RESULTS.md, "Compound meter")."""
    bar = np.diff(d)
    half = float(np.median(bar)) / 2
    beats = [d, d[:-1] + bar / 2]
    tracked = np.asarray(r.beats, float)  # the bar halves before the first and after the last downbeat
    beats += [[d[0] - half]] if tracked[0] <= d[0] - 0.9 * half else []
    beats += [[d[-1] + half]] if tracked[-1] >= d[-1] + 0.9 * half else []
    beats = np.sort(np.concatenate(beats))
    tempo = Tempo(
        bpm=round(r.tempo.bpm * 2 / 3, 2) if r.tempo.bpm else None,
        confidence=r.tempo.confidence,
        candidates=[TempoCandidate(bpm=round(c.bpm * 2 / 3, 2), weight=c.weight) for c in r.tempo.candidates],
    )
    return Rhythm(
        tempo=tempo,
        beats=[round(float(b), 3) for b in beats],
        downbeats=r.downbeats,
        meter=Meter(label="6/8", beats_per_bar=2, confidence=r.meter.confidence),
    )


# -- 4. tempo ---------------------------------------------------------------------------------------
def tempo_histogram(act: np.ndarray, block_s: float = 120.0) -> np.ndarray:
    """madmom's comb-filter tempo estimate of the beat activation: rows (bpm, strength), strongest first.

    The histogram is summed over `block_s` blocks (bounded memory), then smoothed and peak-picked by
    madmom (`smooth_histogram`, `detect_tempo`); strengths sum to 1 over the peaks. Only the strongest
    peak's bpm is refined by madmom's quadratic interpolation (the grid is whole frames: 1.8% at 180).
    """
    from .madmom_compat import madmom  # noqa: F401  (the import fix, before any madmom module)  # isort: skip
    from madmom.audio.signal import smooth as smooth_signal
    from madmom.features.tempo import (
        ACT_SMOOTH,
        HIST_SMOOTH,
        CombFilterTempoHistogramProcessor,
        detect_tempo,
        smooth_histogram,
    )

    proc = CombFilterTempoHistogramProcessor(min_bpm=40.0, max_bpm=250.0, fps=FPS)
    p = act.sum(1)
    bins, delays = None, None
    n = int(block_s * FPS)
    for s in range(0, max(1, len(p)), n):
        blk = p[s : s + n]
        if s > 0 and len(blk) < 2 * proc.max_interval:
            break  # a short tail adds nothing but noise
        hb, delays = proc(smooth_signal(blk, int(round(FPS * ACT_SMOOTH))))
        bins = hb if bins is None else bins + hb
    hist = smooth_histogram((bins, delays), HIST_SMOOTH)
    peaks = detect_tempo(hist, FPS)
    if len(peaks) and np.isfinite(peaks[0, 0]):  # refine the dominant tempo off the integer-frame grid
        fine = detect_tempo(hist, FPS, interpolate=True)
        near = fine[np.abs(fine[:, 0] / peaks[0, 0] - 1) < 0.03]
        if len(near):
            peaks[0, 0] = near[np.argmax(near[:, 1]), 0]
    return peaks


def _related(a: float, b: float, tol: float = 0.04) -> bool:
    """a is b, half b or double b, within tol."""
    return any(abs(a / (b * k) - 1) <= tol for k in (0.5, 1.0, 2.0))


def _support(hist: np.ndarray, bpm: float, tol: float = 0.04) -> float:
    """Histogram strength of the peak at bpm (within tol), 0 if there is none."""
    near = [s for t, s in hist if np.isfinite(t) and abs(t / bpm - 1) <= tol]
    return float(max(near, default=0.0))


def beat_tempo(beats: np.ndarray) -> tuple[float | None, float]:
    """(bpm, steadiness) from beat intervals: mean of the intervals within 8% of the median (averaging
    beats the 10 ms frame grid), and the share of such intervals."""
    if len(beats) < 3:
        return None, 0.0
    ibi = np.diff(beats)
    med = float(np.median(ibi))
    ok = np.abs(ibi - med) <= 0.08 * med
    return 60.0 / float(ibi[ok].mean()), float(ok.mean())


def estimate_tempo(beats: np.ndarray, hist: np.ndarray, fallback_bpm: float | None = None) -> Tempo:
    """Tempo from the beats, its half/double alternatives weighted by the tempo histogram.

    confidence = steadiness of the beat intervals x the histogram's support for this tempo family
    (strengths of the peaks at bpm/2, bpm, 2*bpm): high only for a steady pulse that also dominates
    the activation's periodicity. With `fallback_bpm` (the beat tracker disagreed with the histogram,
    see `_check_against_histogram`) the histogram's tempo is reported and the confidence halved.
    """
    bpm, steady = beat_tempo(beats)
    if fallback_bpm is not None:
        bpm, steady = fallback_bpm, steady * 0.5
    if bpm is None:
        return Tempo(bpm=None, confidence=0.0, candidates=[])
    levels = [bpm / 2, bpm, bpm * 2]
    w = np.array([_support(hist, t) for t in levels])
    family = float(w.sum())
    if w[1] <= 0:  # the beat level is not a histogram peak: give it the weight of the best level
        w[1] = max(w.max(), 1e-6)
    w = w / w.sum()
    cands = sorted(
        (TempoCandidate(bpm=round(t, 2), weight=round(float(x), 4)) for t, x in zip(levels, w) if x > 0),
        key=lambda c: -c.weight,
    )
    return Tempo(bpm=round(bpm, 2), confidence=round(min(1.0, steady * family), 4), candidates=cands)


# -- entry point --------------------------------------------------------------------------------------
def analyze_rhythm(audio, config: RhythmConfig | None = None) -> Rhythm:
    """Beats, downbeats, meter and tempo of a j2a.audio.Audio (memory bounded: see module docstring)."""
    cfg = config or RhythmConfig()
    act = activations(audio, cfg)
    beats = track_beats(act, cfg)
    hist = tempo_histogram(act)
    beats, fallback_bpm = _check_against_histogram(act, beats, hist, cfg)
    if fallback_bpm is None:
        beats = _prefer_moderate_octave(act, beats, hist, cfg)
    meter, downbeats = meter_and_downbeats(act, beats, cfg)
    return Rhythm(
        tempo=estimate_tempo(beats, hist, fallback_bpm),
        beats=[round(float(b), 3) for b in beats],
        downbeats=[round(float(b), 3) for b in downbeats],
        meter=meter,
    )


def _prefer_moderate_octave(act, beats, hist, cfg: RhythmConfig) -> np.ndarray:
    """The beats at the tempo level a listener would tap: if x2 or x1/2 of the tracked tempo (inside the DBN's
    range) has more histogram support x the moderate-tempo prior (`RhythmConfig.octave_*`), re-track within
    +-15% of it, so beats, downbeats and the reported tempo stay one level."""
    bpm, _ = beat_tempo(beats)
    if bpm is None or len(act) < cfg.octave_min_s * FPS:
        return beats
    levels = [t for t in (bpm / 2, bpm, bpm * 2) if cfg.min_bpm <= t <= cfg.max_bpm]
    if bpm not in levels:
        return beats
    support = {t: _support(hist, t) for t in levels}
    support[bpm] = support[bpm] or max(max(support.values()), 1e-6)  # no peak at the tracked level: the best's weight

    def prior(t: float) -> float:
        return float(np.exp(-0.5 * (np.log2(t / cfg.octave_prior_bpm) / cfg.octave_prior_sd) ** 2))

    best = max(levels, key=lambda t: support[t] * prior(t))
    return beats if best == bpm else _track_near(act, best, cfg)


def _track_near(act, bpm: float, cfg: RhythmConfig) -> np.ndarray:
    """The beats, tracked again within +-15% of `bpm`."""
    return track_beats(act, RhythmConfig(**{**cfg.__dict__, "min_bpm": bpm / 1.15, "max_bpm": bpm * 1.15}))


def _check_against_histogram(act, beats, hist, cfg: RhythmConfig) -> tuple[np.ndarray, float | None]:
    """Two estimators, one check: if the beat tracker's tempo is not (at x1, x2 or x1/2) a strong peak
    of the tempo histogram (>= half the strongest), the DBN has locked onto a weak, spurious pulse,
    which happens on sparse, short material (a solo phrase). Re-track within +-15% of the histogram's
    dominant tempo (at the level inside the DBN's range) so beats and tempo agree, and report that
    tempo (returned as the second value; None when the beat tracker is trusted)."""
    bpm, _ = beat_tempo(beats)
    if bpm is None or not len(hist) or not np.isfinite(hist[0, 0]):
        return beats, None
    top = hist[0, 1]
    if any(s >= 0.5 * top and _related(bpm, t) for t, s in hist):
        return beats, None
    target = float(hist[0, 0])
    while target > cfg.max_bpm:
        target /= 2
    while target < cfg.min_bpm:
        target *= 2
    return _track_near(act, target, cfg), target
