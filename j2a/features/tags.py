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

from ..analysis import Tag, Tags
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
        "female vocals": ["mtt:female", "mtt:woman", "mtt:female vocal", "mtt:female voice",
                          "msd:female vocalists", "msd:female vocalist"],
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
            pending.append(buf[:mn.N_FRAMES])
            last = buf[:mn.N_FRAMES]
            buf = buf[mn.N_FRAMES:]
            seen += mn.N_FRAMES

    for _, block in audio.chunks(mn.SR, chunk_s=cfg.chunk_s):
        take(stream.push(block))
        while len(pending) >= cfg.batch:
            yield _to_input(pending[:cfg.batch])
            del pending[:cfg.batch]
    take(stream.finish())
    if last is None:  # shorter than one patch: repeat-pad (musicnn's training used repeat-padding)
        reps = int(np.ceil(mn.N_FRAMES / max(1, len(buf))))
        pending.append(np.tile(buf, (reps, 1))[:mn.N_FRAMES])
    elif len(buf) * mn.HOP / mn.SR >= cfg.min_tail_s:
        pending.append(np.concatenate([last, buf])[-mn.N_FRAMES:])
    if pending:
        yield _to_input(pending)


def _to_input(mels: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(mn.log_compress(np.stack(mels)))


def track_scores(audio: Audio, cfg: TagConfig | None = None) -> dict[str, float]:
    """Mean patch probability of every tag of both models, keyed "mtt:<tag>" / "msd:<tag>"."""
    cfg = cfg or TagConfig()
    nets = {"mtt": mn.load_musicnn("MTT_musicnn"), "msd": mn.load_musicnn("MSD_musicnn")}
    sums = {k: torch.zeros(net.out.out_features) for k, net in nets.items()}
    count = 0
    with torch.inference_mode():
        for x in _patches(audio, cfg):
            for k, net in nets.items():
                sums[k] += net(x)["probs"].sum(0)
            count += len(x)
    out = {}
    for k, labels in (("mtt", mn.MTT_LABELS), ("msd", mn.MSD_LABELS)):
        for label, s in zip(labels, (sums[k] / count).tolist()):
            out[f"{k}:{label}"] = s
    return out


def group_scores(scores: dict[str, float], threshold: float) -> dict[str, list[Tag]]:
    """Canonical tags per group with score = max over their raw sources, kept when >= threshold,
    best first."""
    groups = {}
    for group, entries in TAG_GROUPS.items():
        tags = [Tag(label, max(scores[r] for r in raws)) for label, raws in entries.items()]
        groups[group] = sorted((t for t in tags if t.score >= threshold), key=lambda t: -t.score)
    return groups


def analyze_tags(audio: Audio, cfg: TagConfig | None = None) -> Tags:
    """Tag a whole track with both musicnn models; see the module docstring for groups and threshold."""
    cfg = cfg or TagConfig()
    scores = track_scores(audio, cfg)
    g = group_scores(scores, cfg.threshold)
    return Tags(genre=g["genre"], instrument=g["instrument"], mood=g["mood"], vocals=g["vocals"],
                scores={k: round(v, 4) for k, v in scores.items()})
