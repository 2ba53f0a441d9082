"""`j2a serve`: J2A over HTTP (FastAPI + uvicorn), for programs and for the page in j2a/web.

One process holds the models (loaded once, on the first job) and a few worker threads; jobs live in a small
SQLite file beside the uploads, so a job accepted before a restart still finishes after it. Library tracks are
addressed by id only: no path from a client ever reaches the file system.

    j2a serve --db music.db                  # http://127.0.0.1:8000, API docs at /docs
    curl -F file=@song.mp3 http://127.0.0.1:8000/api/v1/tracks        # -> {"job": "...", "state": "queued"}
    curl http://127.0.0.1:8000/api/v1/jobs/JOB                          # state, progress, then the result
"""

import json
import os
import queue
import re
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

API = "/api/v1"
WEB = Path(__file__).resolve().parent / "web"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aiff", ".aif", ".wma", ".webm"}


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # bearer token; required to bind anywhere but loopback
    db: str | None = None  # a library database (j2a index) for search / similar / playlist / tracks by id
    data: str = "j2a-serve"  # the jobs database and the uploads waiting for their job
    max_upload_mb: float = 200.0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    queue_max: int = 0  # accepted jobs not yet finished; more -> 503 (0: 4 per worker)
    llm: str = "local"  # the describing LLM (j2a.text.describe.get_llm): "none" writes the template
    keep_uploads: bool = False  # keep uploaded files after their job (default: deleted)

    @property
    def queue_limit(self) -> int:
        return self.queue_max or 4 * self.workers


class QueueFull(Exception):
    pass


# ---------------------------------------------------------------------------------------------- jobs
class Jobs:
    """Analyse / describe jobs: rows in data/jobs.db, worked by `workers` threads. A job accepted is on disk
    before its id is returned, and `start()` requeues what a killed server left queued or running."""

    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg
        self.dir = Path(cfg.data)
        (self.dir / "uploads").mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.dir / "jobs.db", check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, state TEXT, describe INTEGER, file TEXT, name TEXT,"
            " created REAL, progress REAL, result TEXT, error TEXT, keep INTEGER DEFAULT 0)"
        )
        self._lock = threading.Lock()
        # one description at a time: the analyses run side by side, but the J2A-LLM is one model in memory and
        # its generate() is not documented as safe to call from two threads at once
        self._llm = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for (job_id,) in self._q("SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY created"):
            self._set(job_id, state="queued", progress=0.0)
            self._queue.put(job_id)
        for i in range(self.cfg.workers):
            t = threading.Thread(target=self._work, name=f"j2a-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def _set(self, job_id: str, **cols) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self._lock:
            self._con.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*cols.values(), job_id))

    _PENDING = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"

    def pending(self) -> int:
        return self._q(self._PENDING)[0][0]

    def submit(self, upload: Path, name: str, describe: bool, keep: bool = False) -> str:
        """Take over an uploaded file (moved into data/uploads) as a new job; QueueFull when too many wait."""
        with self._lock:
            if self._con.execute(self._PENDING).fetchone()[0] >= self.cfg.queue_limit:  # under the lock: no race
                raise QueueFull
            job_id = uuid.uuid4().hex
            dest = self.dir / "uploads" / f"{job_id}{upload.suffix.lower()}"
            shutil.move(str(upload), dest)
            self._con.execute(
                "INSERT INTO jobs VALUES (?, 'queued', ?, ?, ?, ?, 0.0, NULL, NULL, ?)",
                (job_id, int(describe), str(dest), name, time.time(), int(keep)),
            )
        self._queue.put(job_id)
        return job_id

    def get(self, job_id: str) -> dict | None:
        rows = self._q(
            "SELECT id, state, describe, name, created, progress, result, error FROM jobs WHERE id = ?", (job_id,)
        )
        if not rows:
            return None
        job_id, state, describe, name, created, progress, result, error = rows[0]
        return {
            "id": job_id,
            "state": state,
            "kind": "describe" if describe else "analyze",
            "name": name,
            "created": created,
            "progress": progress,
            "error": error,
            "result": json.loads(result) if result else None,
        }

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                self._run(job_id)
            except Exception as e:  # a worker never dies: the job fails with the reason
                self._set(job_id, state="failed", error=f"internal error: {type(e).__name__}: {e}")

    def _run(self, job_id: str) -> None:
        from .analysis import analyze
        from .audio import AudioError

        rows = self._q("SELECT file, name, describe, state, keep FROM jobs WHERE id = ?", (job_id,))
        if not rows or rows[0][3] != "queued":
            return
        file, name, describe, _, keep = rows[0]
        self._set(job_id, state="running", progress=0.05)
        try:
            analysis = analyze(file)
            self._set(job_id, progress=0.7 if describe else 0.95)
            if describe:
                from .text.describe import describe as describe_track

                with self._llm:
                    result = describe_track(analysis, llm=self.cfg.llm, sections=True).to_dict()
            else:
                result = analysis.to_dict()
            if keep:  # into the library: the file under data/library, its analysis and description beside
                result["track"] = self._keep(job_id, Path(file), name, analysis, result.get("caption"))
            result["stated"] = _stated(analysis)
            result["file"] = name  # the client's name for it, not the server's upload path
            if "analysis" in result:
                result["analysis"]["file"] = name
            self._set(job_id, state="done", progress=1.0, result=json.dumps(result))
        except AudioError as e:
            self._set(job_id, state="failed", error=f"{name}: {e.reason}")
        finally:
            if not self.cfg.keep_uploads:
                Path(file).unlink(missing_ok=True)

    def _keep(self, job_id: str, file: Path, name: str, analysis, caption: str | None) -> int:
        from .library import Library

        kept = self.dir / "library" / f"{job_id[:8]}-{name}"
        kept.parent.mkdir(exist_ok=True)
        shutil.copy(file, kept)
        analysis.file = str(kept.resolve())
        with Library(self.cfg.db) as lib:
            lib.add([(analysis, caption)])
            return lib.track(str(kept.resolve())).id


