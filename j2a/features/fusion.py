"""Fused tags: musicnn's 100 music tags and YAMNet's 521 AudioSet classes in one vocabulary.

Why two taggers: musicnn (MagnaTagATune + Million Song Dataset) knows music styles and vocal
character well but has 11 instruments and no idea of a world outside music; YAMNet (AudioSet) hears
saxophone, trumpet, clarinet, organ, tabla, whales, fans and rain, but calls much solo singing
"speech". `VOCAB` maps each canonical label to the tags of each model that stand for it; a label's
score from one model is the highest of its sources there (musicnn: mean patch probability, as
musicnn tags a song; YAMNet: mean window probability, as YAMNet tags a clip).

Fusion: the two models' scores live on different scales (musicnn's sigmoid outputs rarely pass
0.5; YAMNet puts 0.9 on the instruments it is sure of and 0.05 on the ones it half-hears), so each
(model, group) pair has its own threshold, `Calibration.thresholds`, fitted on labelled real
recordings by `calibrate()` (run by `bench/tagging_real.py --calibrate`, which writes
`j2a/assets/fusion.json` with the data it was fitted on). A label is listed when any model reaches
its threshold; its fused score is that model's score rescaled (`rescale`) so that every threshold
lands on `LISTED` (0.15, musicnn's own listing threshold) and 1 stays 1, and the best model wins. So
scores stay comparable across labels and models, and every listed `Tag` keeps each model's raw
score in `Tag.sources`.

Listing is not claiming: a listed tag is what J2A may hear, ranked (search, `ask`, the page show
it with its score); a description states it only when one model's raw score reaches that model's
`Calibration.claim` threshold for the group (fitted for precision: instruments on solo recordings, where musicnn
calls many a flute or a single note "guitar"; genres on the clips with a labelled genre, where musicnn at 0.2-0.45
called a Brahms dance "jazz" and a pop band "ambient"), which the faithfulness guard reads through
`j2a.text.evidence.present_tags`.

Groups: instrument (specific names, and broad families like "strings" or "brass" that never
count as a specific answer), vocals, genre, mood, and sound (non-music sources: speech, animals,
vehicles, machines, weather and water), which `features.music` uses to tell music from a fan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

LISTED = 0.15  # a fused score at or above this is listed; every model's threshold maps here
GROUPS = ("instrument", "vocals", "genre", "mood", "sound")
CALIBRATION_FILE = Path(__file__).resolve().parents[1] / "assets" / "fusion.json"


def _m(*tags):  # musicnn sources
    return tuple(tags)


# group -> canonical label -> (musicnn tags "mtt:x"/"msd:y", YAMNet display names)
VOCAB: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "instrument": {
        "guitar": (_m("mtt:guitar", "msd:guitar"), ("Guitar",)),
        "acoustic guitar": ((), ("Acoustic guitar", "Steel guitar, slide guitar")),
        "electric guitar": ((), ("Electric guitar",)),
        "bass guitar": ((), ("Bass guitar",)),
        "double bass": ((), ("Double bass",)),
        "piano": (_m("mtt:piano"), ("Piano",)),
        "electric piano": ((), ("Electric piano",)),
        "organ": ((), ("Organ", "Electronic organ", "Hammond organ")),
        "synth": (_m("mtt:synth"), ("Synthesizer",)),
        "harpsichord": (_m("mtt:harpsichord"), ("Harpsichord",)),
        "drums": (_m("mtt:drums"), ("Drum", "Snare drum", "Bass drum", "Drum roll", "Rimshot", "Hi-hat", "Cymbal")),
        "drum kit": ((), ("Drum kit",)),
        "drum machine": ((), ("Drum machine",)),
        "tabla": ((), ("Tabla",)),
        "timpani": ((), ("Timpani",)),
        "tambourine": ((), ("Tambourine",)),
        "vibraphone": ((), ("Vibraphone",)),
        "marimba": ((), ("Marimba, xylophone",)),
        "glockenspiel": ((), ("Glockenspiel",)),
        "steelpan": ((), ("Steelpan",)),
        "bells": ((), ("Tubular bells", "Church bell", "Change ringing (campanology)")),
        "violin": (_m("mtt:violin"), ("Violin, fiddle",)),
        "cello": (_m("mtt:cello"), ("Cello",)),
        "harp": (_m("mtt:harp"), ("Harp",)),
        "flute": (_m("mtt:flute"), ("Flute",)),
        "saxophone": ((), ("Saxophone",)),
        "clarinet": ((), ("Clarinet",)),
        "trumpet": ((), ("Trumpet",)),
        "trombone": ((), ("Trombone",)),
        "french horn": ((), ("French horn",)),
        "accordion": ((), ("Accordion",)),
        "harmonica": ((), ("Harmonica",)),
        "bagpipes": ((), ("Bagpipes",)),
        "banjo": ((), ("Banjo",)),
        "mandolin": ((), ("Mandolin",)),
        "ukulele": ((), ("Ukulele",)),
        "sitar": (_m("mtt:sitar"), ("Sitar",)),
        "zither": ((), ("Zither",)),
        "didgeridoo": ((), ("Didgeridoo",)),
        "theremin": ((), ("Theremin",)),
        "turntables": ((), ("Scratching (performance technique)",)),
        # broad families: true but unspecific, never a "specific instrument" answer (BROAD)
        "strings": (_m("mtt:strings"), ("String section", "Bowed string instrument")),
        "orchestra": ((), ("Orchestra",)),
        "brass": ((), ("Brass instrument",)),
        "woodwinds": ((), ("Wind instrument, woodwind instrument",)),
        "percussion": ((), ("Percussion", "Mallet percussion")),
        "keyboard": ((), ("Keyboard (musical)",)),
        "plucked strings": ((), ("Plucked string instrument",)),
        "acoustic instruments": (_m("msd:acoustic"), ()),
    },
    "vocals": {
        "vocals": (_m("mtt:vocal", "mtt:vocals", "mtt:voice", "mtt:singing"), ("Singing", "Vocal music", "Speech")),
        "female vocals": (
            _m(
                "mtt:female",
                "mtt:woman",
                "mtt:female vocal",
                "mtt:female voice",
                "msd:female vocalists",
                "msd:female vocalist",
            ),
            (),
        ),
        "male vocals": (_m("mtt:male", "mtt:man", "mtt:male vocal", "mtt:male voice", "msd:male vocalists"), ()),
        "choir": (_m("mtt:choir", "mtt:choral"), ("Choir",)),
        "rapping": ((), ("Rapping",)),
        "chant": ((), ("Chant", "Mantra")),
        "humming": ((), ("Humming",)),
        "a cappella": ((), ("A capella",)),
        "child singing": ((), ("Child singing",)),
        "yodeling": ((), ("Yodeling",)),
        "instrumental (no vocals)": (_m("mtt:no vocals", "mtt:no vocal", "mtt:no voice", "msd:instrumental"), ()),
    },
    "genre": {
        "classical": (_m("mtt:classical", "mtt:classic"), ("Classical music",)),
        "opera": (_m("mtt:opera"), ("Opera",)),
        "techno": (_m("mtt:techno"), ("Techno",)),
        "house": (_m("msd:House"), ("House music",)),
        "electronic": (
            _m("mtt:electronic", "msd:electronic", "msd:electronica", "msd:electro"),
            ("Electronic music", "Electronica"),
        ),
        "edm": ((), ("Electronic dance music",)),
        "dubstep": ((), ("Dubstep",)),
        "drum and bass": ((), ("Drum and bass",)),
        "trance": ((), ("Trance music",)),
        "dance": (_m("mtt:dance", "msd:dance"), ("Dance music",)),
        "disco": ((), ("Disco",)),
        "ambient": (_m("mtt:ambient", "msd:ambient"), ("Ambient music",)),
        "new age": (_m("mtt:new age"), ("New-age music",)),
        "chillout": (_m("msd:chillout"), ()),
        "easy listening": (_m("msd:easy listening"), ()),
        "rock": (_m("mtt:rock", "msd:rock"), ("Rock music",)),
        "classic rock": (_m("msd:classic rock"), ()),
        "hard rock": (_m("msd:hard rock"), ()),
        "progressive rock": (_m("msd:Progressive rock"), ("Progressive rock",)),
        "psychedelic rock": ((), ("Psychedelic rock",)),
        "rock and roll": ((), ("Rock and roll",)),
        "alternative": (_m("msd:alternative"), ()),
        "alternative rock": (_m("msd:alternative rock"), ()),
        "grunge": ((), ("Grunge",)),
        "indie": (_m("msd:indie"), ("Independent music",)),
        "indie rock": (_m("msd:indie rock"), ()),
        "indie pop": (_m("msd:indie pop"), ()),
        "metal": (_m("mtt:metal", "msd:metal"), ()),
        "heavy metal": (_m("msd:heavy metal"), ("Heavy metal",)),
        "punk": (_m("msd:punk"), ("Punk rock",)),
        "pop": (_m("mtt:pop", "msd:pop"), ("Pop music",)),
        "hip hop": (_m("msd:Hip-Hop"), ("Hip hop music",)),
        "rnb": (_m("msd:rnb"), ("Rhythm and blues",)),
        "soul": (_m("msd:soul"), ("Soul music",)),
        "funk": (_m("msd:funk"), ("Funk",)),
        "blues": (_m("msd:blues"), ("Blues",)),
        "jazz": (_m("msd:jazz"), ("Jazz",)),
        "swing": ((), ("Swing music",)),
        "country": (_m("mtt:country", "msd:country"), ("Country",)),
        "bluegrass": ((), ("Bluegrass",)),
        "folk": (_m("msd:folk"), ("Folk music",)),
        "reggae": ((), ("Reggae",)),
        "ska": ((), ("Ska",)),
        "latin": ((), ("Music of Latin America",)),
        "salsa": ((), ("Salsa music",)),
        "flamenco": ((), ("Flamenco",)),
        "middle eastern": ((), ("Middle Eastern music",)),
        "african": ((), ("Music of Africa",)),
        "afrobeat": ((), ("Afrobeat",)),
        "asian": ((), ("Music of Asia",)),
        "indian": (_m("mtt:indian"), ()),
        "carnatic": ((), ("Carnatic music",)),
        "bollywood": ((), ("Music of Bollywood",)),
        "traditional": ((), ("Traditional music",)),
        "gospel": ((), ("Gospel music",)),
        "christian": ((), ("Christian music",)),
        "experimental": (_m("msd:experimental"), ()),
        "soundtrack": ((), ("Soundtrack music",)),
        "video game music": ((), ("Video game music",)),
        "children's music": ((), ("Music for children",)),
        "lullaby": ((), ("Lullaby",)),
        "christmas music": ((), ("Christmas music",)),
    },
    "mood": {
        "happy": (_m("msd:happy"), ("Happy music",)),
        "sad": (_m("msd:sad"), ("Sad music",)),
        "tender": ((), ("Tender music",)),
        "exciting": ((), ("Exciting music",)),
        "angry": ((), ("Angry music",)),
        "scary": ((), ("Scary music",)),
        "fast": (_m("mtt:fast"), ()),
        "slow": (_m("mtt:slow"), ()),
        "loud": (_m("mtt:loud"), ()),
        "quiet": (_m("mtt:quiet"), ()),
        "soft": (_m("mtt:soft"), ()),
        "weird": (_m("mtt:weird"), ()),
        "beautiful": (_m("msd:beautiful"), ()),
        "mellow": (_m("msd:Mellow"), ()),
        "chill": (_m("msd:chill"), ()),
        "sexy": (_m("msd:sexy"), ()),
        "catchy": (_m("msd:catchy"), ()),
        "party": (_m("msd:party"), ()),
    },
    "sound": {  # what a recording is when it is not music: YAMNet alone
        "speech": (
            (),
            (
                "Speech",
                "Child speech, kid speaking",
                "Conversation",
                "Narration, monologue",
                "Babbling",
                "Speech synthesizer",
                "Whispering",
            ),
        ),
        "crowd": (
            (),
            ("Crowd", "Chatter", "Hubbub, speech noise, speech babble", "Cheering", "Applause", "Children playing"),
        ),
        "laughter": ((), ("Laughter", "Baby laughter", "Giggle", "Belly laugh")),
        "dog": ((), ("Dog", "Bark", "Howl", "Growling", "Bow-wow", "Yip")),
        "cat": ((), ("Cat", "Purr", "Meow", "Caterwaul")),
        "bird": (
            (),
            (
                "Bird",
                "Bird vocalization, bird call, bird song",
                "Chirp, tweet",
                "Squawk",
                "Pigeon, dove",
                "Crow",
                "Caw",
                "Owl",
                "Hoot",
                "Bird flight, flapping wings",
            ),
        ),
        "farm animals": (
            (),
            (
                "Livestock, farm animals, working animals",
                "Horse",
                "Cattle, bovinae",
                "Moo",
                "Pig",
                "Goat",
                "Sheep",
                "Bleat",
                "Fowl",
                "Chicken, rooster",
                "Turkey",
                "Duck",
                "Goose",
            ),
        ),
        "insects": ((), ("Insect", "Cricket", "Mosquito", "Fly, housefly", "Bee, wasp, etc.")),
        "frog": ((), ("Frog", "Croak")),
        "whale": ((), ("Whale vocalization",)),
        "animal": ((), ("Animal", "Wild animals", "Domestic animals, pets")),
        "wind": ((), ("Wind", "Rustling leaves", "Wind noise (microphone)")),
        "rain": ((), ("Rain", "Raindrop", "Rain on surface")),
        "thunder": ((), ("Thunderstorm", "Thunder")),
        "water": (
            (),
            (
                "Water",
                "Stream",
                "Waterfall",
                "Ocean",
                "Waves, surf",
                "Pour",
                "Trickle, dribble",
                "Splash, splatter",
                "Drip",
                "Liquid",
                "Gurgling",
                "Water tap, faucet",
                "Fill (with liquid)",
            ),
        ),
        "fire": ((), ("Fire", "Crackle")),
        "road traffic": (
            (),
            (
                "Vehicle",
                "Motor vehicle (road)",
                "Car",
                "Car passing by",
                "Truck",
                "Bus",
                "Motorcycle",
                "Traffic noise, roadway noise",
                "Race car, auto racing",
            ),
        ),
        "aircraft": (
            (),
            (
                "Aircraft",
                "Aircraft engine",
                "Jet engine",
                "Propeller, airscrew",
                "Helicopter",
                "Fixed-wing aircraft, airplane",
            ),
        ),
        "train": (
            (),
            (
                "Rail transport",
                "Train",
                "Railroad car, train wagon",
                "Train wheels squealing",
                "Subway, metro, underground",
            ),
        ),
        "boat": ((), ("Boat, Water vehicle", "Motorboat, speedboat", "Ship")),
        "engine": (
            (),
            (
                "Engine",
                "Light engine (high frequency)",
                "Medium engine (mid frequency)",
                "Heavy engine (low frequency)",
                "Idling",
                "Engine starting",
                "Accelerating, revving, vroom",
            ),
        ),
        "machine": (
            (),
            (
                "Mechanical fan",
                "Air conditioning",
                "Electric shaver, electric razor",
                "Vacuum cleaner",
                "Hair dryer",
                "Blender",
                "Printer",
                "Sewing machine",
                "Mechanisms",
                "Microwave oven",
                "Lawn mower",
                "Chainsaw",
                "Dental drill, dentist's drill",
                "Electric toothbrush",
            ),
        ),
        "tools": ((), ("Tools", "Power tool", "Drill", "Hammer", "Jackhammer", "Sawing", "Filing (rasp)", "Sanding")),
        "alarm": (
            (),
            (
                "Alarm",
                "Siren",
                "Civil defense siren",
                "Buzzer",
                "Smoke detector, smoke alarm",
                "Fire alarm",
                "Car alarm",
                "Alarm clock",
                "Police car (siren)",
                "Ambulance (siren)",
            ),
        ),
        "household": (
            (),
            (
                "Door",
                "Dishes, pots, and pans",
                "Cutlery, silverware",
                "Chopping (food)",
                "Frying (food)",
                "Typing",
                "Computer keyboard",
                "Writing",
                "Clock",
                "Tick-tock",
                "Telephone",
            ),
        ),
        "footsteps": ((), ("Walk, footsteps", "Run", "Shuffle")),
        "explosion": ((), ("Explosion", "Gunshot, gunfire", "Fireworks", "Firecracker", "Boom")),
    },
}
# how a sentence names a sound group ("it sounds like ..."): mass nouns and plurals take no article
_MASS = {"speech", "laughter", "wind", "rain", "thunder", "water", "fire", "road traffic"}


def sound_phrase(label: str) -> str:
    if label == "household":
        return "household sounds"
    if label in _MASS or label.endswith("s"):
        return label
    return ("an " if label[0] in "aeiou" else "a ") + label


BROAD = frozenset(
    {
        "strings",
        "orchestra",
        "brass",
        "woodwinds",
        "percussion",
        "keyboard",
        "plucked strings",
        "acoustic instruments",
        "instrumental (no vocals)",
    }
)
NO_VOCALS = "instrumental (no vocals)"
# broad instrument families and the specific instruments that make one of them true
FAMILIES = {
    "brass": {"trumpet", "trombone", "french horn"},
    "woodwinds": {"saxophone", "clarinet", "flute"},
    "strings": {"violin", "cello", "double bass", "harp"},
    "orchestra": {
        "violin",
        "cello",
        "double bass",
        "harp",
        "trumpet",
        "trombone",
        "french horn",
        "clarinet",
        "flute",
        "timpani",
    },
    "percussion": {
        "drums",
        "drum kit",
        "drum machine",
        "tabla",
        "timpani",
        "tambourine",
        "marimba",
        "vibraphone",
        "glockenspiel",
        "steelpan",
        "bells",
    },
    "keyboard": {"piano", "electric piano", "organ", "synth", "harpsichord"},
    "plucked strings": {
        "guitar",
        "acoustic guitar",
        "electric guitar",
        "bass guitar",
        "banjo",
        "mandolin",
        "ukulele",
        "sitar",
        "zither",
        "harp",
    },
}
# A section's runner-up that YAMNet scores under ECHO_RATIO of the section's leader is the leader's timbre heard
# again, not a second player: a solo trumpet's "trombone" at 0.28 of its trumpet, a double bass's "cello" at 0.52
# (../shared labelled clips). Rendered ensembles that hold both (`j2a data render`: string quartets, brass groups;
# bench/RESULTS.md, "Third run") put the runner-up at 0.60-1.55 of the leader. YAMNet decides
# because it has a word for each member; musicnn's MagnaTagATune words are one per section at most.
SECTIONS = ("brass", "woodwinds", "strings")
ECHO_RATIO = 0.55


def echoes(instruments) -> set[str]:
    """Labels among listed instrument tags (objects with .label and .sources) that only echo a louder member of
    their orchestral section: listed, but not a claim."""
    out: set[str] = set()
    for section in SECTIONS:
        heard = [
            (t.sources["yamnet"], t.label)
            for t in instruments
            if t.label in FAMILIES[section] and "yamnet" in t.sources
        ]
        top = max((y for y, _ in heard), default=0.0)
        out |= {label for y, label in heard if y < ECHO_RATIO * top}
    return out


def stated_labels(tags, group: str) -> set[str]:
    """The labels of a group's listed (fused) tags that a description may state: some model reaches its claim
    threshold (`Calibration.claimable`) and, for instruments, no section member's echo (`echoes`). The one reading
    of "claimed" for the guard, sections and playlists."""
    listed = getattr(tags, group, None) or []
    echo = echoes(listed) if group == "instrument" else set()
    cal = calibration()
    return {t.label for t in listed if cal.claimable(group, t.sources) and t.label not in echo}


# YAMNet classes that say "this is music" (Music, the instruments, the styles, singing): the music evidence
MUSIC_CLASSES = (
    "Music",
    "Musical instrument",
    "Singing",
    "Choir",
    "Yodeling",
    "Chant",
    "Mantra",
    "Child singing",
    "Synthetic singing",
    "Rapping",
    "Humming",
)


@dataclass
class Calibration:
    """Per (model, group) thresholds, fitted by `calibrate()` and kept in j2a/assets/fusion.json."""

    thresholds: dict[str, float] = field(default_factory=dict)  # "musicnn:instrument" -> score
    music: dict[str, float] = field(default_factory=dict)  # is_music thresholds (features.music)
    claim: dict[str, float] = field(default_factory=dict)  # "model:group" -> raw score a description may state
    fitted_on: str = ""

    def claimable(self, group: str, sources: dict[str, float]) -> bool:
        """May a description state a listed tag with these per-model raw scores? Yes when some model
        reaches its claim threshold for the group (a group without claim thresholds: every listed tag)."""
        keys = [k for k in self.claim if k.endswith(":" + group)]
        return not keys or any(sources.get(k.split(":")[0], -1.0) >= self.claim[k] for k in keys)

    def threshold(self, model: str, group: str) -> float:
        return self.thresholds.get(f"{model}:{group}", LISTED)


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    try:
        d = json.loads(CALIBRATION_FILE.read_text())
    except FileNotFoundError:
        return Calibration()
    return Calibration(d.get("thresholds", {}), d.get("music", {}), d.get("claim", {}), d.get("fitted_on", ""))


@lru_cache(maxsize=1)
def musicnn_sources() -> frozenset[str]:
    """Raw musicnn tags that some fused label stands for (the rest: era and production words)."""
    return frozenset(t for labels in VOCAB.values() for m, _ in labels.values() for t in m)


@lru_cache(maxsize=1)
def yamnet_index() -> dict[str, int]:
    from .yamnet import class_names

    return {n: i for i, n in enumerate(class_names())}


def model_scores(musicnn: dict[str, float], yamnet: np.ndarray | None) -> dict[str, dict[str, float]]:
    """{"musicnn"|"yamnet": {"group:label": score}}: each canonical label's best source in each model.
    `musicnn` maps raw tags to track scores; `yamnet` is the (521,) track score vector."""
    idx = yamnet_index() if yamnet is not None else {}
    out: dict[str, dict[str, float]] = {"musicnn": {}, "yamnet": {}}
    for group, labels in VOCAB.items():
        for label, (m_src, y_src) in labels.items():
            if m_src and musicnn:
                out["musicnn"][f"{group}:{label}"] = max(float(musicnn.get(t, 0.0)) for t in m_src)
            if y_src and yamnet is not None:
                out["yamnet"][f"{group}:{label}"] = max(float(yamnet[idx[n]]) for n in y_src)
    return out


def rescale(s: float, thr: float) -> float:
    """A model score on the common scale: linear below the model's threshold (thr -> LISTED), then
    logarithmic up to 1 (1 -> 1), so equal ratios above the threshold are equal steps. Why log: YAMNet's
    thresholds are small (a few hundredths) and its sure scores near 1, musicnn's the other way round;
    a linear map would saturate one model's scores and flatten the ranking."""
    s = min(max(float(s), 0.0), 1.0)
    if s < thr:
        return LISTED * s / thr
    return min(1.0, LISTED + (1 - LISTED) * np.log(s / thr) / np.log(1 / thr)) if thr < 1 else 1.0


