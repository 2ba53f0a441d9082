"""Caption metrics on MusicCaps dev: LP-MusicCaps' tag-to-caption outputs vs J2A's tag-to-caption, one scorer.

Why: tag-to-caption is the part of J2A that can be compared on MusicCaps without its audio (the
shared folder holds the text only). Every system gets the same input, the row's `aspect_list` tags,
and is scored by `j2a.eval.captions.score_captions` (coco-caption BLEU/METEOR/ROUGE-L/CIDEr with the PTB
tokenizer, SBERT cosine, corpus sacreBLEU; x100) against the same human captions:
- LP-MusicCaps "writing" and "summary" (GPT-3.5 outputs published with the paper; 498 dev rows);
- J2A template: `j2a.text.prompts.template_caption` (deterministic, says only what the tags say);
- J2A LLM: `j2a.llm.load_llm(--llm)` on `j2a.text.prompts.format_prompt(tags)`, on the first --llm-limit rows
  (CPU generation is slow), with the other systems re-scored on exactly those rows.
The scorer's own speed is reported too.

    nice -n 10 .venv/bin/python bench/caption_metrics.py --llm-limit 40
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
import time

from _common import CAPTIONS as CAPS  # noqa: E402  (and this checkout first on sys.path)

RUN_ALL_ARGS = ["--llm-limit", "40"]
KEYS = ["bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider", "sbert", "sacrebleu"]


def aspects_by_id() -> dict[str, list[str]]:
    from j2a.eval.captions import item_id

    with open(CAPS / "musiccaps-dev.csv", newline="") as f:
        return {item_id(r): ast.literal_eval(r["aspect_list"]) for r in csv.DictReader(f)}


def row(name: str, s: dict, secs: float | None = None) -> str:
    cells = ["-" if s.get(k) is None else f"{s[k]:.1f}" for k in KEYS]
    return f"| {name} | {s['n']} | " + " | ".join(cells) + (f" | {secs:.1f} |" if secs is not None else " | |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", default="local", help="J2A LLM backend for the LLM row (default: %(default)s)")
    ap.add_argument(
        "--llm-limit", type=int, default=40, help="rows captioned by the LLM; 0 = skip (default: %(default)s)"
    )
    a = ap.parse_args(argv)

    from j2a.eval.captions import load_preds, load_refs, score_captions
    from j2a.text.prompts import format_prompt, template_caption

    refs = load_refs(CAPS / "musiccaps-dev.csv")
    tags = aspects_by_id()
    systems = {
        "LP-MusicCaps writing (GPT-3.5)": load_preds(CAPS / "lp-musiccaps-writing-dev.json"),
        "LP-MusicCaps summary (GPT-3.5)": load_preds(CAPS / "lp-musiccaps-summary-dev.json"),
    }
    ids = [k for k in systems["LP-MusicCaps writing (GPT-3.5)"] if k in refs]
    systems["J2A template (tags only)"] = {k: template_caption(tags[k]) for k in ids}

    head = "| system | n | B1 | B2 | B3 | B4 | METEOR | ROUGE-L | CIDEr | SBERT | sacreBLEU | scoring s |"
    sep = "|" + "---|" * 12
    lines = [
        "## Caption metrics on MusicCaps dev (tag-to-caption, same scorer)",
        "",
        "Input for every system: the row's `aspect_list`; references: the human MusicCaps captions "
        "(`../shared/data/captions/musiccaps-dev.csv`). All metrics x100 from `j2a.eval.captions.score_captions`.",
        "",
        head,
        sep,
    ]
    for name, preds in systems.items():
        t = time.perf_counter()
        s = score_captions(refs, preds)
        lines.append(row(name, s, time.perf_counter() - t))
        print(lines[-1], file=sys.stderr)
    lines += [
        "",
        "The LP-MusicCaps rows reproduce the issue's pinned values (B1 36.9, B2 20.4, B3 11.8, B4 6.9, "
        "METEOR 18.6, ROUGE-L 24.7, CIDEr 34.2, SBERT 70.2 for writing), checked by tests/test_evaluate_captions.py.",
    ]

    if a.llm_limit > 0:
        sub = ids[: a.llm_limit]
        lines += ["", f"### With J2A's LLM ({a.llm!r}) on the first {len(sub)} rows", ""]
        try:
            from j2a.llm import load_llm

            t = time.perf_counter()
            llm = load_llm(a.llm)
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            outs = llm.generate([format_prompt(tags[k]) for k in sub], max_new_tokens=120)
            gen_s = time.perf_counter() - t
            subsys = {n: {k: p[k] for k in sub if k in p} for n, p in systems.items()}
            subsys[f"J2A LLM ({getattr(llm, 'name', a.llm)})"] = dict(zip(sub, outs))
            lines += [head, sep]
            for name, preds in subsys.items():
                lines.append(row(name, score_captions(refs, preds)))
            lines += [
                "",
                f"LLM load {load_s:.1f} s; generation {gen_s:.1f} s for {len(sub)} captions "
                f'({gen_s / len(sub):.2f} s each, CPU, machine shared). Example: "{outs[0]}"',
            ]
        except Exception as e:  # no local model: say so rather than drop the row silently
            lines.append(f"J2A LLM unavailable here: {type(e).__name__}: {e}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
