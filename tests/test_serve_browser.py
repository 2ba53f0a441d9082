"""The page in a real browser: Playwright driving Debian's chromium-headless-shell (the set-up installs it;
Playwright's own browser download cannot work offline) against a live `j2a serve` on a free port."""

from __future__ import annotations

import shutil
import socket
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="j2a[serve] not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (the test set-up has it)")

from j2a.serve import ServeConfig, create_app  # noqa: E402
from j2a.text.evidence import key_runners_up  # noqa: E402

CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/bin/chromium-headless-shell"
CLIP = "pistachio_ragtime.ogg"  # chords, beats and a piano: every lane has something


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_library):
    import uvicorn

    cfg = ServeConfig(data=str(tmp_path_factory.mktemp("serve")), db=str(small_library), llm="none", workers=1)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM}: missing (the set-up installs Debian's chromium-headless-shell)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.mark.slow
def test_drop_a_song_see_its_analysis_seek_by_chord_ask_and_search(server, browser, audio_dir, analysis_of, tmp_path):
    truth = analysis_of(audio_dir / CLIP)  # what `j2a analyze` says about the clip
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(server)
    assert page.is_visible("#hint") and "drop one on this page" in page.text_content("#hint")  # what to do first
    page.set_input_files("#file", str(audio_dir / CLIP))
    page.wait_for_selector("#result:not([hidden])", timeout=300_000)
    assert not page.is_visible("#hint")

    assert page.text_content("#fact-key") == _key_fact(truth)
    assert page.text_content("#fact-tempo") == f"{truth.tempo.bpm:.1f} BPM"
    # the meter with its confidence: below 0.9 it is a guess a description does not state
    assert page.text_content("#fact-meter") == f"{truth.meter.label} (confidence {truth.meter.confidence:.2f})"
    assert page.locator("#beats .beat").count() == len(truth.beats)  # one marker per beat
    assert page.locator("#beats .beat.down").count() >= 1
    assert page.text_content("#caption").strip()
    assert page.locator("#tags .tagrow").count() >= 1
    page.wait_for_function("document.getElementById('wave').dataset.drawn === '1'", timeout=30_000)
    # the tempo lane: beat to beat, the median of 8 intervals, as `ask "does it speed up?"` reads the beats
    spans = [60 / statistics.median(np.diff(truth.beats[i : i + 9])) for i in range(len(truth.beats) - 8)]
    assert page.get_attribute("#tempo", "data-range") == f"{round(min(spans))}-{round(max(spans))}"

    chords = page.locator("#chords .block")
    assert chords.count() >= 2
    if truth.key.label == "F major":  # spelled by the key, as j2a describe spells it
        assert "A#" not in page.text_content("#chords") and "Bb" in page.text_content("#chords")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)
    second = chords.nth(1)
    start = float(second.get_attribute("data-start"))
    second.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {start}) < 0.6", timeout=10_000)
    page.screenshot(path=str(tmp_path / "track.png"), full_page=True)

    page.fill("#question", "What key is it in?")
    page.click("#ask button")
    page.wait_for_function("document.getElementById('answer').textContent.length > 0", timeout=60_000)
    assert truth.key.label in page.text_content("#answer")

    page.click("#tab-library")  # opening the library lists what is in it: the three tracks of small_library
    page.wait_for_function("document.querySelectorAll('#hits tbody tr').length === 3", timeout=30_000)
    assert page.text_content("#filters").startswith(
        "3 tracks in the library; the first 3 music tracks (search by words"
    )
    page.fill("#query", "piano")
    page.fill("#f-bpm", "100-200")
    page.click("#search button")
    page.wait_for_selector("#hits tbody tr", timeout=30_000)
    page.wait_for_function("document.getElementById('filters').textContent.includes('filters:')", timeout=30_000)
    assert page.text_content("#filters") == "3 tracks in the library; filters: bpm 100-200, instrument = piano"
    assert CLIP in page.text_content("#hits tbody tr:first-child")
    page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
    # open the library track: its lanes, sections included, from /tracks/{id}
    page.click("#hits tbody tr:first-child button:text('open')")
    page.wait_for_function(f"document.getElementById('title').textContent === '{CLIP}'", timeout=60_000)
    assert page.locator("#beats .beat").count() == len(truth.beats)
    assert page.locator("#sections .block").count() >= 1
    assert (tmp_path / "track.png").stat().st_size > 10_000


