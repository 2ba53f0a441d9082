"""How well `j2a search` and `j2a similar` find what a query asks for, on sets whose answers are known.

Why query sets with exact truth: a search that looks right on three hand-picked queries can still miss
half of what it should find. Two sets are built here, both from truth that J2A never produced:
(a) rendered scores (`j2a data render --renditions 2`): attribute queries ("a slow piano piece in a minor
key", "strings in 3/4") whose relevant pieces follow from the score's tempo, key, meter and the instruments
it was rendered with, and "similar" queries whose answer is the other rendition of the same score;
(b) the real clips of `../shared/data/audio` and `../shared/data/labelled`, with queries from their manifests.

A query row (JSONL): {"id", "type", "query" | "track", "relevant": [audio paths]}. Rows with "track" ask
`similar` for that file; the others ask `search`. Scores are ir-measures' (TREC conventions):
R@k = relevant found in the top k / all relevant, RR = 1 / rank of the first relevant (MRR when averaged),
nDCG@10 with binary gains; averaged per query type and over all queries.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

MEASURES = ("R@1", "R@5", "R@10", "RR", "nDCG@10")

# rendered instrument family -> the words a query uses for it (a family can share a word: two kinds of strings)
FAMILY_WORDS = {
    "piano": "piano",
    "organ": "organ",
    "choir": "choir",
    "brass": "brass",
    "woodwinds": "woodwinds",
    "strings": "strings",
    "string_pad": "strings",
}
# tempo words, with the bands `j2a search` gives them (j2a.library.query._TEMPO_WORDS)
TEMPO_WORDS = {"slow": (0.0, 90.0), "medium tempo": (90.0, 115.0), "fast": (115.0, 400.0)}


def _abs(path: str | Path) -> str:
    return str(Path(path).resolve())


# ------------------------------------------------------------------------------------- (a) rendered
def _attributes(t: dict) -> dict:
    """A rendered piece's attributes in query words. A modal piece (Renaissance polyphony, `key_modal`) has no
    key or mode to query by: the key its signature implies is a convention, not what a listener hears."""
    bpm = t["tempo_bpm"]
    modal = bool(t.get("key_modal"))
    tempo = next(w for w, (lo, hi) in TEMPO_WORDS.items() if lo <= bpm < hi)
    return {
        "instrument": FAMILY_WORDS[t["instrument_family"]],
        "tempo": tempo,
        "mode": None if modal else t["mode"],
        "key": None if modal else t["key"],
        "meter": t["meter"],
    }


def _phrase(attrs: dict, use: tuple[str, ...]) -> str:
    """Words a person would type for these attributes, e.g. 'a slow piano piece in a minor key'."""
    words = [attrs["tempo"]] if "tempo" in use and attrs["tempo"] != "medium tempo" else []
    words.append(attrs["instrument"])
    text = " ".join(["a"] + words + ["piece"]) if attrs["instrument"] != "strings" or words else "strings"
    if "tempo" in use and attrs["tempo"] == "medium tempo":
        text += " at a medium tempo"
    if "key" in use:
        text += f" in {attrs['key']}"
    elif "mode" in use:
        text += f" in a {attrs['mode']} key"
    if "meter" in use:
        text += f" in {attrs['meter']}"
    return text


def rendered_queries(manifest: str | Path, n_attribute: int = 60, seed: int = 0) -> list[dict]:
    """Attribute queries generated from the rendered pieces' truth (each with 1-10 relevant pieces, so
    recall@10 can reach 1), and one similar-query per piece whose score was rendered more than once."""
    manifest = Path(manifest)
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    # `j2a data render` writes each audio path as it was given (relative to where it ran): the file lies beside
    # the manifest either way
    names = Counter(Path(r["audio"]).name for r in rows)  # a file named twice holds only its last render: no truth
    pieces = [
        (_abs(manifest.parent / Path(r["audio"]).name), _attributes(r["truth"]), r["truth"]["source"])
        for r in rows
        if names[Path(r["audio"]).name] == 1
    ]
    rng = random.Random(seed)
    combos = [("tempo",), ("mode",), ("meter",), ("key",), ("tempo", "mode"), ("tempo", "meter"), ("mode", "meter")]
    combos += [("tempo", "mode", "meter"), ("tempo", "key")]
    out, seen = [], set()
    for _ in range(50 * n_attribute):
        if len(out) >= n_attribute:
            break
        _, attrs, _ = rng.choice(pieces)
        use = rng.choice(combos)
        if any(attrs[k] is None for k in use):
            continue
        query = _phrase(attrs, use)
        wanted = {"instrument": attrs["instrument"], **{k: attrs[k] for k in use}}
        relevant = [p for p, a, _ in pieces if all(a[k] == v for k, v in wanted.items())]
        if query in seen or not 1 <= len(relevant) <= 10:
            continue
        seen.add(query)
        out.append({"id": f"attr-{len(out):03d}", "type": "attribute", "query": query, "relevant": relevant})
    by_score = defaultdict(list)
    for p, _, source in pieces:
        by_score[source].append(p)
    for p, _, source in pieces:
        others = [q for q in by_score[source] if q != p]
        if others:
            out.append({"id": f"similar-{Path(p).stem}", "type": "similar", "track": p, "relevant": others})
    return out


# ---------------------------------------------------------------------------------------- (b) real
def _manifest_rows(shared: Path) -> list[dict]:
    out = []
    for set_name in ("audio", "labelled"):
        folder = shared / "data" / set_name
        with open(folder / "manifest.csv", newline="") as f:
            out += [dict(r, path=str((folder / r["file"]).resolve())) for r in csv.DictReader(f)]
    return out


def real_queries(shared: str | Path) -> list[dict]:
    """Queries on the shared clips written from their manifests: instruments, vocals, genre, not music,
    tempo (the audio manifest's annotated BPM) and key."""
    rows = _manifest_rows(Path(shared))
    music = [r for r in rows if r["kind"] == "music"]
    out = []

    def add(kind: str, query: str, relevant: list[str]) -> None:
        if relevant:
            out.append({"id": f"{kind}-{len(out):03d}", "type": kind, "query": query, "relevant": sorted(relevant)})

    def instruments(r):
        return {x.strip().removeprefix("tenor ").removeprefix("solo ") for x in r["instruments"].split(",")}

    for inst in ("piano", "flute", "trumpet", "violin", "clarinet", "saxophone", "cello", "organ", "electric guitar"):
        add("instrument", f"{inst} music", [r["path"] for r in music if inst in instruments(r)])
    add("instrument", "solo voice", [r["path"] for r in music if instruments(r) & {"voice"}])
    add(
        "vocals",
        "music with vocals",
        [r["path"] for r in music if r.get("vocals") == "yes" or "voice" in r["instruments"]],
    )
    for genre in ("classical", "techno", "dubstep", "jazz", "hip hop", "flamenco", "ragtime"):
        add("genre", genre, [r["path"] for r in music if genre in r.get("genre", "").split(";")])
    add("not music", "not music", [r["path"] for r in rows if r["kind"] != "music"])
    add("not music", "speech, not music", [r["path"] for r in rows if r["kind"] == "speech"])
    tempi = {r["path"]: [float(x) for x in re.findall(r"\d+(?:\.\d+)?", r.get("tempo_bpm") or "")] for r in music}
    for bpm in sorted({round(t[0]) for t in tempi.values() if t}):  # "87.5 (or 175)": either level is right
        add("tempo", f"around {bpm} bpm", [p for p, t in tempi.items() if any(abs(x - bpm) <= 0.06 * bpm for x in t)])
    for key in sorted({r["key"] for r in music if re.fullmatch(r"[A-G][#b]? (?:major|minor)", r.get("key") or "")}):
        add("key", f"music in {key}", [r["path"] for r in music if r.get("key") == key])
    return out


# ----------------------------------------------------------------------------------------- scoring
def run_queries(lib, queries: list[dict], depth: int = 50, strict: bool = False) -> dict[str, list[str]]:
    """Each query's ranked paths (search, or similar for rows with a track); `strict`: search without near
    misses."""
    ranked = {}
    for q in queries:
        if "track" in q:
            hits = lib.similar(q["track"], limit=depth)
        else:
            hits, _ = lib.search(q["query"], limit=depth, strict=strict)
        ranked[q["id"]] = [str(Path(t.path).resolve()) for t in hits]
    return ranked


def score(queries: list[dict], ranked: dict[str, list[str]]) -> tuple[dict[str, dict], list[dict]]:
    """({query type | "all": {measure: mean, "n": count}}, per-query rows) with ir-measures."""
    import ir_measures

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    qrels = [ir_measures.Qrel(q["id"], _abs(p), 1) for q in queries for p in q["relevant"]]
    run = [
        ir_measures.ScoredDoc(qid, path, float(len(paths) - i))
        for qid, paths in ranked.items()
        for i, path in enumerate(paths)
    ]
    per = defaultdict(dict)
    for m in ir_measures.iter_calc(measures, qrels, run):
        per[m.query_id][str(m.measure)] = m.value
    rows = []
    for q in queries:
        vals = {name: per.get(q["id"], {}).get(name, 0.0) for name in MEASURES}  # nothing retrieved: 0
        rows.append(
            {
                "id": q["id"],
                "type": q["type"],
                "query": q.get("query") or q.get("track"),
                **vals,
                "found": ranked.get(q["id"], [])[:10],
            }
        )
    summary = {}
    for kind in sorted({r["type"] for r in rows}) + ["all"]:
        sel = [r for r in rows if kind in ("all", r["type"])]
        summary[kind] = {"n": len(sel), **{m: sum(r[m] for r in sel) / len(sel) for m in MEASURES}}
    return summary, rows


# ------------------------------------------------------------------------ which filter loses a piece
FILTER_NAMES = {"bpm": "tempo"}  # a Filters field's name in the table, where it is not the field's own


def filter_passes(queries: list[dict], track_of) -> dict[str, dict[str, int]]:
    """Each filter that search queries set, judged alone on the analysis of each of their relevant pieces
    (`j2a.library.match_filters`): {filter: {"pairs", "met", "part", "missed", "not indexed"}}; `track_of(path)`
    gives a path's Track or None. "part" is a near miss (a tempo at double or half, a relative key, 2/2 heard as
    4/4, a fact not measured). Why: a relevant piece is lost either to a filter the analysis fails (measured at
    another tempo, key or meter) or to ranking; this counts the first per filter, so a run says which
    measurement to improve (bench/RESULTS.md "Search quality" built this table by hand before)."""
    from dataclasses import fields

    from ..library import Filters, match_filters, parse_query

    names = [x.name for x in fields(Filters) if x.name != "is_music"]  # is_music stays a hard filter in search
    out: dict[str, dict[str, int]] = {}
    for q in queries:
        if "query" not in q:
            continue
        f, _ = parse_query(q["query"])
        asked = [(name, getattr(f, name)) for name in names if getattr(f, name) not in (None, [])]
        for path in q["relevant"]:
            t = track_of(path)
            for name, value in asked:
                row = out.setdefault(
                    FILTER_NAMES.get(name, name), {"pairs": 0, "met": 0, "part": 0, "missed": 0, "not indexed": 0}
                )
                row["pairs"] += 1
                if t is None:
                    row["not indexed"] += 1
                    continue
                credit, _, _ = match_filters(t, Filters(is_music=None, **{name: value}))
                row["met" if credit == 1 else "part" if credit > 0 else "missed"] += 1
    return out


def format_passes(passes: dict[str, dict[str, int]]) -> str:
    """filter_passes as a markdown table: per filter, how many relevant (query, piece) pairs it judged, and the
    share whose analysis meets it, earns part of it, or misses it."""
    lines = [
        "| filter | relevant (query, piece) pairs | meets it | part (near miss) | misses it | not indexed |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in sorted(passes.items(), key=lambda kv: -kv[1]["pairs"]):
        n = r["pairs"]
        lines.append(
            f"| {name} | {n} | {r['met'] / n:.2f} | {r['part'] / n:.2f} | {r['missed'] / n:.2f} | {r['not indexed']} |"
        )
    return "\n".join(lines)


def format_table(summary: dict[str, dict]) -> str:
    lines = ["| query type | n | " + " | ".join(MEASURES) + " |", "|---|---|" + "---|" * len(MEASURES)]
    for kind, s in summary.items():
        lines.append(f"| {kind} | {s['n']} | " + " | ".join(f"{s[m]:.3f}" for m in MEASURES) + " |")
    return "\n".join(lines)


def read_queries(path: str | Path) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    for i, r in enumerate(rows):
        if not r.get("relevant") or not (r.get("query") or r.get("track")):
            raise ValueError(f"{path}: line {i + 1}: a query needs 'query' or 'track', and a non-empty 'relevant'")
        r.setdefault("id", f"q{i:04d}")
        r.setdefault("type", "similar" if "track" in r else "query")
    return rows
