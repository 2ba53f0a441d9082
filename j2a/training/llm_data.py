"""MusicCaps rows as J2A-LLM training examples: prompts (the human aspect list, or the aspect list reduced to
what `describe` can say, with tempo / key / meter / chord facts), token ids, length-grouped batches.

Why two kinds of prompts per row, drawn at random each time a row is used: `describe` gives the model the
*reduced* kind (the analysis vocabulary), and the human kind teaches the captions' words. Facts come from
the caption when it states them and are otherwise synthetic but consistent with the tags, so the model
learns to use them when they matter and to ignore them otherwise.
"""

from __future__ import annotations

import ast
import csv
import random
import re
from pathlib import Path

from ..text import prompts
from ..theory import NAMES, PITCH_CLASS

# ------------------------------------------------------------------------------------ vocabulary
TEMPO_ASPECTS = ("slow tempo", "medium tempo", "fast tempo")


def analysis_tags() -> list[str]:
    """The aspect words `describe` can put in a prompt, spelled as it spells them: the fused vocabulary
    (both taggers' instruments, vocals, genres and moods, `features.fusion.VOCAB`) through
    `text.aspects.aspect_word`, less the words describe never states, plus its tempo words. Reduced training
    prompts use exactly these, so the model learns the prompts it will be given."""
    from ..features.fusion import VOCAB
    from ..text.aspects import aspect_word

    out: list[str] = []
    for group in ("genre", "instrument", "vocals", "mood"):
        for label in VOCAB[group]:
            w = aspect_word(label)
            if w and w not in out:
                out.append(w)
    return out + [t for t in TEMPO_ASPECTS if t not in out]


_SYN = {
    "synthesizer": "synth",
    "sax": "saxophone",
    "saxophones": "saxophone",
    "trumpets": "trumpet",
    "keyboards": "keyboard",
    "keys": "keyboard",
    "percussions": "percussion",
    "drumming": "drum",
    "orchestral": "orchestra",
    "rap": "rapping",
    "rapper": "rapping",
    "choral": "choir",
    "organs": "organ",
    "synthesiser": "synth",
    "synths": "synth",
    "vocalist": "vocal",
    "vocalists": "vocal",
    "vocals": "vocal",
    "voices": "vocal",
    "voice": "vocal",
    "string": "strings",
    "drums": "drum",
    "beats": "beat",
    "hiphop": "hip hop",
    "r&b": "rnb",
    "electro": "electro",
    "uptempo": "fast tempo",
    "upbeat": "fast tempo",
    "women": "woman",
    "men": "man",
    "singer": "vocal",
    "singers": "vocal",
    "sung": "singing",
    "sings": "singing",
    "violins": "violin",
    "guitars": "guitar",
    "pianos": "piano",
    "cellos": "cello",
    "flutes": "flute",
}


def _norm_words(text: str) -> list[str]:
    words = re.sub(r"[^a-z0-9&' ]+", " ", text.lower().replace("-", " ")).split()
    out = []
    for w in words:
        w = _SYN.get(w, w)
        out.extend(w.split())
    return out


def _find(hay: list[str], needle: list[str]) -> int:
    n = len(needle)
    return next((i for i in range(len(hay) - n + 1) if hay[i : i + n] == needle), -1)


def _contains(hay: list[str], needle: list[str]) -> bool:
    return _find(hay, needle) >= 0


def reduce_aspects(aspects: list[str]) -> list[str]:
    """Map human aspect phrases onto the analysis tag vocabulary; drop what it cannot express.

    'male vocalist' -> 'male vocal'; 'fast tempo' -> 'fast'; 'no voice' -> 'no voice';
    'acoustic guitar strumming' -> 'acoustic', 'guitar'. The longest matching tag wins.
    """
    tags = analysis_tags()
    normed = {t: _norm_words(t) for t in tags}
    found: list[tuple[str, list[str]]] = []
    for a in aspects:
        words = _norm_words(a)
        negative = bool(words) and words[0] in ("no", "without", "non")
        hits = []
        for t, tw in normed.items():
            pos = _find(words, tw) if tw else -1
            if pos < 0 or (negative and tw[0] != "no"):
                continue  # 'no drums' must not become 'drums'
            hits.append((pos, t, tw))
        found.extend((t, tw) for _, t, tw in sorted(hits, key=lambda h: h[0]))
    keep: list[str] = []
    for t, tw in found:
        longer = any(len(ow) > len(tw) and _contains(ow, tw) for _, ow in found)
        same = any(" ".join(normed[k]) == " ".join(tw) for k in keep)
        if not longer and not same:
            keep.append(t)
    return keep


