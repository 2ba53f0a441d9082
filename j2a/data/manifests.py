"""Training manifests for J2A-2.x: one JSON object per line.

    {"audio": "clips/x.wav", "text": "A slow piano ballad ...", "start": 30.0, "end": 40.0,
     "split": "train", "prompt": "Describe this music."}

`audio` and `text` are required; `start`/`end` (seconds) select a segment; `split` is train
(default), valid or test; `prompt` turns a row into an instruction (a question for QA rows, with
`text` as the answer). Relative audio paths are relative to the manifest's folder.

Adapters build manifests from the public caption sets, whose audio users download themselves:
MusicCaps (`j2a data musiccaps`), Song Describer (`j2a data songdescriber`) and
YouTube8M-MusicTextClips (`j2a data yt8m`). YouTube clips disappear (about 7 % of MusicCaps), so
the adapters report how many rows have no audio file and leave them out.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..audio import AUDIO_EXTENSIONS

SPLITS = ("train", "valid", "test")


@dataclass
class Row:
    audio: str
    text: str
    start: float | None = None
    end: float | None = None
    split: str = "train"
    prompt: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def read_jsonl(path: str | Path):
    """Yield (line number, object) for each non-blank line; a bad line raises `PATH:LINE: not JSON`.

    Strict on purpose (unlike the batch journals, which skip a line cut by a kill): a manifest or an
    analysis file with a broken line is a user's error worth naming, not something to guess around."""
    p = Path(path)
    for i, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{i}: not JSON ({e.msg})") from None