def _key_fact(a) -> str:
    """The key as the page shows it: a close runner-up named beside it, as `ask` names it."""
    alts = " or ".join(f"{c['label']} {c['score']:.2f}" for c in key_runners_up(a))
    return a.key.label + (f" (could also be {alts})" if alts else "")


@pytest.mark.slow
def test_a_close_runner_up_key_is_named_beside_the_key(server, browser, labelled_dir, analysis_of):
    """A cello double stop (Good-sounds): J2A hears D minor with D major a close second; the page says both."""
    clip = labelled_dir / "sms_cello-double-2.wav"
    a = analysis_of(clip)
    assert key_runners_up(a), "this clip is here for its runner-up key"
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#result:not([hidden])", timeout=300_000)
    assert page.text_content("#fact-key") == _key_fact(a)
    assert "(could also be " in page.text_content("#fact-key")


@pytest.mark.slow
def test_a_held_note_shows_its_tempo_as_a_guess_and_its_chord_as_implied(server, browser, labelled_dir, analysis_of):
    """A single flute note (TinySOL, labelled "single note C4"): the beat tracker still reports a tempo, which the
    page marks as a guess, as the text view and `ask` do; a description does not state it. The chord model names a
    chord for it too, which the page greys as implied by a single line."""
    note = labelled_dir / "tinysol_Fl-ord-C4-mf-N-T14d.wav"
    bpm = analysis_of(note).tempo.bpm
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#file", str(note))
    page.wait_for_selector("#result:not([hidden])", timeout=300_000)
    assert page.text_content("#fact-tempo") == f"{bpm:.1f} BPM (a guess: too few notes)"
    assert "BPM" not in page.text_content("#caption")
    # the chord model names a chord for the note, but one note sounds: the lane shows it as implied, greyed
    a = analysis_of(note)
    assert any(c.label != "N" for c in a.chords) and a.notes.voices < 1.5
    assert "implied" in page.get_attribute("#chords", "class").split()
    assert page.get_attribute("#chords", "title").startswith("chords implied by a single line")
    assert "harmony" not in page.text_content("#caption") and "chords" not in page.text_content("#caption")


def _drop(page, name: str, data: bytes, mime: str) -> None:
    """Drop a file on the page as a person drags one from their file manager."""
    page.evaluate(
        """([name, bytes, mime]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
            document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        [name, list(data), mime],
    )


@pytest.mark.slow
def test_a_file_dropped_on_the_page_is_analysed_and_a_bad_one_is_named(server, browser, labelled_dir, analysis_of):
    """Dropped on the library tab, an audio file opens in the track view with its analysis; a file that is not
    audio gets one line naming it and the server's reason, and the page stays usable."""
    clip = labelled_dir / "msdb_piano_training-4_0a86fb73.flac"
    page = browser.new_page()
    page.goto(server)
    page.click("#tab-library")
    _drop(page, "notes.txt", b"these are not sounds", "text/plain")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert page.is_visible("#view-track")  # a drop shows the track view, where its result or error is
    error = page.text_content("#error")
    assert error.startswith("notes.txt: ") and "\n" not in error and len(error) > len("notes.txt: ")
    _drop(page, clip.name, clip.read_bytes(), "audio/flac")
    page.wait_for_selector("#result:not([hidden])", timeout=300_000)
    assert page.text_content("#title") == clip.name and not page.is_visible("#error")
    a = analysis_of(clip)
    assert page.text_content("#fact-length") == f"{a.duration_s:.1f} s"
