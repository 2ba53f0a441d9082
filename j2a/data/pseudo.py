"""`j2a data pseudo-caption DIR`: caption unlabeled audio with J2A-1.0 to make J2A-2.x training pairs.

LP-MusicCaps' idea: where no human captions exist, let a tag/feature-grounded captioner write them.
J2A-1.0's captions are built from measured facts (tempo, key, tags) and guarded against claims the
analysis does not support, so they are safe, if plain, targets. Output is a manifest (audio, text)
written through the batch runner: flushed per file, `--resume` skips finished files, bad files are
reported and skipped.
"""

from __future__ import annotations

import sys


def _caption(path: str, llm: str) -> dict:
    from ..text.describe import describe

    d = describe(path, llm=llm)
    return {"file": path, "audio": path, "text": d.caption, "split": "train", "source": d.model}


def add_cli(dsp) -> None:
    from ..cli import add_batch_args, sub

    p = sub(
        dsp,
        "pseudo-caption",
        "caption unlabeled audio with J2A-1.0 into a training manifest",
        "j2a data pseudo-caption ~/Music --out pseudo.jsonl --resume\n"
        "j2a train --data pseudo.jsonl --out runs/pseudo --encoder musicnn",
    )
    add_batch_args(p, text=False)  # it writes a training manifest, never text
    p.add_argument(
        "--llm", default="local", help="J2A-1.0 LLM: local (J2A-LLM), none (template), hf:ID (default: %(default)s)"
    )

    def run(a) -> int:
        from functools import partial

        from ..batch import run_batch

        if a.format != "jsonl":
            raise ValueError("pseudo-caption writes a manifest: use --format jsonl")
        res = run_batch(
            a.inputs,
            partial(_caption, llm=a.llm),
            out=a.out,
            fmt="jsonl",
            resume=a.resume,
            workers=a.workers,
            desc="pseudo-caption",
        )
        if a.out:
            print(
                f"pseudo-caption: {len(res.done)} captions ({res.skipped} already there), {len(res.failed)} failed -> {a.out}",
                file=sys.stderr,
            )
        return res.exit_code

    p.set_defaults(func=run)
