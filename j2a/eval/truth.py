"""Descriptions judged against the datasets' own labels: which claims contradict what a clip is known to hold?

Why: the faithfulness guard checks a caption against the *analysis*, so a tagger's mistake that the
caption states faithfully is still a wrong sentence, and a guard test that uses the guard's own evidence
rules cannot catch it. Here the truth is the shared manifests alone (`../shared/data/audio` and
`../shared/data/labelled`): an instrument outside a clip's known parts, a voice on an instrumental clip,
"instrumental" on a sung one, or a genre outside the labelled genre's family is a contradiction.
The maps below were written from the labels and common musical knowledge, not from J2A's outputs.

Checked only where the label is complete: instruments for collections whose clips hold one named
instrument or voice alone (and the audio manifest's fully named clips); vocals where the manifest says
yes or no (or the parts are complete); genre where one is given.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

# manifest instrument -> the guard concepts a description may use for it
PARTS = {
    "guitar": {"guitar", "acoustic guitar", "electric guitar"},
    "acoustic guitar": {"guitar", "acoustic guitar"},
    "electric guitar": {"guitar", "electric guitar"},
    "clarinet": {"clarinet", "woodwinds"},
    "flute": {"flute", "woodwinds"},
    "piano": {"piano"},
    "saxophone": {"saxophone", "woodwinds", "instrument variant"},
    "tenor saxophone": {"saxophone", "woodwinds", "instrument variant"},
    "trumpet": {"trumpet", "brass"},
    "violin": {"violin", "strings"},
    "cello": {"cello", "strings"},
    "voice": set(),
    "solo voice": set(),
    "bendir": {"drums", "hand percussion"},
    "organ": {"organ"},
    "drums": {"drums", "drum machine"},
    "tabla": {"tabla", "drums", "hand percussion"},
    "contrabass": {"bass", "strings"},
    "bass": {"bass", "bass guitar"},
    "string orchestra": {"strings", "violin", "cello", "orchestra", "bass"},
    "orchestra": {
        "orchestra",
        "strings",
        "violin",
        "cello",
        "bass",
        "brass",
        "trumpet",
        "trombone",
        "french horn",
        "woodwinds",
        "flute",
        "clarinet",
        "timpani",
        "harp",
    },
}
COMPLETE = (
    "Medley-solos",
    "TinySOL",
    "sms-tools",
    "Sonic Pi",
    "IDMT",
    "audiomentations",
    "vocadito",
    "Jingju",
)  # labelled collections whose clips hold one named instrument or voice alone

# labelled genre -> the genre concepts (or, for the catch-all "other genre", the phrases) a description may
# use: the genre, its umbrella, and genres that share its repertoire. Decades are not judged (no truth).
GENRES = {
    "classical": {"classical", "soundtrack"},
    "jazz": {"jazz", "blues", "soul", "funk", "easy listening", "oldies"},
    "ragtime": {"jazz", "blues", "oldies", "classical", "easy listening", "ragtime"},
    "waltz": {"classical", "folk", "oldies", "easy listening", "waltz"},
    "techno": {"techno", "electronic", "dance", "house", "electronic subgenre"},
    "dubstep": {"dubstep", "electronic", "dance", "electronic subgenre"},
    "flamenco": {"flamenco", "latin", "folk"},
    "hip hop": {"hip hop", "electronic subgenre", "soul", "funk"},
    "carnatic": {"indian", "classical", "folk"},
    "jingju": {"opera", "classical", "folk"},
    "experimental pop": {"experimental", "pop", "indie", "alternative", "folk", "rock"},
    "singer-songwriter": {"experimental", "pop", "indie", "alternative", "folk", "rock"},
}
DECADES = {"60s", "70s", "80s", "90s", "00s"}


@dataclass(frozen=True)
class Truth:
    """What a music clip's manifest row says, in guard concepts; None where the label is not complete."""

    set: str  # "audio" | "labelled"
    file: str
    path: str
    parts: frozenset[str] | None  # instrument concepts a description may state
    sung: bool | None
    genres: frozenset[str] | None  # genre concepts a description may state


