"""`j2a data download-musiccaps`: fetch MusicCaps' 10-s clips from YouTube (needs internet).

Why a separate step: MusicCaps ships only YouTube ids and times. Each clip is fetched with yt-dlp
(best audio stream) and cut and converted by ffmpeg to mono WAV `OUT/<ytid>.wav`, the naming
`j2a data musiccaps` expects. Already downloaded clips are skipped, so a killed run resumes; clips
that are gone from YouTube (about 7 %) are listed in `OUT/missing.jsonl` with the reason.
Not run in tests (no internet there); the command line it builds is unit-tested.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def commands(ytid: str, start: float, end: float, out_wav: Path, sr: int = 44100) -> tuple[list[str], list[str]]:
    """(yt-dlp command printing the audio stream URL, ffmpeg command cutting [start, end) to WAV)."""
    url = f"https://www.youtube.com/watch?v={ytid}"
    ytdlp = ["yt-dlp", "--quiet", "--no-warnings", "-f", "bestaudio/best", "--get-url", url]
    ffmpeg = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        f"{start:g}",
        "-t",
        f"{end - start:g}",
        "-i",
        "{URL}",
        "-ac",
        "1",
        "-ar",
        str(sr),
        "-c:a",
        "pcm_s16le",
        str(out_wav),
    ]
    return ytdlp, ffmpeg


def fetch(ytid: str, start: float, end: float, out_dir: Path, sr: int = 44100, timeout: float = 120.0) -> str | None:
    """Download one clip; None on success, else the reason."""
    out = out_dir / f"{ytid}.wav"
    if out.exists() and out.stat().st_size > 0:
        return None
    ytdlp, ffmpeg = commands(ytid, start, end, out.with_suffix(".part.wav"), sr)
    try:
        r = subprocess.run(ytdlp, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0 or not r.stdout.strip():
            return (r.stderr.strip().splitlines() or ["yt-dlp failed"])[-1][:300]
        ffmpeg[ffmpeg.index("{URL}")] = r.stdout.strip().splitlines()[0]
        r = subprocess.run(ffmpeg, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            return (r.stderr.strip().splitlines() or ["ffmpeg failed"])[-1][:300]
    except subprocess.TimeoutExpired:
        return "timed out"
    out.with_suffix(".part.wav").rename(out)
    return None


def download_musiccaps(
    csv_path: str | Path, out_dir: str | Path, limit: int = 0, workers: int = 4, sr: int = 44100
) -> tuple[int, int]:
    """Download every clip of a MusicCaps CSV into out_dir; returns (ok, missing)."""
    for tool in ("yt-dlp", "ffmpeg"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool}: not installed (pip install yt-dlp; apt-get install ffmpeg)")
    csv_path, out_dir = Path(csv_path), Path(out_dir)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: CSV not found")
    rows = list(csv.DictReader(open(csv_path, newline="")))
    if rows and not {"ytid", "start_s", "end_s"} <= set(rows[0]):
        raise ValueError(f"{csv_path}: needs columns ytid, start_s, end_s (a MusicCaps CSV)")
    rows = rows[:limit] if limit else rows
    out_dir.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    ok = missing = 0
    with ThreadPoolExecutor(max(1, workers)) as ex, open(out_dir / "missing.jsonl", "a") as miss:
        futs = [(r, ex.submit(fetch, r["ytid"], float(r["start_s"]), float(r["end_s"]), out_dir, sr)) for r in rows]
        for r, fut in tqdm(futs, desc="download", unit="clip", disable=not sys.stderr.isatty()):
            err = fut.result()
            if err is None:
                ok += 1
            else:
                missing += 1
                miss.write(json.dumps({"ytid": r["ytid"], "error": err}) + "\n")
                miss.flush()
    return ok, missing


def add_cli(dsp) -> None:
    from ..cli import sub

    p = sub(
        dsp,
        "download-musiccaps",
        "download MusicCaps clips from YouTube with yt-dlp + ffmpeg (needs internet)",
        "j2a data download-musiccaps musiccaps-public.csv --out musiccaps-clips --workers 8\n"
        "j2a data musiccaps musiccaps-public.csv --audio-dir musiccaps-clips --out musiccaps.jsonl",
    )
    p.add_argument("csv", help="MusicCaps CSV (ytid, start_s, end_s, ...)")
    p.add_argument("--out", "-o", required=True, help="folder for <ytid>.wav clips (re-running skips finished ones)")
    p.add_argument("--limit", type=int, default=0, help="only the first N rows")
    p.add_argument("--workers", "-j", type=int, default=4, help="parallel downloads (default: %(default)s)")
    p.add_argument("--sr", type=int, default=44100, help="output sample rate (default: %(default)s)")

    def run(a) -> int:
        ok, missing = download_musiccaps(a.csv, a.out, a.limit, a.workers, a.sr)
        print(
            f"download-musiccaps: {ok} clips in {a.out}, {missing} unavailable (see {Path(a.out) / 'missing.jsonl'})",
            file=sys.stderr,
        )
        return 0

    p.set_defaults(func=run)
