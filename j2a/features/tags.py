"""Tags: musicnn's 50 MagnaTagATune and 50 Million-Song-Dataset tags, grouped for describing music.

Both pretrained musicnn models (MTT_musicnn, MSD_musicnn; our PyTorch port in `musicnn_net`, reading
the TF1 checkpoints of the `musicnn` package) run over the whole track in musicnn's 3-s patches; the
track score of a tag is the mean of its patch probabilities (musicnn's own way to tag a song). The
raw scores all go to `Tags.scores` as "mtt:<tag>" / "msd:<tag>".

Grouping (`TAG_GROUPS`) maps every raw tag to a group and a canonical word, so that synonyms across
and within the vocabularies ("female", "woman", "female vocal", "female vocalists") become one entry
whose score is the highest of its sources. Groups exported to `Tags`: genre, instrument, mood, vocals.
Two more exist for vocabulary users but are not exported, because they do not describe the sound:
"era" (00s, 80s, oldies: release decade, which the audio only hints at) and "other" (MTT's "beat",
"beats", "solo": production / arrangement words that are neither genre nor instrument).

"mood" here means the track's character as the tag sets can express it: MTT has no emotion words
besides "weird", so its tempo and loudness impressions ("fast", "slow", "loud", "quiet", "soft") sit
in mood with MSD's "happy", "sad", "mellow", "chill" and the like. They are never genres.

Threshold (`TagConfig.threshold`, 0.15): a tag is listed only when its track score reaches it.
musicnn's sigmoid outputs are poorly calibrated and most tags sit near 0 (< 0.05) for most music. On the
shared clips the tags a listener agrees with score 0.15-0.85 (piano 0.78 on ragtime piano, violin 0.53
on a string orchestra, techno 0.84 on a techno loop, but "male vocal" only 0.18 on solo singing, since
MTT's vocal tags are spread over many synonyms), while wrong neighbours mostly stay below 0.15 (the
exceptions are plausible ones: "classical" 0.18 next to "jazz" 0.42 on ragtime piano). Nothing below
the threshold is kept even if a group ends up empty: an empty list means "the model is not sure",
which downstream text must not turn into a claim. Scores are listed with each tag so users can apply
a stricter cut; the model's known confusions remain (it has no "bass" tag and
tends to call bass lines "guitar"; unaccompanied singing also raises "guitar"/"rock").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis.schema import Tag, Tags, TagTimeline
from ..audio import Audio
from . import musicnn_net as mn

# group -> {canonical label: [raw tags "mtt:x" / "msd:y"]}
TAG_GROUPS: dict[str, dict[str, list[str]]] = {
    "genre": {
        "classical": ["mtt:classical", "mtt:classic"],
        "techno": ["mtt:techno"],
        "electronic": ["mtt:electronic", "msd:electronic", "msd:electronica", "msd:electro"],
        "rock": ["mtt:rock", "msd:rock"],
        "pop": ["mtt:pop", "msd:pop"],
        "ambient": ["mtt:ambient", "msd:ambient"],
        "indian": ["mtt:indian"],
        "opera": ["mtt:opera"],
        "new age": ["mtt:new age"],
        "dance": ["mtt:dance", "msd:dance"],
        "country": ["mtt:country", "msd:country"],
        "metal": ["mtt:metal", "msd:metal"],
        "heavy metal": ["msd:heavy metal"],
        "alternative": ["msd:alternative"],
        "alternative rock": ["msd:alternative rock"],
        "indie": ["msd:indie"],
        "indie rock": ["msd:indie rock"],
        "indie pop": ["msd:indie pop"],
        "jazz": ["msd:jazz"],
        "chillout": ["msd:chillout"],
        "classic rock": ["msd:classic rock"],
        "hard rock": ["msd:hard rock"],
        "progressive rock": ["msd:Progressive rock"],
        "punk": ["msd:punk"],
        "soul": ["msd:soul"],
        "rnb": ["msd:rnb"],
        "funk": ["msd:funk"],
        "blues": ["msd:blues"],
        "folk": ["msd:folk"],
        "hip hop": ["msd:Hip-Hop"],
        "house": ["msd:House"],
        "experimental": ["msd:experimental"],
        "easy listening": ["msd:easy listening"],
    },
    "instrument": {
        "guitar": ["mtt:guitar", "msd:guitar"],
        "piano": ["mtt:piano"],
        "strings": ["mtt:strings"],
        "violin": ["mtt:violin"],
        "cello": ["mtt:cello"],
        "harp": ["mtt:harp"],
        "harpsichord": ["mtt:harpsichord"],
        "flute": ["mtt:flute"],
        "sitar": ["mtt:sitar"],
        "drums": ["mtt:drums"],
        "synth": ["mtt:synth"],
        "acoustic instruments": ["msd:acoustic"],
    },
    "mood": {
        "fast": ["mtt:fast"],
        "slow": ["mtt:slow"],
        "loud": ["mtt:loud"],
        "quiet": ["mtt:quiet"],
        "soft": ["mtt:soft"],
        "weird": ["mtt:weird"],
        "beautiful": ["msd:beautiful"],
        "mellow": ["msd:Mellow"],
        "chill": ["msd:chill"],
        "sexy": ["msd:sexy"],
        "catchy": ["msd:catchy"],
        "party": ["msd:party"],
        "sad": ["msd:sad"],
        "happy": ["msd:happy"],
    },
    "vocals": {
        "vocals": ["mtt:vocal", "mtt:vocals", "mtt:voice", "mtt:singing"],
        "female vocals": [
            "mtt:female",
            "mtt:woman",
            "mtt:female vocal",
            "mtt:female voice",
            "msd:female vocalists",
            "msd:female vocalist",
        ],
        "male vocals": ["mtt:male", "mtt:man", "mtt:male vocal", "mtt:male voice", "msd:male vocalists"],
        "choir": ["mtt:choir", "mtt:choral"],
        "instrumental (no vocals)": ["mtt:no vocals", "mtt:no vocal", "mtt:no voice", "msd:instrumental"],
    },
    "era": {d: [f"msd:{d}"] for d in ("60s", "70s", "80s", "90s", "00s", "oldies")},
    "other": {"beat": ["mtt:beat", "mtt:beats"], "solo": ["mtt:solo"]},
}
EXPORTED_GROUPS = ("genre", "instrument", "mood", "vocals")


@dataclass
class TagConfig:
    threshold: float = 0.15  # minimum track score for a tag to be listed (see module docstring)
    chunk_s: float = 60.0  # decoded audio held at once (memory bound: chunk_s * 16 kHz * 4 bytes)
    # 3-s patches per network call. One at a time is fastest on CPU: a patch's (204, 187, 59) front-end
    # maps (9 MB) stay in cache between the convolution and the max over frequency; measured 69 ms
    # per patch and model at 1, 97 ms at 8 (one thread). Memory grows ~19 MB per patch.
    batch: int = 1
    min_tail_s: float = 1.0  # a leftover shorter than this at the end is not given its own patch


def _patches(audio: Audio, cfg: TagConfig):
    """Yield batches (n, 187, 96) of musicnn log-mel patches over the whole track, decoded chunk-wise.

    Patches are musicnn's: consecutive, non-overlapping 187-frame windows from the start. Unlike
    musicnn, a leftover of at least `min_tail_s` at the end gets one more patch (the last 187
    frames), so the end of a song counts; a track shorter than one patch is repeated to fill it.
    """
    stream, buf, pending, seen = mn.MelStream(), np.zeros((0, mn.N_MELS), np.float32), [], 0
    last = None

    def take(mel):
        nonlocal buf, seen, last
        buf = np.concatenate([buf, mel]) if len(buf) else mel
        while len(buf) >= mn.N_FRAMES:
            pending.append(buf[: mn.N_FRAMES])
            last = buf[: mn.N_FRAMES]
            buf = buf[mn.N_FRAMES :]
            seen += mn.N_FRAMES

    for _, block in audio.chunks(mn.SR, chunk_s=cfg.chunk_s):
        take(stream.push(block))
        while len(pending) >= cfg.batch:
            yield _to_input(pending[: cfg.batch])
            del pending[: cfg.batch]
    take(stream.finish())
    if last is None:  # shorter than one patch: repeat-pad (musicnn's training used repeat-padding)
        reps = int(np.ceil(mn.N_FRAMES / max(1, len(buf))))
        pending.append(np.tile(buf, (reps, 1))[: mn.N_FRAMES])
    elif len(buf) * mn.HOP / mn.SR >= cfg.min_tail_s:
        pending.append(np.concatenate([last, buf])[-mn.N_FRAMES :])
    if pending:
        yield _to_input(pending)


def _to_input(mels: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(mn.log_compress(np.stack(mels)))


def patch_scores(audio: Audio, cfg: TagConfig | None = None) -> tuple[list[str], np.ndarray]:
    """(keys "mtt:<tag>"/"msd:<tag>", (patches, 100) probabilities): both models over every 3-s patch."""
    cfg = cfg or TagConfig()
    nets = {"mtt": mn.load_musicnn("MTT_musicnn"), "msd": mn.load_musicnn("MSD_musicnn")}
    rows = []
    with torch.inference_mode():
        for x in _patches(audio, cfg):
            rows.append(torch.cat([nets["mtt"](x)["probs"], nets["msd"](x)["probs"]], 1).numpy())
    keys = [f"mtt:{t}" for t in mn.MTT_LABELS] + [f"msd:{t}" for t in mn.MSD_LABELS]
    return keys, np.concatenate(rows).astype(np.float32)


def group_scores(scores: dict[str, float], threshold: float) -> dict[str, list[Tag]]:
    """musicnn alone: canonical tags per group with score = max over their raw sources, kept when
    >= threshold, best first (J2A before the fusion; the "musicnn alone" column of bench/tagging_real)."""
    groups = {}
    for group, entries in TAG_GROUPS.items():
        tags = [Tag(label, max(scores[r] for r in raws)) for label, raws in entries.items()]
        groups[group] = sorted((t for t in tags if t.score >= threshold), key=lambda t: -t.score)
    return groups


def analyze_tags(audio: Audio, cfg: TagConfig | None = None, yamnet_windows: np.ndarray | None = None) -> Tags:
    """Tag a whole track: musicnn's patches, fused with YAMNet's windows when given (j2a.features.fusion),
    plus the time-resolved scores of both (`Tags.timeline`)."""
    cfg = cfg or TagConfig()
    keys, probs = patch_scores(audio, cfg)
    return fused_tags(keys, probs, yamnet_windows, audio.duration_s)


def fused_tags(keys: list[str], musicnn: np.ndarray, yamnet_windows: np.ndarray | None, duration_s: float) -> Tags:
    """Tags from per-patch musicnn and per-window YAMNet scores (both kept for the timeline)."""
    from . import fusion
    from .yamnet import class_names

    m_track = dict(zip(keys, musicnn.mean(0).tolist()))
    y_track = yamnet_windows.mean(0) if yamnet_windows is not None and len(yamnet_windows) else None
    fused = fusion.fuse_scores(fusion.model_scores(m_track, y_track))
    groups = _listed_tags(fused)
    audioset = {} if y_track is None else {n: round(float(v), 4) for n, v in zip(class_names(), y_track) if v >= 0.01}
    return Tags(
        genre=groups["genre"],
        instrument=groups["instrument"],
        mood=groups["mood"],
        vocals=groups["vocals"],
        sound=groups["sound"],
        scores={k: round(v, 4) for k, v in m_track.items()},
        audioset=audioset,
        timeline=timeline(keys, musicnn, yamnet_windows, duration_s),
    )


def _listed_tags(fused: dict) -> dict[str, list[Tag]]:
    """Group -> listed Tags (fused score, each model's raw score), best first."""
    from . import fusion

    return {
        g: [
            Tag(label, round(score, 4), {k: round(v, 4) for k, v in src.items()})
            for label, score, src in fusion.listed(fused, g)
        ]
        for g in fusion.GROUPS
    }


def timeline(keys: list[str], musicnn: np.ndarray, yamnet_windows: np.ndarray | None, duration_s: float) -> TagTimeline:
    """Both models' scores per musicnn patch (3 s): YAMNet windows are averaged into the patch that holds
    their centre. Only labels whose fused score reaches the listing score in some segment are kept,
    rounded to 0.01, so a 60-minute track's timeline stays small."""
    from . import fusion
    from .yamnet import PATCH_HOP_S

    hop = mn.N_FRAMES * mn.HOP / mn.SR
    n = max(len(musicnn), int(np.ceil(duration_s / hop - 1e-6)), 1)
    m = np.zeros((n, musicnn.shape[1]), np.float32)
    full = min(len(musicnn), n)
    m[:full] = musicnn[:full]
    m[full:] = musicnn[-1]  # the tail patch covers the end
    y = None
    if yamnet_windows is not None and len(yamnet_windows):
        seg = np.minimum(((np.arange(len(yamnet_windows)) + 1) * PATCH_HOP_S / hop).astype(int), n - 1)
        y = np.zeros((n, yamnet_windows.shape[1]), np.float32)
        np.add.at(y, seg, yamnet_windows)
        counts = np.bincount(seg, minlength=n)[:, None]
        filled = counts[:, 0] > 0
        y[filled] /= counts[filled]
        for i in np.nonzero(~filled)[0]:  # a segment with no window centre: take its neighbour's
            y[i] = y[i - 1] if i else y[min(i + 1, n - 1)]
    per_seg = [fusion.model_scores(dict(zip(keys, m[i].tolist())), None if y is None else y[i]) for i in range(n)]
    fused = [fusion.fuse_scores(p) for p in per_seg]
    keep = sorted({k for f in fused for k, v in f.items() if v["score"] >= fusion.LISTED})
    tl = TagTimeline(hop_s=round(hop, 4))
    for k in keep:
        tl.fused[k] = [round(f[k]["score"], 2) for f in fused]
        for model in per_seg[0]:
            if k in per_seg[0][model]:
                tl.models.setdefault(model, {})[k] = [round(p[model][k], 2) for p in per_seg]
    return tl


def tags_between(tags: Tags, start_s: float, end_s: float) -> Tags:
    """The fused tags of the segments of `tags.timeline` that overlap [start_s, end_s): each model's
    mean raw score there, fused as the whole track's are (empty Tags when there is no timeline).
    Why from the timeline: sections and `ask` ("when does the piano come in?") then agree with the
    track's tags and cost no second tagging pass."""
    from . import fusion

    tl = tags.timeline
    if tl is None or not tl.models or not tl.hop_s:
        return Tags()
    n = max((len(v) for m in tl.models.values() for v in m.values()), default=0)
    lo = min(int(start_s // tl.hop_s), max(n - 1, 0))
    hi = max(lo + 1, min(n, int(np.ceil(end_s / tl.hop_s - 1e-6))))
    per = {m: {k: float(np.mean(v[lo:hi])) for k, v in series.items()} for m, series in tl.models.items()}
    fused = fusion.fuse_scores(per)
    groups = _listed_tags(fused)
    return Tags(
        genre=groups["genre"],
        instrument=groups["instrument"],
        mood=groups["mood"],
        vocals=groups["vocals"],
        sound=groups["sound"],
    )