def _names(row: dict) -> list[str]:
    return [x.strip() for x in (row.get("instruments") or "").replace(";", ",").split(",") if x.strip()]


def truth_of(row: dict, set_name: str, path: str) -> Truth:
    names = _names(row)
    complete = set_name == "audio" or row.get("source_dataset", "").startswith(COMPLETE)
    parts = None
    if complete and names and all(n in PARTS for n in names):
        parts = frozenset().union(*(PARTS[n] for n in names))
    if row.get("vocals") in ("yes", "no"):
        sung = row["vocals"] == "yes"
    elif parts is not None:
        sung = any("voice" in n for n in names)
    else:
        sung = None
    labels = [g.strip() for g in (row.get("genre") or "").split(";") if g.strip()]
    genres = frozenset().union(*(GENRES[g] for g in labels)) if labels and all(g in GENRES for g in labels) else None
    return Truth(set_name, row["file"], path, parts, sung, genres)


def music_truth(shared: Path) -> list[Truth]:
    """Every music clip of both shared manifests, with its truth."""
    out = []
    for set_name in ("audio", "labelled"):
        folder = Path(shared) / "data" / set_name
        with open(folder / "manifest.csv", newline="") as f:
            for row in csv.DictReader(f):
                if row["kind"] == "music":
                    out.append(truth_of(row, set_name, str(folder / row["file"])))
    return out


# How many notes a clip sounds at once, where its manifest says so: one singer or one wind instrument in a solo
# recording (not IRMAS' "predominant" instrument in a mix), or one note; against solo pianos, guitars playing chords,
# a string orchestra and cello double stops
SINGLE_LINE = {"voice", "solo voice", "flute", "clarinet", "saxophone", "tenor saxophone", "trumpet"}
CHORDAL = {"piano", "acoustic guitar", "electric guitar", "string orchestra"}
_ONE_NOTE = re.compile(r"\b(?:single )?note [A-G]|monophonic")


def textures(shared: Path) -> dict[str, str]:
    """{file: "single line" | "chordal"} for the music clips of both manifests that say which (paths as
    `music_truth` gives them). Why: the labels J2A's chord and ensemble claims are checked against
    (tests/eval/test_truth.py, bench/chord_voices.py), written once."""
    out = {}
    for set_name in ("audio", "labelled"):
        folder = Path(shared) / "data" / set_name
        with open(folder / "manifest.csv", newline="") as f:
            for row in csv.DictReader(f):
                notes, one = row.get("notes") or "", _ONE_NOTE.search(row.get("notes") or "")
                if row["kind"] != "music":
                    continue
                if (row["instruments"] in SINGLE_LINE and "predominant" not in notes) or one:
                    out[row["file"]] = "single line"
                elif (row["instruments"] in CHORDAL and not one) or re.search(r"fifths|double stops", notes):
                    out[row["file"]] = "chordal"
    return out


def contradictions(caption: str, truth: Truth) -> list[str]:
    """Every claim of the caption that the clip's labels contradict, as printable lines."""
    from j2a.text.claims import extract_claims

    wrong = []
    for c in extract_claims(caption, closed=False):
        if c.category == "instrument" and not c.negated and truth.parts is not None and c.concept not in truth.parts:
            wrong.append(str(c))
        elif c.category == "vocals" and truth.sung is not None:
            says_voice = (c.concept != "instrumental") != c.negated
            if says_voice != truth.sung:
                wrong.append(str(c))
        elif c.category == "genre" and not c.negated and truth.genres is not None and c.concept not in DECADES:
            if c.concept not in truth.genres and c.phrase.lower() not in truth.genres:
                wrong.append(str(c))
    return wrong


def unsupported_assertions(caption: str, analysis) -> list[str]:
    """Mood, usage and absence claims ("no other instruments") that the analysis gives no evidence for."""
    from j2a.text.claims import extract_claims
    from j2a.text.evidence import check_claims

    claims = extract_claims(caption, closed=False)  # all of them: a venue is backed by a genre claim beside it
    return [str(c) for c in check_claims(claims, analysis)[1] if c.category in ("mood", "usage") or c.negated]
