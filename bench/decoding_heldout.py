"""Decoding settings for J2A-LLM, chosen on the *train* rows held out by `j2a train-llm` (never dev).

The adapter's training.json names its seed and hold-out size; the same split is rebuilt here, each
setting captions those rows from their aspect lists, and every setting is scored with the caption
scorer (coco-caption + SBERT). Only settings are compared, so CIDEr's small-set document
frequencies do not matter.

    python bench/decoding_heldout.py --adapter runs/j2a-llm --settings ngram3,beam4,beam4_lp1.5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import CAPTIONS, REPO  # noqa: E402  (and this checkout first on sys.path)

SETTINGS = {  # name -> GenConfig overrides (j2a.llm.decoding.GenConfig)
    "ngram3": {"no_repeat_ngram_size": 3},
    "ngram4": {"no_repeat_ngram_size": 4},
    "ngram0": {"no_repeat_ngram_size": 0},
    "ngram3_min40": {"no_repeat_ngram_size": 3, "min_new_tokens": 40},
    "ngram3_min50": {"no_repeat_ngram_size": 3, "min_new_tokens": 50},
    "beam3": {"no_repeat_ngram_size": 3, "num_beams": 3},
    "beam4": {"no_repeat_ngram_size": 3, "num_beams": 4},
    "beam4_lp1.5": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 1.5},
    "beam4_lp2": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 2.0},
    "beam4_lp2.5": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 2.5},
    "beam4_lp3": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 3.0},
    "beam4_lp1.5_min50": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 1.5, "min_new_tokens": 50},
    "beam4_lp1.5_stop1": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 1.5, "stop_penalty": 1},
    "beam4_lp1.5_stop2": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 1.5, "stop_penalty": 2},
    "beam4_lp1.5_stop3": {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 1.5, "stop_penalty": 3},
}


def main() -> int:
    from j2a.eval.captions import score_captions
    from j2a.llm import load_llm
    from j2a.text import prompts
    from j2a.training import llm as lt
    from j2a.training import llm_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapter", default=str(REPO / "j2a" / "assets" / "j2a-llm"))
    ap.add_argument("--data", default=str(CAPTIONS / "musiccaps-train.csv"))
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--max-new-tokens", type=int, default=110)
    ap.add_argument("--batch-size", type=int, default=16, help="prompts per generate step (1 = as describe runs)")
    ap.add_argument(
        "--decode",
        default="fp32",
        help="decode-step precision of the local model: fp32 (default, as "
        "j2a caption-tags) | int8 (describe's default) | bf16",
    )
    args = ap.parse_args()

    cfg = json.loads((Path(args.adapter) / "training.json").read_text())["config"]
    rows = [r for r in llm_data.read_captions_csv(args.data) if r["caption"]]
    split = lt.LLMTrainConfig(
        **{k: v for k, v in cfg.items() if k in lt.LLMTrainConfig.__dataclass_fields__}
    ).held_out_seed
    _, held = llm_data.split_rows(rows, cfg["holdout"], split)
    refs = {f"{r['ytid']}_{r['start_s']}": [r["caption"]] for r in held}
    print(
        f"{len(held)} held-out train rows (split seed {split}); batch {args.batch_size}, decode {args.decode}",
        flush=True,
    )
    print("| setting | B1 | B4 | METEOR | ROUGE-L | CIDEr | SBERT | words | s |\n|---|---|---|---|---|---|---|---|---|")
    llm = load_llm("local", adapter=args.adapter, decode=args.decode)  # one model; settings go per generate() call
    ps = [prompts.format_prompt(r["aspects"]) for r in held]  # as lt.caption_rows builds them
    for name in args.settings.split(","):
        t = time.time()
        preds = dict(
            zip(
                refs, llm.generate(ps, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, **SETTINGS[name])
            )
        )
        dt = time.time() - t
        s = score_captions(refs, preds)
        words = sum(len(p.split()) for p in preds.values()) / len(preds)
        print(
            f"| {name} | {s['bleu1']:.1f} | {s['bleu4']:.1f} | {s['meteor']:.1f} | {s['rouge_l']:.1f} | {s['cider']:.1f} | "
            f"{s['sbert']:.1f} | {words:.0f} | {dt:.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
