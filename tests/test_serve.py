"""`j2a serve`: the HTTP API on real clips through FastAPI's TestClient (the app itself, in process): jobs and
their results against the CLI's analysis, bad requests answered with the documented status and one line while
the server keeps serving, the token, path traversal, a full queue, and jobs that outlive a restart."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="j2a[serve] not installed")  # the serve extra is in the test set-up
from fastapi.testclient import TestClient  # noqa: E402

from j2a.serve import API, ServeConfig, create_app  # noqa: E402

CLIP = "trumpet_loop_f_90bpm.ogg"


def client(tmp_path, _start: bool = True, **kw) -> TestClient:
    """A client of a fresh app over tmp_path/serve (the template LLM unless llm= is given); _start=False: no
    job workers, so accepted jobs stay queued."""
    kw.setdefault("llm", "none")
    kw.setdefault("workers", 1)
    return TestClient(create_app(ServeConfig(data=str(tmp_path / "serve"), **kw), start_workers=_start))


def upload(c: TestClient, path: Path, name: str | None = None, **params):
    with open(path, "rb") as f:
        return c.post(f"{API}/tracks", files={"file": (name or path.name, f)}, params=params)


def wait(c: TestClient, job: str, timeout: float = 300) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = c.get(f"{API}/jobs/{job}").json()
        if r["state"] in ("done", "failed"):
            return r
        time.sleep(0.5)
    raise AssertionError(f"job {job} did not finish in {timeout} s")


@pytest.mark.slow
def test_an_upload_becomes_a_job_whose_result_is_the_clis(tmp_path, audio_dir, analysis_of):
    c = client(tmp_path)
    r = upload(c, audio_dir / CLIP)
    assert r.status_code == 202 and r.json()["state"] == "queued"
    done = wait(c, r.json()["job"])
    assert done["state"] == "done" and done["progress"] == 1.0 and done["kind"] == "describe"
    result, cli = done["result"], analysis_of(audio_dir / CLIP)
    assert result["file"] == CLIP and result["caption"]
    assert result["analysis"]["key"]["label"] == cli.key.label
    assert result["analysis"]["tempo"]["bpm"] == pytest.approx(cli.tempo.bpm, abs=0.01)
    # the upload is gone after its job; asking about the job answers from its analysis
    assert not list((tmp_path / "serve" / "uploads").iterdir())
    a = c.post(f"{API}/ask", json={"job": done["id"], "question": "What key is it in?"})
    assert a.status_code == 200 and cli.key.label in a.json()["answer"]
    assert c.post(f"{API}/ask", json={"job": done["id"], "question": " "}).status_code == 422


def test_bad_uploads_get_their_status_and_one_line_and_the_server_keeps_serving(tmp_path, audio_dir):
    c = client(tmp_path, max_upload_mb=0.02)
    fake = tmp_path / "notes.mp3"
    fake.write_text("these are my notes, not a song\n" * 20)
    r = upload(c, fake)
    assert r.status_code == 422 and r.json()["error"].startswith("notes.mp3: ") and "\n" not in r.json()["error"]
    r = upload(c, audio_dir / CLIP)  # 27 kB against a 20 kB limit
    assert r.status_code == 413 and CLIP in r.json()["error"]
    assert c.get(f"{API}/jobs/{'0' * 32}").status_code == 404
    r = c.post(f"{API}/ask", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"].startswith("POST /api/v1/ask: ")
    r = c.get(f"{API}/search", params={"q": "jazz", "limit": "lots"})
    assert r.status_code == 422 and "limit" in r.json()["error"]
    assert c.get("/openapi.json").status_code == 200  # still serving
    assert not [p for p in (tmp_path / "serve" / "uploads").iterdir()]  # nothing refused is kept


def test_a_token_guards_the_api(tmp_path):
    c = client(tmp_path, token="s3cret")
    assert c.get(f"{API}/jobs/{'0' * 32}").status_code == 401
    assert c.get(f"{API}/jobs/{'0' * 32}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get(f"{API}/jobs/{'0' * 32}", headers={"Authorization": "Bearer s3cret"}).status_code == 404


def test_binding_beyond_loopback_needs_a_token(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "j2a.cli", "serve", "--host", "0.0.0.0", "--data", str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--token" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_path_traversal_is_refused(tmp_path, audio_dir):
    c = client(tmp_path, _start=False)
    for url in (
        f"{API}/jobs/..%2F..%2Fetc%2Fpasswd",
        f"{API}/jobs/../../etc/passwd",
        f"{API}/tracks/..%2F..%2Fetc%2Fpasswd/audio",
        f"{API}/tracks/%2Fetc%2Fpasswd",
        f"{API}/tracks/1/audio/..%252F..%252Fetc%252Fpasswd",
        "/..%2F..%2F..%2Fetc%2Fpasswd",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/app.js/..%2F..%2Fserve.py",
    ):
        r = c.get(url)
        assert r.status_code in (404, 422), (url, r.status_code)
        assert "root:" not in r.text
    # a client's file name is a label, never a path: the upload lands in the server's folder under a job id
    r = upload(c, audio_dir / CLIP, name="../../../evil.ogg")
    assert r.status_code == 202
    job = c.get(f"{API}/jobs/{r.json()['job']}").json()
    assert job["name"] == "evil.ogg" and not (tmp_path / "evil.ogg").exists()
    assert [p.name for p in (tmp_path / "serve" / "uploads").iterdir()] == [f"{job['id']}.ogg"]


def test_a_full_queue_answers_503_with_retry_after(tmp_path, audio_dir):
    c = client(tmp_path, queue_max=1, _start=False)  # no workers: the first job stays queued
    assert upload(c, audio_dir / CLIP).status_code == 202
    r = upload(c, audio_dir / CLIP)
    assert r.status_code == 503 and r.headers["retry-after"] == "10" and "full" in r.json()["error"]


@pytest.mark.slow
def test_accepted_jobs_finish_after_a_restart(tmp_path, audio_dir):
    first = client(tmp_path, _start=False)  # accepts, then "dies" before any worker ran
    ids = [upload(first, audio_dir / CLIP, describe="false").json()["job"] for _ in range(2)]
    assert all(first.get(f"{API}/jobs/{i}").json()["state"] == "queued" for i in ids)
    again = client(tmp_path)  # same data folder, workers started: the queued jobs are picked up
    results = [wait(again, i) for i in ids]
    assert [r["state"] for r in results] == ["done", "done"] and results[0]["kind"] == "analyze"
    assert results[0]["result"]["key"] == results[1]["result"]["key"]


@pytest.mark.slow
def test_library_search_tracks_similar_and_audio_with_ranges(tmp_path, small_library):
    c = client(tmp_path, db=str(small_library), _start=False)
    r = c.get(f"{API}/search", params={"q": "trumpet"})
    assert r.status_code == 200 and r.json()["filters"] == "instrument = trumpet" and r.json()["library_size"] == 3
    top = r.json()["tracks"][0]
    assert Path(top["path"]).name == CLIP and top["match"] == 1 and top["why"]
    t = c.get(f"{API}/tracks/{top['id']}").json()
    assert t["analysis"]["tempo"]["bpm"] and t["key"] == t["analysis"]["key"]["label"]
    assert t["sections"] and t["sections"][0]["start"] == 0 and t["sections"][-1]["caption"]
    near = c.get(f"{API}/tracks/{top['id']}/similar", params={"limit": 2}).json()["tracks"]
    assert len(near) == 2 and top["id"] not in [x["id"] for x in near]
    size = Path(top["path"]).stat().st_size
    whole = c.get(f"{API}/tracks/{top['id']}/audio")
    assert whole.status_code == 200 and len(whole.content) == size
    part = c.get(f"{API}/tracks/{top['id']}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert c.get(f"{API}/tracks/999999").status_code == 404
    # the CLI's flags as parameters, beside the words
    r = c.get(f"{API}/search", params={"q": "music", "instrument": "trumpet", "bpm": "60-200", "strict": "true"})
    assert r.json()["filters"] == "bpm 60-200, instrument = trumpet"
    hits = r.json()["tracks"]  # the tenor sax lists a faint "trumpet" too: a full match by the analysis
    assert Path(hits[0]["path"]).name == CLIP and all(x["match"] == 1 and 60 <= x["bpm"] <= 200 for x in hits)
    r = c.get(f"{API}/search", params={"bpm": "fast"})
    assert r.status_code == 422 and r.json()["error"].startswith("search: bpm 'fast'")
    a = c.post(f"{API}/ask", json={"track": top["id"], "question": "How fast is it?"})
    assert a.status_code == 200 and "BPM" in a.json()["answer"]


def test_the_page_is_served_from_the_package_without_a_network(tmp_path):
    c = client(tmp_path, _start=False)
    page = c.get("/")
    assert page.status_code == 200 and '<script src="app.js">' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from elsewhere (no CDN)
    assert c.get("/app.js").status_code == 200 and c.get("/style.css").status_code == 200


def test_without_a_library_its_endpoints_say_so(tmp_path):
    r = client(tmp_path, _start=False).get(f"{API}/search", params={"q": "jazz"})
    assert r.status_code == 404 and "--db" in r.json()["error"]


@pytest.mark.slow
def test_an_upload_kept_joins_the_library(tmp_path, small_library, audio_dir):
    db = tmp_path / "music.db"
    shutil.copy(small_library, db)
    c = client(tmp_path, db=str(db))
    r = upload(c, audio_dir / "sweet_waltz.ogg", keep="true")
    done = wait(c, r.json()["job"])
    assert done["state"] == "done" and isinstance(done["result"]["track"], int)
    t = c.get(f"{API}/tracks/{done['result']['track']}").json()
    assert Path(t["path"]).name.endswith("sweet_waltz.ogg") and Path(t["path"]).is_file()
    assert t["description"] == done["result"]["caption"]
    assert c.get(f"{API}/tracks/{t['id']}/audio").content == (audio_dir / "sweet_waltz.ogg").read_bytes()
    assert not list((tmp_path / "serve" / "uploads").iterdir())  # the upload itself is gone; the kept copy stays
    # keep needs a library
    r = upload(client(tmp_path / "nolib"), audio_dir / CLIP, keep="true")
    assert r.status_code == 422 and "--db" in r.json()["error"]
