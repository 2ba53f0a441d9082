"""Descriptions against the datasets' own labels: does any claim contradict what a clip is known to contain?

Why: the guard checks a caption against the analysis, so a tagger's mistake it states faithfully is
still a wrong sentence. Every music clip of `../shared/data/labelled` and `../shared/data/audio` is
described with J2A-LLM and its instrument, vocal and genre claims are compared with the labels alone
(`j2a.eval.truth`, where the rules are); mood, usage and absence claims without evidence are listed too.
The same check is the test `tests/eval/test_truth.py`.

    python bench/describe_truth.py                 # J2A-LLM (the default model)
    python bench/describe_truth.py --llm none      # the template
"""

from __future__ import annotations

import argparse

from _common import SHARED  # noqa: E402  (this checkout first on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", default="local")
    args = ap.parse_args()
    from j2a import analyze
    from j2a.eval.truth import contradictions, music_truth, unsupported_assertions
    from j2a.text.describe import describe_many

    truths = music_truth(SHARED)
    descs = describe_many([analyze(t.path) for t in truths], llm=args.llm)
    wrong = []
    for t, d in zip(truths, descs):
        found = contradictions(d.caption, t) + unsupported_assertions(d.caption, d.analysis)
        wrong += [(t.file, c, d.caption) for c in found]
    judged = sum(t.parts is not None or t.sung is not None or t.genres is not None for t in truths)
    print(f"## Descriptions against the labels ({args.llm})\n")
    print(
        f"{len(truths)} music clips described, {judged} with instrument / vocal / genre truth; "
        f"**{len(wrong)} claims contradict the labels or lack evidence**.\n"
    )
    for f, c, cap in wrong:
        print(f'- {f}: {c} — "{cap}"')


if __name__ == "__main__":
    main()
