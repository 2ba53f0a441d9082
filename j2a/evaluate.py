"""`j2a eval`: one offline command that scores captions, MIR features and QA answers.

The scorers live in `j2a.eval.captions`, `j2a.eval.mir` and `j2a.eval.qa`; this module re-exports their
public functions (so `from j2a.evaluate import score_captions` works) and wires up the CLI.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .eval.captions import METRICS, format_table, load_preds, load_refs, match, score_captions  # noqa: F401

__all__ = ["score_captions", "load_refs", "load_preds", "match", "METRICS", "add_cli"]


def __getattr__(name):  # lazy re-exports: mir/qa import mir_eval etc. only when used
    if name in {"score_mir", "load_truth", "evaluate_mir"}:
        from .eval import mir

        return getattr(mir, name)
    if name in {"score_qa", "load_qa"}:
        from .eval import qa

        return getattr(qa, name)
    raise AttributeError(name)


def _write_json(path: str, obj) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2) + "\n")


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
    print(f"matched {s['n']} of {s['n_preds']} predictions to {s['n_refs']} references "
          f"({s['unmatched_preds']} predictions and {s['unmatched_refs']} references unmatched)")
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
    from .cli import sub

    p = sub(subparsers, "eval", "score captions, MIR features or QA answers against references (offline)",
            "j2a eval captions --refs musiccaps-dev.csv --preds captions.jsonl --json scores.json\n"
            "j2a eval mir --manifest rendered/manifest.csv\n"
            "j2a eval qa --qa questions.json --preds answers.jsonl")
    esp = p.add_subparsers(dest="eval_command", metavar="WHAT")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    c = sub(esp, "captions", "BLEU-1..4, METEOR, ROUGE-L, CIDEr (coco-caption), SBERT cosine, sacreBLEU; all x100",
            "j2a eval captions --refs ../shared/data/captions/musiccaps-dev.csv \\\n"
            "    --preds ../shared/data/captions/lp-musiccaps-writing-dev.json --json scores.json --per-row rows.jsonl",
            description="Score predicted captions against references, matched by id: `id`, or `ytid` + `start_s` "
                        "(MusicCaps), or the audio file's stem. Several references per item: repeat the id or give "
                        "a list. METEOR and the PTB tokenizer need Java 17.")
    c.add_argument("--refs", required=True, metavar="CSV|JSONL", help="references (MusicCaps CSV, or JSON/JSONL with id + caption(s))")
    c.add_argument("--preds", required=True, metavar="JSONL", help="predictions (JSONL or JSON list with id|ytid+start_s|file and prediction|caption)")
    c.add_argument("--json", metavar="OUT", help="write the scores (n, bleu1..4, meteor, rouge_l, cider, sbert, sacrebleu) here")
    c.add_argument("--per-row", metavar="OUT", help="write per-item scores here (JSONL)")
    c.add_argument("--no-sbert", action="store_true", help="skip the SBERT cosine (no model load)")
    c.set_defaults(func=cmd_captions)
