"""`j2a serve` under load: many clients upload at once and poll; then a kill with jobs queued, and a restart.

Why: a server that answers one user is not one that answers fifty. Each of --clients threads uploads a 10-s clip
(cut from the shared clips) and polls its job until done, honouring 503 + Retry-After when the bounded queue is
full. Every job's key, tempo and caption must equal what `describe()` gives in this process on the same clip (the
CLI's code path, one clip at a time); none may be lost. Then the server is SIGKILLed with jobs queued and started
again on the same --data folder: every job it had accepted must finish.

    python bench/serve_load.py --clients 50
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import MUSIC_CLIPS, REPO, looped_clips  # noqa: E402  (this checkout first on sys.path)

J2A = [sys.executable, "-m", "j2a.cli"]
SR = 22050


def clips(work: Path, n: int, seconds: float = 10.0) -> list[Path]:
    """n 10-s WAV excerpts, one per shared music clip (looped where a clip is shorter)."""
    import soundfile as sf

    out = []
    for name in MUSIC_CLIPS[:n]:
        y = np.concatenate(list(looped_clips([name], seconds, SR)))
        p = work / f"{Path(name).stem}-10s.wav"
        sf.write(p, y, SR)
        out.append(p)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int, workers: int) -> subprocess.Popen:
    import httpx

    p = subprocess.Popen(
        [*J2A, "serve", "--data", str(data), "--port", str(port), "--workers", str(workers)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("j2a serve did not start in 60 s")


_local = threading.local()


def http():
    """One HTTP client per thread, kept: a new client per request (httpx.get) builds an SSL context each time,
    and 50 polling threads doing that took a core from the server being measured."""
    import httpx

    if not hasattr(_local, "client"):
        _local.client = httpx.Client(timeout=120)
    return _local.client


def submit(base: str, clip: Path) -> tuple[str, int]:
    """Upload until accepted (a 503 waits its Retry-After): (job id, how many 503s)."""
    full = 0
    while True:
        with open(clip, "rb") as f:
            r = http().post(f"{base}/api/v1/tracks", files={"file": (clip.name, f)})
        if r.status_code == 202:
            return r.json()["job"], full
        if r.status_code != 503:
            raise RuntimeError(f"{clip.name}: HTTP {r.status_code} {r.text}")
        full += 1
        time.sleep(float(r.headers.get("retry-after", 5)))


def wait(base: str, job: str) -> dict:
    while True:
        j = http().get(f"{base}/api/v1/jobs/{job}").json()
        if j["state"] in ("done", "failed"):
            return j
        time.sleep(1.0)


def facts(d: dict) -> tuple:
    a = d["analysis"]
    return (a["key"] and a["key"]["label"], a["tempo"] and round(a["tempo"]["bpm"], 2), d["caption"])


def peak_rss(pid: int, stop: threading.Event, out: list) -> None:
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            out.append(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
        except psutil.Error:
            return
        time.sleep(0.2)


def cli_agrees(files: list[Path], ref: dict) -> int:
    """How many clips `j2a describe` (the CLI: batched LLM calls) gives the same key, tempo and caption as
    describe() one clip at a time, the reference the server's jobs are held to."""
    import json

    out = files[0].parent / "cli.jsonl"
    subprocess.run([*J2A, "describe", *map(str, files), "--out", str(out)], check=True, capture_output=True)
    cli = {Path(d["file"]).name: facts(d) for d in map(json.loads, out.read_text().splitlines())}
    return sum(cli.get(name) == want for name, want in ref.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--clips", type=int, default=10, help="distinct 10-s clips the clients share")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server job threads (default: cores)")
    ap.add_argument("--restart-jobs", type=int, default=6)
    ap.add_argument("--cli-only", action="store_true", help="only check the reference against `j2a describe`")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="j2a-serve-load-"))
    files = clips(work, args.clips)

    # the CLI's answer for each clip, and its time: describe() one clip at a time, models loaded once
    from j2a.text.describe import describe

    describe(files[0])  # loads the models
    t0 = time.perf_counter()
    ref = {f.name: facts(describe(f).to_dict()) for f in files}
    cli_per_clip = (time.perf_counter() - t0) / len(files)
    if args.cli_only:
        print(
            f"j2a describe gives describe()'s key, tempo and caption on {cli_agrees(files, ref)} / {len(files)} clips"
        )
        return

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(work / "data", port, args.workers)
    rss, stop = [], threading.Event()
    threading.Thread(target=peak_rss, args=(server.pid, stop, rss), daemon=True).start()
    results: list[dict] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        clip = files[i % len(files)]
        t = time.perf_counter()
        try:
            job, full = submit(base, clip)
            j = wait(base, job)
            row = {
                "clip": clip.name,
                "state": j["state"],
                "s": time.perf_counter() - t,
                "503": full,
                "error": j["error"],
            }
            if j["state"] == "done":
                row["same"] = facts(j["result"]) == ref[clip.name]
        except Exception as e:  # a lost job is a result too
            row = {"clip": clip.name, "state": "lost", "error": str(e), "s": time.perf_counter() - t, "503": 0}
        with lock:
            results.append(row)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    lat = sorted(r["s"] for r in results if r["state"] == "done")
    done = sum(r["state"] == "done" for r in results)
    same = sum(bool(r.get("same")) for r in results)

    # kill with jobs queued, restart on the same folder
    ids = [submit(base, files[i % len(files)])[0] for i in range(args.restart_jobs)]
    server.send_signal(signal.SIGKILL)
    server.wait()
    server = start_server(work / "data", port, args.workers)
    after = [wait(base, i)["state"] for i in ids]
    server.terminate()
    server.wait()

    print(f"\n### `j2a serve` under load (`python bench/serve_load.py --clients {args.clients}`)\n")
    print(
        f"{args.clients} clients, {args.clips} distinct 10-s clips, {args.workers} job workers on "
        f"{os.cpu_count()} cores; the shipped J2A-LLM.\n"
    )
    print("| measure | value |\n|---|---|")
    print(f"| jobs done / submitted | {done} / {args.clients} (lost or failed: {args.clients - done}) |")
    print(f"| same key, tempo and caption as describe() on the clip | {same} / {done} |")
    print(
        f"| job latency p50 / p95 (upload to done, s) | {statistics.median(lat):.1f} / {lat[int(0.95 * (len(lat) - 1))]:.1f} |"
    )
    print(f"| 503 answers (queue full, retried after Retry-After) | {sum(r['503'] for r in results)} |")
    print(f"| server throughput (clips per minute) | {60 * done / wall:.1f} |")
    print(f"| describe() in one process, one clip at a time (clips per minute) | {60 / cli_per_clip:.1f} |")
    print(f"| server peak memory (RSS, MiB) | {max(rss) / 2**20:.0f} |")
    print(f"| after SIGKILL with {len(ids)} jobs queued and a restart: done | {after.count('done')} / {len(ids)} |")
    bad = [r for r in results if r["state"] != "done" or not r.get("same")]
    for r in bad[:10]:
        print(f"- {r['clip']}: {r['state']} {r.get('error') or 'differs from describe()'}")


if __name__ == "__main__":
    main()
