"""Evaluators behind `j2a eval`: captions (coco-caption + SBERT + sacreBLEU), MIR features (mir_eval), QA.

Each sub-module is importable on its own and loads heavy things (Java, SBERT, mir_eval) only when it
scores, so `j2a --help` stays fast. `j2a.eval.cli` is `j2a eval`.
"""
