"""`j2a describe`: analysis -> prompt -> J2A-LLM -> faithfulness guard -> description of the whole track.

Why a guard after the model: a small language model writes fluent MusicCaps-style text but also
invents instruments and singers it was never told about. Every sentence is checked claim by claim
(j2a.text.claims, j2a.text.evidence) against the analysis; sentences with unsupported claims are
repaired or dropped (j2a.text.guard), the text is regenerated with another seed when too much was
lost, and after `max_tries` the deterministic template (which only restates the analysis) is used.
Non-music input never gets a song description. Time-stamped sections: j2a.text.sections.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..analysis import Analysis, as_analysis, is_saved_analysis, iter_analyses, read_analysis_at
from . import prompts
from .aspects import aspects_from_analysis
from .claims import extract_claims
from .guard import article, guard, split_sentences
from .sections import describe_sections


@dataclass
class Faithfulness:
    checked: list[dict] = field(default_factory=list)  # {category, phrase, concept, negated, supported, evidence}
    dropped: list[dict] = field(default_factory=list)  # {try, sentence, claims}
    tries: int = 0
    fallback: bool = False  # the template was used


@dataclass
class Description:
    caption: str
    sections: list[dict]
    analysis: Analysis
    model: str
    faithfulness: Faithfulness

    def to_dict(self) -> dict:
        return {
            "file": self.analysis.file,
            "caption": self.caption,
            "sections": self.sections,
            "model": self.model,
            "faithfulness": dataclasses.asdict(self.faithfulness),
            "analysis": self.analysis.to_dict(),
        }


@dataclass
class DescribeConfig:
    max_new_tokens: int = 160
    min_words: int = 12  # a guarded caption shorter than this is regenerated
    max_drop_fraction: float = 0.5  # more than half the sentences dropped -> try again
    temperature: float = 0.7  # for retries (the first try uses the backend's default decoding)
    facts: bool = True  # add the measured tempo / meter / key / chords the model's text does not state
    num_beams: int | None = (
        None  # first try with a local model: beams (None = GenConfig's 4, j2a.llm.decoding; 1 = greedy)
    )


# ------------------------------------------------------------------------------------- backends
def get_llm(spec="local", adapter=None):
    """An LLM backend from j2a.llm (cached there), or an object with `.generate` passed straight through."""
    if not isinstance(spec, str):
        return spec
    from ..llm import load_llm

    return load_llm(spec, adapter=adapter)


# Retries decode differently, so a regenerated caption is not the same text again: the first try
# uses the backend's own decoding (beam search for the J2A-LLM); retries sample with a seed (reproducible).
_RETRY = [{}, {"temperature": 0.7, "seed": 1}, {"temperature": 0.9, "seed": 2}]


def _generate(
    llm, prompts: list[str], max_new_tokens: int, attempt: int, temperature: float, num_beams: int | None = None
) -> list[str]:
    kw = {"num_beams": num_beams} if num_beams and hasattr(llm, "gen") else {}
    if attempt > 0:
        if hasattr(llm, "gen"):  # j2a.llm.backends.HFLLM: GenConfig fields (temperature, seed) per call
            kw = dict(_RETRY[min(attempt, len(_RETRY) - 1)])
        elif hasattr(llm, "base_url"):  # j2a.llm.backends.OpenAILLM
            kw = {"temperature": temperature}
    return llm.generate(prompts, max_new_tokens=max_new_tokens, **kw)


# ------------------------------------------------------------------------------------ non-music
_REASON_PHRASE = {
    "speech": "it sounds like speech",
    "silence": "it is silent",
    "noise": "it sounds like noise",
    "nature": "it sounds like natural (non-musical) sound",
    "animal": "it sounds like an animal",
    "non-musical sound": "it sounds like a non-musical sound",
}


def not_music_statement(analysis: Analysis) -> str:
    reason = ((analysis.music.reason if analysis.music else "") or "").strip().lower().split(":")[0]
    source = (analysis.music.source if analysis.music else None) or {}
    if source.get("label") and source["label"] != "speech":  # what YAMNet heard: "a machine", "a bird"
        from ..features.fusion import sound_phrase

        # the AudioSet class name stays in analysis.music.reason: names like "Bird vocalization" would read
        # as musical claims here
        return (
            f"This recording does not appear to be music: it sounds like {sound_phrase(source['label'])} "
            f"(score {source['score']:.2f})."
        )
    phrase = _REASON_PHRASE.get(reason)
    if phrase is None and reason and reason != "music":
        phrase = (
            f"it sounds like {reason}"
            if reason.endswith("s") or " " in reason
            else f"it sounds like {article(reason)} {reason}"
        )
    return "This recording does not appear to be music" + (f": {phrase}." if phrase else ".")


# --------------------------------------------------------------------------------------- describe
def captions_from_analyses(
    analyses: list[Analysis], llm="local", max_tries: int = 3, adapter=None, config: DescribeConfig | None = None
) -> list[tuple[str, str, Faithfulness]]:
    """(caption, model name, faithfulness) per music analysis: guarded, retried, template fallback.

    Batched: each try sends every caption still needing one to the backend in a single call, so a
    folder of tracks costs a few batched generations, not one generation per track per try.
    """
    cfg = config or DescribeConfig()
    backend = get_llm(llm, adapter)
    name = getattr(backend, "name", str(llm))
    inputs = [aspects_from_analysis(a) for a in analyses]
    fzs = [Faithfulness() for _ in analyses]
    best = [""] * len(analyses)
    short = [""] * len(analyses)  # the longest try that lost no more than it may, but is under min_words
    todo = list(range(len(analyses))) if name != "none" else []
    for attempt in range(max(1, max_tries)):
        if not todo:
            break
        raws = _generate(
            backend,
            [prompts.format_prompt(*inputs[i]) for i in todo],
            cfg.max_new_tokens,
            attempt,
            cfg.temperature,
            cfg.num_beams,
        )
        still = []
        for i, raw in zip(todo, raws):
            fz = fzs[i]
            fz.tries = attempt + 1
            kept, fz.checked, dropped = guard(raw, analyses[i])
            kept, empty = drop_empty_sentences(kept)
            fz.dropped += [dict(d, attempt=attempt + 1) for d in dropped + empty]
            n = len(split_sentences(raw)) or 1
            lost = sum(1 for d in dropped if "rewritten" not in d)  # an empty sentence was no error: not lost
            if len(kept.split()) >= cfg.min_words and lost / n <= cfg.max_drop_fraction:
                best[i] = kept  # clean, or clean after dropping a minority of sentences: keep it
            else:
                if lost / n <= cfg.max_drop_fraction and len(kept.split()) > len(short[i].split()):
                    short[i] = kept
                still.append(i)
        todo = still
    out = []
    for i, a in enumerate(analyses):
        fz, model = fzs[i], name
        if not best[i] and cfg.facts and len(short[i].split()) >= cfg.min_words // 2:
            best[i] = short[i]  # short but clean: the measured facts below make it a description
        if best[i] and cfg.facts:
            best[i], fz.checked, _ = guard(with_facts(best[i], inputs[i][1]), a)
        if not best[i]:
            fz.fallback = name != "none"  # with --llm none the template is the model, not a fallback
            best[i], fz.checked, dropped = guard(prompts.template_caption(*inputs[i]), a)
            fz.dropped += [dict(d, attempt="template") for d in dropped]
            model = f"template (after {name})" if name != "none" else "template"
        out.append((best[i], model, fz))
    return out


# an article and at most two more words, no verb among them: "The strings.", "A lead melody."
_FRAGMENT = re.compile(r"^(?:The|A|An)(?: (?!is\b|are\b|was\b|plays?\b|sings?\b)[\w-]+){0,2}[.!?]?$")


def drop_empty_sentences(text: str) -> tuple[str, list[dict]]:
    """(text without the sentences that claim nothing new, those sentences as dropped rows).

    Why: the guard cuts unsupported words out of a sentence, and what is left can be true but empty ("The song
    has a calm atmosphere." -> "The song has an atmosphere."), as are some of the model's own fillers ("This is
    a recording."); and a small model repeats itself ("This instrumental song features no voices. This musical
    is an instrumental."). A sentence whose every claim an earlier sentence made tells the listener nothing."""
    kept, empty, said = [], [], set()
    for sent in split_sentences(text):
        if _FRAGMENT.match(sent):  # "The strings." (what a repair of the model's sentence left): no sentence
            empty.append({"sentence": sent, "claims": [], "reason": "a fragment"})
            continue
        claims = {(c.category, c.concept, c.negated) for c in extract_claims(sent)}
        if claims - said:
            kept.append(sent)
            said |= claims
        else:
            empty.append({"sentence": sent, "claims": [], "reason": "says nothing new" if claims else "says nothing"})
    return " ".join(kept), empty


def with_facts(text: str, facts: dict) -> str:
    """The model's guarded text, then the measured facts it does not state (tempo, meter, key, chords).

    Why: J2A-LLM writes in MusicCaps' style, which seldom names a BPM, a key or chords, yet those are what J2A
    measures best and what a musician asks first. A fact the text already states (a BPM, a meter, a full
    key) is not repeated; the duration is left to the analysis."""
    said = set()
    for c in extract_claims(text):
        if c.category == "tempo" and c.value is not None:
            said.add("tempo")
        elif c.category == "meter":
            said.add("meter")
        elif c.category == "key" and " " in str(c.value or ""):
            said.add("key")
    return " ".join([text, *prompts.fact_sentences(facts, said, duration=False)])


def caption_from_analysis(
    analysis: Analysis, llm="local", max_tries: int = 3, adapter=None, config: DescribeConfig | None = None
) -> tuple[str, str, Faithfulness]:
    """(caption, model name, faithfulness) for one music analysis; see captions_from_analyses."""
    return captions_from_analyses([analysis], llm, max_tries, adapter, config)[0]


def describe_many(
    sources, llm="local", sections: bool = False, max_tries: int = 3, adapter=None, config: DescribeConfig | None = None
) -> list[Description]:
    """`describe` for several tracks with batched LLM calls (paths, Analyses or dicts)."""
    analyses = [as_analysis(x) for x in sources]
    music = [i for i, a in enumerate(analyses) if a.is_music]
    caps = dict(zip(music, captions_from_analyses([analyses[i] for i in music], llm, max_tries, adapter, config)))
    out = []
    for i, (x, a) in enumerate(zip(sources, analyses)):
        if i not in caps:
            out.append(Description(not_music_statement(a), [], a, "rule: not music", Faithfulness()))
            continue
        secs = describe_sections(a, audio_path=_path_of(x, a)) if sections else []
        out.append(Description(caps[i][0], secs, a, caps[i][1], caps[i][2]))
    return out


def describe(
    path_or_analysis,
    llm="local",
    sections: bool = False,
    max_tries: int = 3,
    adapter=None,
    model: str | None = None,
    config: DescribeConfig | None = None,
) -> Description:
    """Describe a whole track: a guarded caption, optional time-stamped sections, and the analysis.

    `path_or_analysis`: an audio path, an Analysis, or its dict. `llm`: "local" (J2A-LLM), "none"
    (template), "hf:...", "openai:model@url" or an object with `.generate(prompts, max_new_tokens)`.
    `model`: a trained J2A-2.x checkpoint that writes the caption straight from audio (still guarded).
    """
    if model and model not in _CKPTS and not Path(model).exists():
        raise ValueError(f"{model}: no such J2A-2.x checkpoint")
    a = as_analysis(path_or_analysis)
    if not a.is_music:
        return Description(not_music_statement(a), [], a, "rule: not music", Faithfulness())
    if model:
        caption, name, fz = _caption_from_checkpoint(model, path_or_analysis, a, config)
    else:
        caption, name, fz = caption_from_analysis(a, llm, max_tries, adapter, config)
    secs = describe_sections(a, audio_path=_path_of(path_or_analysis, a)) if sections else []
    return Description(caption, secs, a, name, fz)


def _path_of(x, a: Analysis) -> str | None:
    if isinstance(x, (str, Path)) and not is_saved_analysis(x):
        return str(x)
    return a.file if a.file and Path(a.file).exists() else None


_CKPTS: dict = {}


def load_checkpoint(model: str):
    """A J2A-2.x checkpoint, loaded once per process; a one-line ValueError when it is not one."""
    if model not in _CKPTS:
        if not Path(model).exists():
            raise ValueError(f"{model}: no such J2A-2.x checkpoint")
        try:
            from ..models import load_j2a2
        except ImportError:
            raise ValueError(
                f"{model}: cannot load J2A-2.x checkpoints (j2a.models.load_j2a2 is not available)"
            ) from None
        try:
            _CKPTS[model] = load_j2a2(model)
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise ValueError(
                f"{model}: not a J2A-2.x checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
            ) from None
    return _CKPTS[model]


def checkpoint_and_audio(model: str, source, a: Analysis):
    """(J2A-2.x model, audio path) for `source`: the checkpoint listens to the audio, so an Analysis
    alone is not enough."""
    path = _path_of(source, a)
    if path is None:
        raise ValueError("--model (a J2A-2.x checkpoint) needs the audio file, not only an analysis")
    return load_checkpoint(model), path


def _caption_from_checkpoint(model, source, a, config):
    """Caption from a J2A-2.x checkpoint (audio in, words out), through the same guard."""
    m, path = checkpoint_and_audio(model, source, a)
    fz = Faithfulness(tries=1)  # its decoding is deterministic: a retry would repeat the same text
    kept, fz.checked, dropped = guard(m.describe(path), a)
    fz.dropped = [dict(d, attempt=1) for d in dropped]
    if len(kept.split()) >= (config or DescribeConfig()).min_words:
        return kept, f"j2a2:{Path(model).name}", fz
    caption, _, fz2 = caption_from_analysis(a, "none", 1)
    fz.fallback, fz.checked = True, fz2.checked
    return caption, "template (after j2a2)", fz


# -------------------------------------------------------------------------------------------- CLI
# analyses saved in files given to `j2a describe`, by their audio path: the analysis itself, or where its
# JSON line starts (a library's JSONL is indexed, not held in memory)
_SAVED: dict[str, Analysis | tuple[str, int]] = {}


def _read_saved(paths: list[str]) -> list[str]:
    """Index saved analysis files into _SAVED (also each worker's initializer); their audio paths, in order."""
    keys = []
    for p in paths:
        for offset, a in iter_analyses(p):
            _SAVED[a.file] = a if offset is None else (p, offset)
            keys.append(a.file)
    return list(dict.fromkeys(keys))


def _describe_one(
    path: str, llm="local", sections=False, adapter=None, model=None, beams=None, facts: bool = True
) -> dict:
    cfg = DescribeConfig(num_beams=beams, facts=facts)
    src = _SAVED.get(path, path)
    src = read_analysis_at(*src) if isinstance(src, tuple) else src
    return describe(src, llm=llm, sections=sections, adapter=adapter, model=model, config=cfg).to_dict()


def flatten_description(d: dict) -> dict:
    fz = d.get("faithfulness") or {}
    return {
        "file": d.get("file"),
        "caption": d.get("caption"),
        "model": d.get("model"),
        "tries": fz.get("tries"),
        "fallback": fz.get("fallback"),
        "dropped": len(fz.get("dropped") or []),
        "sections": " | ".join(s["caption"] for s in d.get("sections") or []),
    }


def text_description(d: dict) -> str:
    """A description for people (--format text): file, caption, sections, and which model wrote it."""
    fz = d.get("faithfulness") or {}
    cut = sum(1 for r in fz.get("dropped") or [] if "rewritten" not in r)
    lines = [Path(d["file"]).name if d.get("file") else "(analysis)", "  " + d["caption"]]
    lines += [f"  {s['caption']}" for s in d.get("sections") or []]
    lines.append(f"  ({d.get('model')}" + (f"; {cut} sentence{'s' * (cut != 1)} cut by the guard)" if cut else ")"))
    return "\n".join(lines) + "\n"


def cmd_describe(args) -> int:
    from ..batch import append_jsonl, errors_path, run_batch
    from ..cli import parquet_needs_ray

    if args.engine == "ray":
        from ..cluster import cmd_run

        unsupported = [f"--{f.replace('_', '-')}" for f in ("sections", "model", "no_facts") if getattr(args, f)]
        unsupported += [x for x in args.inputs if is_saved_analysis(x)]
        if unsupported:
            print(f"describe --engine ray: not with {', '.join(unsupported)} (audio inputs only)", file=sys.stderr)
            return 2
        return cmd_run("describe", args)
    if parquet_needs_ray("describe", args):
        return 2

    fn = partial(
        _describe_one,
        llm=args.llm,
        sections=args.sections,
        adapter=args.adapter,
        model=args.model,
        beams=args.beams,
        facts=not args.no_facts,
    )
    inputs, saved, bad = [], [], []
    for x in args.inputs:  # saved analyses (from `j2a analyze --out X.jsonl`) are described without re-analysis
        if not is_saved_analysis(x):
            inputs.append(x)
            continue
        try:
            inputs += _read_saved([x])
            saved.append(x)
        except ValueError as e:
            print(e, file=sys.stderr, flush=True)
            bad.append({"file": x, "error": str(e)})
    init = partial(_read_saved, saved) if saved and args.workers > 1 else None
    res = run_batch(
        inputs,
        fn,
        out=args.out,
        fmt=args.format,
        resume=args.resume,
        workers=args.workers,
        desc="describe",
        flatten=flatten_description,
        render=text_description,
        initializer=init,
    )
    res.failed += bad
    if args.out:
        for row in bad:  # beside the batch's own errors (run_batch starts that file afresh)
            append_jsonl(errors_path(args.out), row)
        print(
            f"describe: {len(res.done)} done ({res.skipped} already there), {len(res.failed)} failed -> {args.out}",
            file=sys.stderr,
        )
    return res.exit_code


def add_cli(subparsers) -> None:
    from ..cli import add_batch_args, add_engine_args, sub

    p = sub(
        subparsers,
        "describe",
        "describe whole tracks in words (guarded against unsupported claims)",
        "j2a describe song.mp3\n"
        "j2a describe song.mp3 --sections --format json\n"
        "j2a describe ~/Music --out captions.jsonl --resume\n"
        "j2a describe library.jsonl --out captions.jsonl   # analyses saved by `j2a analyze --out`: no re-analysis\n"
        "j2a describe song.wav --llm none            # template only, no language model\n"
        "j2a describe song.wav --beams 1             # greedy decoding: faster\n"
        "j2a describe ~/Music --engine ray --gpus-per-actor 1 --out runs/captions/   # on a Ray cluster",
    )
    add_batch_args(
        p,
        inputs_help="audio files and/or folders (walked recursively), or analyses saved by "
        "`j2a analyze --out X.json|X.jsonl` (described without analysing again)",
    )
    p.add_argument("--sections", action="store_true", help="add time-stamped descriptions of the track's sections")
    p.add_argument(
        "--llm",
        default="local",
        metavar="SPEC",
        help="local (J2A-LLM, default) | none (template) | hf:MODEL_ID_OR_PATH | openai:MODEL@BASE_URL",
    )
    p.add_argument("--adapter", metavar="PATH", help="LoRA adapter folder for the LLM")
    p.add_argument("--model", metavar="PATH", help="a trained J2A-2.x checkpoint (audio -> caption) instead of the LLM")
    p.add_argument(
        "--beams",
        type=int,
        metavar="N",
        help="beam search width for the local LLM (default 4; 1 = greedy: "
        "faster, scores lower; both measured in bench/RESULTS.md)",
    )
    p.add_argument(
        "--no-facts",
        action="store_true",
        help="the language model's guarded text only: do not add the measured tempo, meter, key and chords it leaves out",
    )
    add_engine_args(p)
    p.set_defaults(func=cmd_describe)
