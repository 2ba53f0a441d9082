"""`j2a eval`: one offline command that scores captions, MIR features and QA answers.

The scorers live in `j2a.eval.captions`, `j2a.eval.mir` and `j2a.eval.qa`; this module is their CLI.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .captions import format_table, load_preds, load_refs, score_captions


def _write_json(path: str, obj) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2) + "\n")


def _write_outputs(args, summary: dict, rows) -> None:
    """--json (the summary) and --per-item (one entry per clip / question), when asked for."""
    if args.json:
        _write_json(args.json, summary)
    if args.per_item:
        _write_json(args.per_item, rows)


def _warn_to_stderr(caught) -> None:
    for w in caught:
        print(f"j2a eval: warning: {w.message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------- captions
def cmd_captions(args) -> int:
    refs, preds = load_refs(args.refs), load_preds(args.preds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        s = score_captions(refs, preds, sbert=not args.no_sbert, rows=bool(args.per_row))
    _warn_to_stderr(caught)
    rows = s.pop("rows", None)
    print(
        f"matched {s['n']} of {s['n_preds']} predictions to {s['n_refs']} references "
        f"({s['unmatched_preds']} predictions and {s['unmatched_refs']} references unmatched)"
    )
    print(format_table(s))
    if args.json:
        _write_json(args.json, s)
    if args.per_row:
        Path(args.per_row).parent.mkdir(parents=True, exist_ok=True)
        with open(args.per_row, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0


def add_cli(subparsers) -> None:
    from ..cli import sub

    p = sub(
        subparsers,
        "eval",
        "score captions, MIR features or QA answers against references (offline)",
        "j2a eval captions --refs musiccaps-dev.csv --preds captions.jsonl --json scores.json\n"
        "j2a eval mir --manifest rendered/manifest.csv\n"
        "j2a eval qa --qa questions.json --preds answers.jsonl\n"
        "j2a eval search --db music.db --queries queries.jsonl",
    )
    esp = p.add_subparsers(dest="eval_command", metavar="WHAT")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    c = sub(
        esp,
        "captions",
        "BLEU-1..4, METEOR, ROUGE-L, CIDEr (coco-caption), SBERT cosine, sacreBLEU; all x100",
        "j2a eval captions --refs ../shared/data/captions/musiccaps-dev.csv \\\n"
        "    --preds ../shared/data/captions/lp-musiccaps-writing-dev.json --json scores.json --per-row rows.jsonl",
        description="Score predicted captions against references, matched by id: `id`, or `ytid` + `start_s` "
        "(MusicCaps), or the audio file's stem. Several references per item: repeat the id or give "
        "a list. METEOR and the PTB tokenizer need Java 17.",
    )
    c.add_argument(
        "--refs",
        required=True,
        metavar="CSV|JSONL",
        help="references (MusicCaps CSV, or JSON/JSONL with id + caption(s))",
    )
    c.add_argument(
        "--preds",
        required=True,
        metavar="JSONL",
        help="predictions (JSONL or JSON list with id|ytid+start_s|file and prediction|caption)",
    )
    c.add_argument(
        "--json", metavar="OUT", help="write the scores (n, bleu1..4, meteor, rouge_l, cider, sbert, sacrebleu) here"
    )
    c.add_argument("--per-row", metavar="OUT", help="write per-item scores here (JSONL)")
    c.add_argument("--no-sbert", action="store_true", help="skip the SBERT cosine (no model load)")
    c.set_defaults(func=cmd_captions)
    _add_mir_qa(esp)
    _add_search(esp)


# --------------------------------------------------------------------------------------------- mir
def cmd_mir(args) -> int:
    from . import mir

    s = mir.evaluate_mir(args.manifest, args.analysis, trim_s=args.trim, chord_annotator=args.chord_annotator)
    rows = s.pop("rows")
    print(f"scored {s['n']} clips" + (f" ({len(s['missing'])} without predictions)" if s["missing"] else ""))
    print(mir.format_table(s))
    _write_outputs(args, s, rows)
    return 0


# ---------------------------------------------------------------------------------------------- qa
def cmd_qa(args) -> int:
    from . import qa

    s = qa.score_qa(qa.load_qa(args.qa), qa.load_answers(args.preds))
    rows = s.pop("rows")

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}"

    print(
        f"{s['n']} questions ({s['n_fact']} fact, {s['n_open']} open), {s['unanswered']} unanswered, "
        f"{s['unknown_ids']} answers to unknown ids"
    )
    print(
        f"accuracy {pct(s['accuracy'])}  fact {pct(s['fact_accuracy'])}  open {pct(s['open_accuracy'])}  "
        f"keyword recall {pct(s['keyword_recall'])}"
    )
    _write_outputs(args, s, rows)
    return 0


def _add_mir_qa(esp) -> None:
    from ..cli import sub

    m = sub(
        esp,
        "mir",
        "tempo Acc1/Acc2, beat F/Cemgil/P-score, downbeat F, meter, key (MIREX), chords (WCSR) via mir_eval",
        "j2a data render --out rendered --n 20\n"
        "j2a eval mir --manifest rendered/manifest.jsonl\n"
        "j2a analyze ../shared/data/audio --out analysis.jsonl\n"
        "j2a eval mir --manifest ../shared/data/audio/manifest.csv --analysis analysis.jsonl --json mir.json",
        description="Score J2A's analysis against truth: manifest columns (tempo_bpm, meter, key) and annotation "
        "files beside the audio or named in the row (JAMS from `j2a data render`, .beats, .lab). "
        "Without --analysis, J2A analyses every clip here.",
    )
    m.add_argument("--manifest", required=True, metavar="CSV|JSONL", help="clips with truth (file/audio column)")
    m.add_argument(
        "--analysis", metavar="JSONL", help="predictions from `j2a analyze --out x.jsonl` (default: analyse now)"
    )
    m.add_argument(
        "--trim",
        type=float,
        default=5.0,
        metavar="S",
        help="ignore beats before S seconds, as MIREX does (default: %(default)s)",
    )
    m.add_argument(
        "--chord-annotator",
        metavar="NAME",
        help="JAMS chord annotation to score against, e.g. 'human roman-numeral analysis' (default: the first)",
    )
    m.add_argument("--json", metavar="OUT", help="write the summary here")
    m.add_argument("--per-item", metavar="OUT", help="write per-clip scores here (JSON)")
    m.set_defaults(func=cmd_mir)

    q = sub(
        esp,
        "qa",
        "accuracy of answers: exact match for facts, keyword match for open questions",
        "j2a eval qa --qa questions.json --preds answers.jsonl --json qa.json",
        description="QA set: JSON/JSONL of {id, question, answer, kind: fact|open, keywords?}, or MusicQA's "
        "conversation format. Predictions: JSONL of {id, answer}.",
    )
    q.add_argument("--qa", required=True, metavar="JSON", help="questions with reference answers")
    q.add_argument("--preds", required=True, metavar="JSONL", help="answers to score")
    q.add_argument("--json", metavar="OUT", help="write the summary here")
    q.add_argument("--per-item", metavar="OUT", help="write per-question results here (JSON)")
    q.set_defaults(func=cmd_qa)


# ------------------------------------------------------------------------------------------ search
def cmd_search(args) -> int:
    from ..library import Library
    from . import search

    if not Path(args.db).exists():
        print(f"j2a eval search: {args.db}: no such library database (build it with j2a index)", file=sys.stderr)
        return 2
    try:
        queries = search.read_queries(args.queries)
    except (OSError, ValueError) as e:
        print(f"j2a eval search: {e}", file=sys.stderr)
        return 2
    with Library(args.db) as lib:
        summary, rows = search.score(queries, search.run_queries(lib, queries, strict=args.strict))
        passes = search.filter_passes(queries, lambda path: _track_or_none(lib, path))
    print(f"{len(queries)} queries on {args.db}")
    print(search.format_table(summary))
    if passes:
        print("\nEach filter alone, on the analysis of the queries' relevant pieces:")
        print(search.format_passes(passes))
    _write_outputs(args, {**summary, "filters": passes} if passes else summary, rows)
    return 0


def _track_or_none(lib, path: str):
    from ..library import LibraryError

    try:
        return lib.track(path)
    except LibraryError:
        return None


def cmd_search_queries(args) -> int:
    from . import search

    if bool(args.rendered) == bool(args.shared):
        print("j2a eval search-queries: give one of --rendered or --shared", file=sys.stderr)
        return 2
    src = args.rendered or args.shared
    if not Path(src).exists():
        print(f"j2a eval search-queries: {src}: not found", file=sys.stderr)
        return 2
    rows = search.rendered_queries(src, args.n, args.seed) if args.rendered else search.real_queries(src)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    kinds = {k: sum(r["type"] == k for r in rows) for k in dict.fromkeys(r["type"] for r in rows)}
    print(f"{len(rows)} queries to {args.out}: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    return 0


def _add_search(esp) -> None:
    from ..cli import sub

    s = sub(
        esp,
        "search",
        "recall@1/5/10, MRR and nDCG@10 of j2a search / similar on queries with known answers",
        "j2a data render --out set --n 200 --renditions 2 --corpus all\n"
        "j2a index set --db set.db\n"
        "j2a eval search-queries --rendered set/manifest.jsonl --out q.jsonl\n"
        "j2a eval search --db set.db --queries q.jsonl --json search.json",
        description="Each query row: {id, type, query | track, relevant: [audio paths]}; 'track' rows ask "
        "`similar`. Scores use TREC conventions (ir-measures), per query type and overall. A second table judges "
        "each filter the queries set (tempo, key, meter, ...) alone on the analysis of their relevant pieces: how "
        "often it meets, part-meets (a near miss) or misses them, i.e. which measurement loses pieces.",
    )
    s.add_argument("--db", required=True, metavar="FILE", help="library database built by j2a index")
    s.add_argument("--queries", required=True, metavar="JSONL", help="queries with their relevant files")
    s.add_argument("--json", metavar="OUT", help="write the summary here (and the filter table, as 'filters')")
    s.add_argument("--per-item", metavar="OUT", help="write per-query scores and top-10 paths here (JSON)")
    s.add_argument("--strict", action="store_true", help="search without near misses (j2a search --strict)")
    s.set_defaults(func=cmd_search)

    g = sub(
        esp,
        "search-queries",
        "write a query set with exact truth: from rendered scores, or from the shared clips' manifests",
        "j2a eval search-queries --rendered set/manifest.jsonl --out q.jsonl --n 60\n"
        "j2a eval search-queries --shared ../shared --out real.jsonl",
    )
    g.add_argument("--rendered", metavar="JSONL", help="manifest.jsonl of j2a data render (--renditions 2 for similar)")
    g.add_argument("--shared", metavar="DIR", help="the shared data folder (data/audio, data/labelled)")
    g.add_argument("--out", required=True, metavar="JSONL", help="where to write the queries")
    g.add_argument("--n", type=int, default=60, help="attribute queries from a rendered set (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    g.set_defaults(func=cmd_search_queries)
