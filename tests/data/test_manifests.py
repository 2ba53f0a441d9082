"""Manifest reading/validation and the MusicCaps / Song Describer / YouTube8M adapters."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from j2a.data.manifests import musiccaps, read_manifest, songdescriber, write_manifest, yt8m


def _wav(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (np.sin(np.arange(16000 * 2) / 5) * 0.3).astype(np.float32), 16000)
    return path


def test_read_manifest_resolves_and_validates(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(
        '{"audio": "a.wav", "text": " hi ", "start": 1, "end": 3, "split": "dev", "prompt": "Q?"}\n\n'
        '{"audio": "/abs/b.wav", "text": "x"}\n'
    )
    rows = read_manifest(m)
    assert rows[0].audio == str(tmp_path / "a.wav") and rows[0].text == "hi" and rows[0].split == "valid"
    assert (rows[0].start, rows[0].end, rows[0].prompt) == (1.0, 3.0, "Q?")
    assert rows[1].audio == "/abs/b.wav" and rows[1].split == "train" and rows[1].prompt is None
    out = write_manifest(rows, tmp_path / "copy.jsonl")
    assert [r.to_dict() for r in read_manifest(out)] == [r.to_dict() for r in rows]
    for text, msg in [
        ('{"audio": "a"}', "non-empty 'text'"),
        ("nope", "not JSON"),
        ('{"audio": "a", "text": "t", "split": "x"}', "split must be"),
        ('{"audio": "a", "text": "t", "start": 5, "end": 2}', "end"),
    ]:
        m.write_text(text + "\n")
        with pytest.raises(ValueError, match=msg):
            read_manifest(m)
        with pytest.raises(ValueError, match=r"m\.jsonl:1"):
            read_manifest(m)
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "missing.jsonl")


def _csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_musiccaps_adapter_counts_missing(tmp_path, captions_dir):
    src = list(csv.DictReader(open(captions_dir / "musiccaps-train.csv")))[:5]
    clips = tmp_path / "clips"
    _wav(clips / f"{src[0]['ytid']}.wav")
    _wav(clips / f"[{src[1]['ytid']}]-[{src[1]['start_s']}-{src[1]['end_s']}].wav")
    _wav(clips / "sub" / f"{src[2]['ytid']}.flac")
    small = tmp_path / "mc.csv"
    _csv(small, list(src[0].keys()), [list(r.values()) for r in src])
    rows, missing = musiccaps(small, clips)
    assert missing == 2 and len(rows) == 3
    assert rows[0].text == src[0]["caption"].strip() and rows[0].start is None and rows[0].split == "train"
    rows, _ = musiccaps(small, clips, full_videos=True)
    assert rows[1].start == float(src[1]["start_s"]) and rows[1].end == float(src[1]["end_s"])


def test_musiccaps_cli(tmp_path, captions_dir, capsys):
    from j2a.cli import main

    src = list(csv.DictReader(open(captions_dir / "musiccaps-dev.csv")))[:4]
    clips = tmp_path / "clips"
    _wav(clips / f"{src[3]['ytid']}.wav")
    small = _csv(tmp_path / "dev.csv", list(src[0].keys()), [list(r.values()) for r in src])
    out = tmp_path / "m.jsonl"
    assert main(["data", "musiccaps", str(small), "--audio-dir", str(clips), "--out", str(out)]) == 0
    assert "3 of 4 clips missing" in capsys.readouterr().err
    rows = read_manifest(out)
    assert len(rows) == 1 and rows[0].split == "test"  # is_audioset_eval rows


def test_songdescriber_and_yt8m(tmp_path):
    audio = tmp_path / "audio"
    _wav(audio / "00" / "1.2min.wav")  # CSV names .mp3; the folder holds another encoding
    sd = _csv(
        tmp_path / "sd.csv",
        ["caption_id", "track_id", "caption", "is_valid_subset", "path"],
        [[1, 1, "Calm piano.", "True", "00/1.2min.mp3"], [2, 2, "Loud rock.", "False", "01/2.2min.mp3"]],
    )
    rows, missing = songdescriber(sd, audio)
    assert missing == 1 and rows[0].split == "valid" and rows[0].audio.endswith("1.2min.wav")
    yt = tmp_path / "yt"
    _wav(yt / "abcdefghijk.wav")
    y = _csv(
        tmp_path / "y.csv",
        ["video_id", "start", "end", "caption"],
        [["abcdefghijk", 30, 40, "A jazz trio."], ["zzzzzzzzzzz", 0, 10, "Gone."]],
    )
    rows, missing = yt8m(y, yt, full_videos=True, split="test")
    assert missing == 1 and rows[0].text == "A jazz trio." and (rows[0].start, rows[0].split) == (30.0, "test")
    bad = _csv(tmp_path / "bad.csv", ["id", "text"], [["x", "y"]])
    with pytest.raises(ValueError, match="no column named video_id"):
        yt8m(bad, yt)


def test_download_commands_cut_the_clip(tmp_path):
    from j2a.data.download import commands, download_musiccaps

    ytdlp, ffmpeg = commands("abcdefghijk", 30.0, 40.0, tmp_path / "abcdefghijk.wav", sr=16000)
    assert ytdlp[-1] == "https://www.youtube.com/watch?v=abcdefghijk" and "--get-url" in ytdlp
    assert ffmpeg[ffmpeg.index("-ss") + 1] == "30" and ffmpeg[ffmpeg.index("-t") + 1] == "10"
    assert ffmpeg[ffmpeg.index("-ar") + 1] == "16000" and ffmpeg[-1].endswith("abcdefghijk.wav")
    bad = _csv(tmp_path / "x.csv", ["id"], [["1"]])
    import shutil

    if shutil.which("yt-dlp") and shutil.which("ffmpeg"):
        with pytest.raises(ValueError, match="needs columns ytid"):
            download_musiccaps(bad, tmp_path / "o")
    else:
        with pytest.raises(FileNotFoundError, match="not installed"):
            download_musiccaps(bad, tmp_path / "o")


def test_pseudo_caption_writes_a_training_manifest(tmp_path, capsys):
    from j2a.cli import main
    from j2a.data.synth import SynthSpec, render_to_file

    d = tmp_path / "audio"
    d.mkdir()
    for i, bpm in enumerate((80, 140)):
        render_to_file(SynthSpec(bpm=bpm, duration_s=3.0, sr=16000, seed=i), d / f"c{i}.wav")
    out = tmp_path / "pseudo.jsonl"
    assert main(["data", "pseudo-caption", str(d), "--llm", "none", "--out", str(out)]) == 0
    rows = read_manifest(out)
    assert len(rows) == 2 and all(r.split == "train" and len(r.text.split()) >= 5 for r in rows)
    assert {r.audio for r in rows} == {str(d / "c0.wav"), str(d / "c1.wav")}
    assert main(["data", "pseudo-caption", str(d), "--llm", "none", "--out", str(out), "--resume"]) == 0
    assert "2 already there" in capsys.readouterr().err
