"""Descriptions against the datasets' own labels: does any claim contradict what a clip is known to contain?

Why: the guard checks a caption against the analysis, so a tagger's mistake it states faithfully is
still a wrong sentence. Here every music clip of `../shared/data/labelled` and `../shared/data/audio` whose
parts are known completely (solo-instrument collections, solo voice, the manifest's fully named clips)
is described with J2A-LLM, and each instrument and vocal claim is compared with the labels alone:
an instrument outside the clip's parts, a voice on an instrumental clip, or "instrumental" on a sung one
is a contradiction.

    python bench/describe_truth.py                 # J2A-LLM (the default model)
    python bench/describe_truth.py --llm none      # the template
"""

from __future__ import annotations

import argparse

import _common  # noqa: E402,F401  (this checkout first on sys.path)

# manifest instrument -> the guard concepts a description may use for it
PARTS = {
    "guitar": {"guitar", "acoustic guitar", "electric guitar"},
    "acoustic guitar": {"guitar", "acoustic guitar"},
    "electric guitar": {"guitar", "electric guitar"},
    "clarinet": {"clarinet", "woodwinds"},
    "flute": {"flute", "woodwinds"},
    "piano": {"piano"},
    "saxophone": {"saxophone", "woodwinds"},
    "tenor saxophone": {"saxophone", "woodwinds"},
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
    "bass": {"bass"},
    "string orchestra": {"strings", "violin", "cello", "orchestra", "bass"},
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
)  # collections whose clips hold one named instrument or voice alone


def known_parts(r: dict) -> set[str] | None:
    """The concepts a description of this clip may use, or None when its parts are not fully known."""
    names = [x.strip() for x in (r.get("instruments") or "").replace(";", ",").split(",") if x.strip()]
    if r["set"] == "labelled" and not r["source_dataset"].startswith(COMPLETE):
        return None
    if not names or any(n not in PARTS for n in names):
        return None
    return set().union(*(PARTS[n] for n in names))


def sung(r: dict) -> bool | None:
    if r.get("vocals") in ("yes", "no"):
        return r["vocals"] == "yes"
    names = (r.get("instruments") or "").lower()
    return True if "voice" in names else (False if names else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", default="local")
    args = ap.parse_args()
    import tagging_real

    from j2a import analyze
    from j2a.text.claims import extract_claims
    from j2a.text.describe import describe_many

    rows = [r for r in tagging_real.clips() if r["kind"] == "music" and known_parts(r) is not None]
    analyses = [analyze(r["path"]) for r in rows]
    descs = describe_many(analyses, llm=args.llm)
    wrong, claims = [], 0
    for r, d in zip(rows, descs):
        parts, voice = known_parts(r), sung(r)
        for c in extract_claims(d.caption):
            if c.category == "instrument" and not c.negated:
                claims += 1
                if c.concept not in parts:
                    wrong.append((r["file"], str(c), d.caption))
            if c.category == "vocals" and voice is not None:
                claims += 1
                if ((c.concept != "instrumental") != c.negated) != voice:
                    wrong.append((r["file"], str(c), d.caption))
    print(f"## Descriptions against the labels ({args.llm})\n")
    print(
        f"{len(rows)} clips with fully known parts; {claims} instrument / vocal claims in their descriptions; "
        f"**{len(wrong)} contradict the labels**.\n"
    )
    for f, c, cap in wrong:
        print(f'- {f}: {c} — "{cap}"')


if __name__ == "__main__":
    main()