# ----------------------------------------------------------------------------------------------- app
def _stated(analysis) -> dict:
    """The tempo, meter and chords a description may state (None / false: not measured, or only a guess), so the
    page marks the guesses as `analyze --format text` does, and the runner-up keys `ask` names beside the key."""
    from .text.evidence import key_runners_up, stated_bpm, stated_chords, stated_meter

    return {
        "tempo_bpm": stated_bpm(analysis),
        "meter": stated_meter(analysis),
        "chords": bool(stated_chords(analysis)),
        "key_runners_up": key_runners_up(analysis),
    }


def _safe_name(filename: str | None) -> str:
    """The client's file name as a label only (its last part, printable): it never names a path here."""
    name = re.split(r"[\\/]", filename or "")[-1]
    return re.sub(r"[^\w .()+-]", "_", name)[:200] or "upload"


def create_app(cfg: ServeConfig | None = None, start_workers: bool = True):
    """The FastAPI app; `start_workers=False` leaves the job threads to the caller (tests of a restart)."""
    from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse

    cfg = cfg or ServeConfig()
    jobs = Jobs(cfg)
    if start_workers:
        jobs.start()
    app = FastAPI(
        title="J2A",
        version="1",
        summary="Music in, words out: analysis, a truthful description, questions, and search over a library.",
    )
    app.state.jobs, app.state.cfg = jobs, cfg
    limit = int(cfg.max_upload_mb * 2**20)

    def authorised(request: Request) -> None:
        if cfg.token and request.headers.get("authorization", "") != f"Bearer {cfg.token}":
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def queue_full() -> HTTPException:
        return HTTPException(503, "the job queue is full; try again shortly", headers={"Retry-After": "10"})

    def library():
        from .library import Library

        if not cfg.db:
            raise HTTPException(404, "no library on this server (start it with j2a serve --db FILE)")
        return Library(cfg.db)

    def library_track(lib, track_id: int):
        try:
            return lib.track(track_id)
        except (KeyError, LookupError, ValueError):
            raise HTTPException(404, f"track {track_id}: not in the library") from None

    @app.exception_handler(HTTPException)
    async def one_line(request: Request, exc: HTTPException):  # {"error": "one line"}, the CLI's style
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):  # a malformed request: one line too
        e = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
        return JSONResponse({"error": f"{request.method} {request.url.path}: {where}: {e.get('msg', 'invalid')}"}, 422)

    @app.post(f"{API}/tracks", status_code=202, dependencies=[Depends(authorised)])
    def upload(file: Annotated[UploadFile, File()], describe: bool = True, keep: bool = False) -> dict:
        """Upload an audio file: a job that analyses it (and describes it unless describe=false); keep=true adds
        it to the server's library (the file is kept; otherwise it is deleted after its job)."""
        from .audio import AudioError, open_audio

        name = _safe_name(file.filename)
        if keep and not cfg.db:
            raise HTTPException(422, f"{name}: keep=true needs a library (start the server with --db FILE)")
        if jobs.pending() >= cfg.queue_limit:  # before reading and decoding what would be turned away anyway
            raise queue_full()
        suffix = Path(name).suffix.lower()
        tmp = Path(cfg.data) / "uploads" / f"incoming-{uuid.uuid4().hex}{suffix if suffix in AUDIO_SUFFIXES else ''}"
        size = 0
        with open(tmp, "wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    out.close()
                    tmp.unlink(missing_ok=True)
                    raise HTTPException(413, f"{name}: larger than the server's limit of {cfg.max_upload_mb:g} MB")
                out.write(chunk)
        try:
            open_audio(tmp)  # non-audio, corrupt, silent or too short: refused now, with J2A's reason
        except AudioError as e:
            tmp.unlink(missing_ok=True)
            raise HTTPException(422, f"{name}: {e.reason}") from None
        try:
            job_id = jobs.submit(tmp, name, describe, keep)
        except QueueFull:
            tmp.unlink(missing_ok=True)  # filled while this upload was read
            raise queue_full() from None
        return {"job": job_id, "state": "queued", "url": f"{API}/jobs/{job_id}"}

    @app.get(f"{API}/jobs/{{job_id}}", dependencies=[Depends(authorised)])
    def job(job_id: str) -> dict:
        """A job's state (queued, running, done, failed), progress 0-1, and its result (the CLI's JSON)."""
        found = jobs.get(job_id) if re.fullmatch(r"[0-9a-f]{32}", job_id) else None
        if found is None:
            raise HTTPException(404, f"job {job_id}: no such job")
        return found

    @app.post(f"{API}/ask", dependencies=[Depends(authorised)])
    def ask(body: dict) -> dict:
        """Ask about a finished job's track ({"job": id}) or a library track ({"track": id}): {"question": ...}."""
        from .text.ask import ask as ask_question

        question = str(body.get("question") or "").strip()
        if not question:
            raise HTTPException(422, "ask: an empty question")
        if body.get("job"):
            found = job(str(body["job"]))
            if found["state"] != "done":
                raise HTTPException(409, f"job {found['id']}: not finished ({found['state']})")
            analysis = found["result"].get("analysis", found["result"])
        elif isinstance(body.get("track"), int):
            with library() as lib:
                analysis = library_track(lib, body["track"]).analysis
        else:
            raise HTTPException(422, 'ask: give {"job": id} or {"track": id} beside the question')
        return ask_question(analysis, question, llm=cfg.llm).to_dict()

    @app.get(f"{API}/search", dependencies=[Depends(authorised)])
    def search(
        q: str = "",
        limit: Annotated[int, Query(ge=1, le=500)] = 10,
        strict: bool = False,
        bpm: str | None = None,
        key: str | None = None,
        camelot: str | None = None,
        meter: str | None = None,
        vocals: str | None = None,
        genre: Annotated[list[str], Query()] = (),
        instrument: Annotated[list[str], Query()] = (),
        mood: Annotated[list[str], Query()] = (),
    ) -> dict:
        """The library's `j2a search`: the query's words and the parameters named like its flags (bpm=60-80,
        key=D minor, instrument=piano ...) become filters; then the tracks, each with why, and the library's size.
        No words and no filters: the library's first tracks (the page lists them when it opens the library)."""
        from types import SimpleNamespace

        from .library import filters_from_args

        flags = dict(bpm=bpm, key=key, camelot=camelot, meter=meter, vocals=vocals)
        try:
            f = filters_from_args(SimpleNamespace(**flags, genre=genre, instrument=instrument, mood=mood))
        except ValueError as e:
            raise HTTPException(422, f"search: {e}") from None
        with library() as lib:
            hits, f = lib.search(q, f, limit=limit, strict=strict)
            return {"filters": f.describe(), "library_size": len(lib), "tracks": [t.to_dict() for t in hits]}

    @app.get(f"{API}/tracks/{{track_id}}", dependencies=[Depends(authorised)])
    def track(track_id: int) -> dict:
        """A library track: its facts, description, whole analysis and its sections (measured on request: the
        library stores the analysis, the sections' loudness needs the audio)."""
        from .text.sections import describe_sections

        with library() as lib:
            t = library_track(lib, track_id)
        audio = t.path if Path(t.path).is_file() else None
        sections = describe_sections(t.analysis, audio_path=audio) if t.analysis.is_music else []
        return {**t.to_dict(), "analysis": t.analysis.to_dict(), "sections": sections, "stated": _stated(t.analysis)}

    @app.get(f"{API}/tracks/{{track_id}}/similar", dependencies=[Depends(authorised)])
    def similar(track_id: int, limit: Annotated[int, Query(ge=1, le=500)] = 10, mixable: bool = False) -> dict:
        with library() as lib:
            library_track(lib, track_id)
            return {"tracks": [t.to_dict() for t in lib.similar(track_id, limit=limit, mixable=mixable)]}

    @app.get(f"{API}/playlist", dependencies=[Depends(authorised)])
    def playlist(q: str, minutes: Annotated[float, Query(gt=0, le=24 * 60)] = 45.0) -> dict:
        with library() as lib:
            return {"tracks": [t.to_dict() for t in lib.playlist(q, minutes=minutes)]}

    @app.get(f"{API}/tracks/{{track_id}}/audio", dependencies=[Depends(authorised)])
    def audio(track_id: int):
        """The track's audio, with HTTP range requests (seeking in a player)."""
        with library() as lib:
            path = Path(library_track(lib, track_id).path)
        if not path.is_file():
            raise HTTPException(404, f"track {track_id}: its file is gone")
        return FileResponse(path, filename=path.name)

    from fastapi.staticfiles import StaticFiles

    app.mount("/", StaticFiles(directory=WEB, html=True), name="page")  # the page: plain files, no build
    return app


# ----------------------------------------------------------------------------------------------- CLI
def cmd_serve(args) -> int:
    cfg = ServeConfig(
        host=args.host,
        port=args.port,
        token=args.token or os.environ.get("J2A_TOKEN"),
        db=args.db,
        data=args.data,
        max_upload_mb=args.max_upload_mb,
        workers=args.workers or (os.cpu_count() or 1),
        llm=args.llm,
        keep_uploads=args.keep_uploads,
    )
    if cfg.host not in LOOPBACK and not cfg.token:
        print(
            f"j2a serve: binding {cfg.host} needs --token (or J2A_TOKEN): anyone who can reach it could use it",
            file=sys.stderr,
        )
        return 2
    if cfg.db and not Path(cfg.db).exists():
        print(f"j2a serve: {cfg.db}: no such library database (build it with j2a index)", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="info")
    return 0


def add_cli(subparsers) -> None:
    from .cli import sub

    p = sub(
        subparsers,
        "serve",
        "the HTTP API (and page): upload, analyse, describe, ask, search the library",
        "j2a serve --db music.db                      # http://127.0.0.1:8000, API docs at /docs\n"
        "j2a serve --host 0.0.0.0 --token SECRET --db music.db",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="bearer token clients must send (required off loopback; or J2A_TOKEN)")
    p.add_argument("--db", help="a library database (j2a index) to search and serve tracks from")
    p.add_argument(
        "--data", default="j2a-serve", help="folder for the jobs database and uploads (default: %(default)s)"
    )
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="larger uploads get 413 (default: %(default)s)")
    p.add_argument("--workers", type=int, default=0, help="job threads (default: one per core)")
    p.add_argument("--llm", default="local", help='the describing LLM ("none": the template; default: %(default)s)')
    p.add_argument("--keep-uploads", action="store_true", help="keep uploaded files after their job")
    p.set_defaults(func=cmd_serve)