# ------------------------------------------------------------------------------------ facts
_KEYS = [f"{n} {m}" for n in NAMES for m in ("major", "minor")]
# Scale-degree progressions (semitones from the tonic, quality).
_PROGS = {
    "major": [
        [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],
        [(0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")],
        [(2, "min7"), (7, "7"), (0, "maj7")],
        [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")],
    ],
    "minor": [
        [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")],
        [(0, "min"), (5, "min"), (7, "min"), (0, "min")],
        [(0, "min"), (10, "maj"), (8, "maj"), (7, "maj")],
        [(0, "min7"), (5, "min7")],
    ],
}


def _text_facts(text: str) -> dict:
    """Facts a caption states itself (then the prompt carries the true value)."""
    facts = {}
    t = text.lower()
    if m := re.search(r"(\d{2,3})\s*(?:bpm|beats per minute)", t):
        facts["tempo_bpm"] = float(m.group(1))
    if m := re.search(r"\bkey of ([a-g])\s*(#|b|sharp|flat)?\s*(major|minor)", t):
        acc = {"#": "#", "sharp": "#", "b": "b", "flat": "b"}.get(m.group(2) or "", "")
        facts["key"] = f"{m.group(1).upper()}{acc} {m.group(3)}"
    if m := re.search(r"\b([2-7])/(4|8)\b", t):
        facts["meter"] = f"{m.group(1)}/{m.group(2)}"
    elif re.search(r"\bwaltz|triple meter|three.four", t):
        facts["meter"] = "3/4"
    return facts


def synth_facts(aspects: list[str], caption: str, rng: random.Random, p_each: float) -> dict:
    """Facts for a training prompt: the caption's own when it states them, else plausible and
    consistent with the tags (fast/slow tempo words, waltz -> 3/4); each present with p_each."""
    text = " ".join(aspects) + " " + caption
    told = _text_facts(text)
    low = text.lower()
    facts: dict = {}
    if "tempo_bpm" in told:
        facts["tempo_bpm"] = told["tempo_bpm"]
    elif rng.random() < p_each:
        if re.search(r"\b(fast|uptempo|up-tempo|quick|rapid)\b", low):
            lo, hi = 120, 175
        elif re.search(r"\b(slow|downtempo)\b", low):
            lo, hi = 55, 88
        elif re.search(r"\b(medium|moderate|mid)\b", low):
            lo, hi = 88, 122
        else:
            lo, hi = 70, 160
        facts["tempo_bpm"] = float(rng.randint(lo, hi))
    key = told.get("key") or (rng.choice(_KEYS) if rng.random() < p_each else None)
    if key:
        facts["key"] = key
    if "meter" in told:
        facts["meter"] = told["meter"]
    elif rng.random() < p_each:
        facts["meter"] = "4/4" if rng.random() < 0.85 else rng.choice(["3/4", "6/8"])
    if key and rng.random() < p_each:
        root, mode = key.split()
        tonic = PITCH_CLASS[root]
        prog = rng.choice(_PROGS[mode])
        facts["chords"] = [f"{NAMES[(tonic + d) % 12]}:{q}" for d, q in prog] * rng.choice([1, 2])
    if rng.random() < p_each * 0.5:
        facts["duration_s"] = 10.0 if rng.random() < 0.5 else float(rng.randint(20, 400))
    return facts


# ------------------------------------------------------------------------------------ data
def read_captions_csv(path: str | Path) -> list[dict]:
    """MusicCaps-style rows: ytid, start_s, aspects (list), caption (may be empty)."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "aspect_list" not in reader.fieldnames:
            raise ValueError(f"{path}: not a MusicCaps CSV (no aspect_list column)")
        for r in reader:
            try:
                aspects = ast.literal_eval(r["aspect_list"]) if r["aspect_list"].strip() else []
            except (ValueError, SyntaxError):
                aspects = [a.strip(" '\"") for a in r["aspect_list"].strip("[]").split(",")]
            rows.append(
                {
                    "ytid": r.get("ytid", ""),
                    "start_s": int(float(r.get("start_s") or 0)),
                    "aspects": [str(a) for a in aspects],
                    "caption": (r.get("caption") or "").strip(),
                }
            )
    return rows


def make_example(row: dict, rng: random.Random, p_reduced: float) -> str:
    """One training prompt for a row: full or reduced aspects, with augmented facts."""
    if rng.random() < p_reduced:
        reduced = reduce_aspects(row["aspects"])
        return prompts.format_prompt(reduced, synth_facts(row["aspects"], row["caption"], rng, 0.8))
    aspects = list(row["aspects"])
    return prompts.format_prompt(aspects, synth_facts(aspects, row["caption"], rng, 0.35))


def split_rows(rows: list[dict], holdout: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic train / held-out split of the training CSV (dev rows are never involved)."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    hold = set(idx[:holdout])
    return [r for i, r in enumerate(rows) if i not in hold], [r for i, r in enumerate(rows) if i in hold]


def encode(tok, prompt: str, caption: str, max_len: int) -> tuple[list[int], int]:
    """Token ids of prompt + ' ' + caption + EOS, and where the caption starts."""
    p = tok(prompt)["input_ids"]
    c = tok(" " + caption, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = (p + c)[:max_len]
    return ids, len(p)


def collate(batch: list[tuple[list[int], int]], pad_id: int):
    """Right-padded ids, attention mask, and labels that are -100 outside the caption."""
    import torch

    n = max(len(ids) for ids, _ in batch)
    ids_t = torch.full((len(batch), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    for i, (ids, start) in enumerate(batch):
        ids_t[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1
        labels[i, start : len(ids)] = torch.tensor(ids[start:])
    return ids_t, mask, labels


def length_batches(examples: list, batch_size: int, rng: random.Random) -> list[list]:
    """Batches of similar-length examples, in random order.

    Random batches of MusicCaps prompt+caption pairs are ~27% padding (lengths 40-160 tokens); on a
    CPU padding costs as much as real tokens, so grouping a pool by length buys that many more steps.
    """
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
    batches = [[examples[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def caption_vocab(tok, rows: list[dict]) -> list[int]:
    """Token ids the captions and prompts of `rows` use, plus EOS: the output vocabulary of J2A-LLM.

    Gemma's 262k-token output layer costs more than the whole transformer per token; MusicCaps
    captions use about 10k distinct tokens. Training and generation score only this subset (plus the
    tokens of the prompt at hand, so rare tag words can still be copied).
    """
    ids = {tok.eos_token_id}
    for r in rows:
        ids.update(tok(" " + r["caption"], add_special_tokens=False)["input_ids"])
        ids.update(tok(prompts.format_prompt(r["aspects"]), add_special_tokens=False)["input_ids"])
    return sorted(i for i in ids if i is not None)