def read_manifest(path: str | Path) -> list[Row]:
    """Parse and validate a manifest; errors name the file and line. Audio paths become absolute."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: manifest not found")
    rows = []
    for i, d in read_jsonl(p):
        if not isinstance(d, dict) or not d.get("audio") or not isinstance(d.get("text"), str) or not d["text"].strip():
            raise ValueError(f"{p}:{i}: each line needs 'audio' and a non-empty 'text'")
        split = {"val": "valid", "validation": "valid", "dev": "valid", "eval": "test"}.get(
            d.get("split") or "train", d.get("split") or "train"
        )
        if split not in SPLITS:
            raise ValueError(f"{p}:{i}: split must be one of {', '.join(SPLITS)}, not {d.get('split')!r}")
        audio = Path(d["audio"])
        audio = audio if audio.is_absolute() else (p.parent / audio)
        start = float(d["start"]) if d.get("start") is not None else None
        end = float(d["end"]) if d.get("end") is not None else None
        if start is not None and end is not None and end <= start:
            raise ValueError(f"{p}:{i}: end ({end}) must be after start ({start})")
        rows.append(Row(str(audio), d["text"].strip(), start, end, split, d.get("prompt") or None))
    if not rows:
        raise ValueError(f"{p}: manifest is empty")
    return rows


def write_manifest(rows: list[Row], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w") as f:
        for r in rows:
            f.write(json.dumps(r.to_dict()) + "\n")
    return p


# --------------------------------------------------------------------------------------- adapters
def _index_audio(folder: Path) -> dict[str, Path]:
    """Map every YouTube-id-like stem in a folder to its file ('ID.wav', '[ID]-[30-40].wav', 'ID_30.flac' ...)."""
    import re

    idx: dict[str, Path] = {}
    for f in sorted(folder.rglob("*")):
        if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file():
            idx.setdefault(f.stem, f)
            m = re.match(r"^\[?([A-Za-z0-9_-]{11})\]?", f.stem)
            if m:
                idx.setdefault(m.group(1), f)
    return idx


def _col(row: dict, *names: str, file: Path):
    for n in names:
        if n in row:
            return row[n]
    raise ValueError(f"{file}: no column named {' or '.join(names)} (columns: {', '.join(row)})")


def youtube_manifest(
    csv_path: str | Path,
    audio_dir: str | Path,
    *,
    id_cols=("ytid",),
    start_cols=("start_s",),
    end_cols=("end_s",),
    text_cols=("caption",),
    split_fn=None,
    full_videos: bool = False,
) -> tuple[list[Row], int]:
    """Rows for a YouTube caption CSV whose clips lie in audio_dir; returns (rows, n_missing).

    Downloaded clips are usually already cut to [start, end] (what `j2a data download-musiccaps`
    writes); pass full_videos=True when the files hold the whole videos so start/end are kept.
    """
    csv_path, audio_dir = Path(csv_path), Path(audio_dir)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: CSV not found")
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"{audio_dir}: audio folder not found")
    idx = _index_audio(audio_dir)
    rows, missing = [], 0
    with open(csv_path, newline="") as f:
        for r in csv.DictReader(f):
            vid = _col(r, *id_cols, file=csv_path)
            a = idx.get(vid)
            if a is None:
                missing += 1
                continue
            start = float(_col(r, *start_cols, file=csv_path)) if full_videos else None
            end = float(_col(r, *end_cols, file=csv_path)) if full_videos else None
            rows.append(
                Row(
                    str(a.resolve()),
                    _col(r, *text_cols, file=csv_path).strip(),
                    start,
                    end,
                    split_fn(r) if split_fn else "train",
                )
            )
    return rows, missing


def musiccaps(csv_path, audio_dir, full_videos=False):
    """MusicCaps: is_audioset_eval rows become split 'test' (the usual evaluation split)."""
    return youtube_manifest(
        csv_path,
        audio_dir,
        full_videos=full_videos,
        split_fn=lambda r: "test" if str(r.get("is_audioset_eval", "")).lower() == "true" else "train",
    )


def yt8m(csv_path, audio_dir, full_videos=False, split="train"):
    """YouTube8M-MusicTextClips (train.csv / test.csv: video id, start, end, caption)."""
    return youtube_manifest(
        csv_path,
        audio_dir,
        full_videos=full_videos,
        id_cols=("video_id", "ytid", "youtube_id"),
        start_cols=("start", "start_s", "start_time"),
        end_cols=("end", "end_s", "end_time"),
        text_cols=("caption", "text"),
        split_fn=lambda r: split,
    )


def songdescriber(csv_path: str | Path, audio_dir: str | Path) -> tuple[list[Row], int]:
    """Song Describer (song_describer.csv: caption, path, is_valid_subset); audio paths are relative to audio_dir."""
    csv_path, audio_dir = Path(csv_path), Path(audio_dir)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: CSV not found")
    rows, missing = [], 0
    with open(csv_path, newline="") as f:
        for r in csv.DictReader(f):
            rel = _col(r, "path", file=csv_path)
            a = audio_dir / rel
            if not a.is_file():
                # the distributed audio is often re-encoded: try the same stem with another extension
                alts = (
                    [
                        x
                        for x in a.parent.glob(Path(rel).name.split(".")[0] + ".*")
                        if x.suffix.lower() in AUDIO_EXTENSIONS
                    ]
                    if a.parent.is_dir()
                    else []
                )
                if not alts:
                    missing += 1
                    continue
                a = alts[0]
            split = "valid" if str(r.get("is_valid_subset", "")).lower() == "true" else "train"
            rows.append(Row(str(a.resolve()), _col(r, "caption", file=csv_path).strip(), split=split))
    return rows, missing


def rendered(render_dir: str | Path) -> list[Row]:
    """Training pairs from `j2a data render` output (DIR/manifest.jsonl with captions from known attributes)."""
    p = Path(render_dir)
    p = p / "manifest.jsonl" if p.is_dir() else p
    return read_manifest(p)


# ------------------------------------------------------------------------------------------- CLI
def _run(args, build) -> int:
    rows, missing = build(args)
    if args.limit:
        rows = rows[: args.limit]
    write_manifest(rows, args.out)
    total = len(rows) + missing
    print(
        f"{args.data_command}: {len(rows)} rows -> {args.out}; {missing} of {total} clips missing from "
        f"{args.audio_dir} ({100 * missing / max(1, total):.1f} %)",
        file=sys.stderr,
    )
    return 0 if rows else 1


def add_cli(dsp) -> None:
    from ..cli import sub

    for name, help_, example, fn in [
        (
            "musiccaps",
            "manifest from the MusicCaps CSV and a folder of downloaded clips",
            "j2a data musiccaps musiccaps-public.csv --audio-dir musiccaps-clips --out musiccaps.jsonl",
            lambda a: musiccaps(a.csv, a.audio_dir, a.full_videos),
        ),
        (
            "yt8m",
            "manifest from a YouTube8M-MusicTextClips CSV and a folder of downloaded clips",
            "j2a data yt8m train.csv --audio-dir yt8m-clips --out yt8m-train.jsonl",
            lambda a: yt8m(a.csv, a.audio_dir, a.full_videos, a.split),
        ),
        (
            "songdescriber",
            "manifest from Song Describer's CSV and its audio folder",
            "j2a data songdescriber song_describer.csv --audio-dir audio --out songdescriber.jsonl",
            lambda a: songdescriber(a.csv, a.audio_dir),
        ),
    ]:
        p = sub(dsp, name, help_, example)
        p.add_argument("csv", help="the dataset's caption CSV")
        p.add_argument("--audio-dir", required=True, help="folder with the downloaded audio")
        p.add_argument("--out", "-o", required=True, help="manifest JSONL to write")
        p.add_argument("--limit", type=int, default=0, help="keep only the first N rows")
        if name != "songdescriber":
            p.add_argument(
                "--full-videos", action="store_true", help="files hold whole videos: keep start/end from the CSV"
            )
        if name == "yt8m":
            p.add_argument("--split", default="train", choices=SPLITS, help="split to write (default: %(default)s)")
        p.set_defaults(func=lambda a, fn=fn: _run(a, fn))