def fuse_scores(per_model: dict[str, dict[str, float]], cal: Calibration | None = None) -> dict[str, dict]:
    """{"group:label": {"score": fused, "sources": {model: raw}}} for every label any model scores."""
    cal = cal or calibration()
    out: dict[str, dict] = {}
    for model, scores in per_model.items():
        for key, s in scores.items():
            group = key.split(":", 1)[0]
            scaled = rescale(s, cal.threshold(model, group))
            e = out.setdefault(key, {"score": 0.0, "sources": {}})
            e["sources"][model] = s
            e["score"] = max(e["score"], scaled)
    return out


# A coarse label yields to a finer one heard nearly as strongly (at least YIELD_RATIO of its score). Why:
# MagnaTagATune, musicnn's genre head here, has one word for beat-driven electronic music, "techno"; it scores
# a dubstep track 0.72 and a hip hop beat 0.37 as it scores a techno loop 0.84, while YAMNet names dubstep and
# MSD names hip hop. "Techno" on a dubstep track is the tagger's missing word, not what it heard.
COARSE = {"genre": {"techno": {"dubstep", "hip hop", "drum and bass", "trance", "house"}}}
YIELD_RATIO = 0.6


def listed(fused: dict[str, dict], group: str) -> list[tuple[str, float, dict]]:
    """(label, score, sources) of a group at or above LISTED, best first; a coarse label left out where a
    finer one of `COARSE` is listed nearly as high."""
    rows = [
        (k.split(":", 1)[1], v["score"], v["sources"])
        for k, v in fused.items()
        if k.startswith(group + ":") and v["score"] >= LISTED
    ]
    score = {r[0]: r[1] for r in rows}
    coarse = COARSE.get(group, {})
    yields = {
        c for c, finer in coarse.items() if c in score and any(score.get(f, 0) >= YIELD_RATIO * score[c] for f in finer)
    }
    return sorted((r for r in rows if r[0] not in yields), key=lambda r: -r[1])


def music_evidence(yamnet: np.ndarray) -> dict:
    """YAMNet's view of music vs sound sources on track scores: the noisy-OR of the music classes
    (and of every instrument / genre / mood class), speech, and the strongest non-music source group."""
    from .yamnet import class_names

    idx = yamnet_index()
    music_ids = {idx[n] for n in MUSIC_CLASSES}
    music_ids |= {idx[n] for g in ("instrument", "genre", "mood") for _, ys in VOCAB[g].values() for n in ys}
    p_music = 1.0 - float(np.prod(1.0 - np.clip(yamnet[sorted(music_ids)], 0, 1)))
    best, best_src = 0.0, None
    for label, (_, ys) in VOCAB["sound"].items():
        if label == "speech":
            continue
        i = max((idx[n] for n in ys), key=lambda j: yamnet[j])
        if yamnet[i] > best:
            best, best_src = float(yamnet[i]), (label, class_names()[i])
    speech = max(float(yamnet[idx[n]]) for n in VOCAB["sound"]["speech"][1])
    return {"music": p_music, "speech": speech, "source": best, "source_label": best_src}
