// J2A's page: plain JavaScript against the HTTP API (/api/v1, see /docs); no libraries, no build, works offline.
"use strict";
const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let current = null; // {analysis, caption, sections, faithfulness} of the track on show
let jobId = null, trackId = null;

// ------------------------------------------------------------------------------------------- API
function headers(extra = {}) {
  const t = $("token").value.trim();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}
async function api(path, opts = {}) {
  const r = await fetch(API + path, { ...opts, headers: headers(opts.headers || {}) });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || (body.detail && JSON.stringify(body.detail)) || `HTTP ${r.status}`);
  return body;
}
$("token").value = localStorage.getItem("j2a-token") || "";
$("token").addEventListener("change", () => localStorage.setItem("j2a-token", $("token").value));

// ------------------------------------------------------------------------------------------ tabs
document.querySelectorAll(".tab").forEach((b) =>
  b.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === b));
    document.querySelectorAll(".view").forEach((v) => (v.hidden = v.id !== `view-${b.dataset.view}`));
    if (b.dataset.view === "library" && !listed) runSearch(); // opening the library shows what is in it
  })
);

// --------------------------------------------------------------------------------- upload, a job
$("file").addEventListener("change", () => $("file").files[0] && upload($("file").files[0]));
// a file dropped anywhere on the page is uploaded as if chosen
document.addEventListener("dragover", (ev) => ev.preventDefault());
document.addEventListener("drop", (ev) => {
  ev.preventDefault();
  const f = ev.dataTransfer && ev.dataTransfer.files[0];
  if (f) {
    $("tab-track").click();
    upload(f);
  }
});

async function upload(f) {
  showError("");
  const form = new FormData();
  form.append("file", f);
  setProgress(0, "uploading");
  try {
    const job = await api(`/tracks?describe=${$("describe").checked}&keep=${$("keep").checked}`, { method: "POST", body: form });
    jobId = job.job;
    trackId = null;
    const done = await poll(job.job);
    const result = done.result.analysis
      ? done.result
      : { analysis: done.result, caption: "", sections: [], stated: done.result.stated };
    show(result, f.name, URL.createObjectURL(f), f);
  } catch (e) {
    showError(e.message.startsWith(f.name) ? e.message : `${f.name}: ${e.message}`); // one line naming the file
  } finally {
    $("progress").hidden = true;
  }
}

async function poll(id) {
  for (;;) {
    const j = await api(`/jobs/${id}`);
    setProgress(j.progress, j.state);
    if (j.state === "done") return j;
    if (j.state === "failed") throw new Error(j.error);
    await new Promise((r) => setTimeout(r, 700));
  }
}
function setProgress(p, text) {
  $("progress").hidden = false;
  $("progress-bar").style.width = `${Math.round(100 * p)}%`;
  $("progress-text").textContent = `${text} ${Math.round(100 * p)}%`;
}
function showError(msg) {
  $("error").hidden = !msg;
  $("error").textContent = msg;
}

// --------------------------------------------------------------------------------- the track view
function show(result, name, audioUrl, blob) {
  current = result;
  const a = result.analysis;
  $("result").hidden = false;
  $("hint").hidden = true;
  $("title").textContent = name;
  $("player").src = audioUrl;
  const dur = a.duration_s || 1;
  const at = (t) => `${(100 * t) / dur}%`;

  $("beats").replaceChildren(
    ...(a.beats || []).map((t) => {
      const d = document.createElement("div");
      d.className = (a.downbeats || []).some((x) => Math.abs(x - t) < 0.02) ? "beat down" : "beat";
      d.style.left = at(t);
      d.dataset.t = t;
      return d;
    })
  );
  $("chords").replaceChildren(...blocks((a.chords || []).filter((c) => c.label !== "N"), (c) => chordName(c.label), dur));
  // one note at a time: the chord model's names are only implied by the line, and a description would not state them
  const implied = !!(result.stated && result.stated.chords === false && (a.chords || []).some((c) => c.label !== "N"));
  $("chords").classList.toggle("implied", implied);
  $("chords").title = implied
    ? "chords implied by a single line (one note at a time): no chord sounds"
    : "chords: click to play from there";
  $("sections").replaceChildren(...blocks(result.sections || [], (s) => s.caption.replace(/^[\d:]+-[\d:]+: /, ""), dur));

  // a close runner-up key is named beside it, as `j2a ask` names it (most wrong keys are a relative or a dominant)
  const runnersUp = (result.stated && result.stated.key_runners_up) || [];
  const facts = {
    key: a.key && a.key.label
      ? a.key.label + (runnersUp.length ? ` (could also be ${runnersUp.map((c) => `${c.label} ${c.score.toFixed(2)}`).join(" or ")})` : "")
      : null,
    // a tempo a description would not state (too few notes to show a pulse) is marked, as `analyze` marks it
    tempo: a.tempo && a.tempo.bpm
      ? `${a.tempo.bpm.toFixed(1)} BPM` + (result.stated && result.stated.tempo_bpm == null ? " (a guess: too few notes)" : "")
      : null,
    meter: a.meter && a.meter.label ? `${a.meter.label} (confidence ${a.meter.confidence.toFixed(2)})` : null,
    loudness: a.loudness ? `${a.loudness.integrated_lufs} LUFS` : null,
    length: `${dur.toFixed(1)} s`,
    music: a.is_music ? "yes" : `no (${a.music && a.music.reason})`,
  };
  $("facts").replaceChildren(
    ...Object.entries(facts)
      .filter(([, v]) => v)
      .flatMap(([k, v]) => [el("dt", k), el("dd", v, { id: `fact-${k}` })])
  );
  const rows = [];
  for (const g of ["genre", "instrument", "mood", "vocals"])
    for (const t of ((a.tags && a.tags[g]) || []).slice(0, 6)) {
      const bar = el("div", "", { className: "bar" });
      bar.style.width = `${Math.round(100 * t.score)}%`;
      rows.push(el("div", null, { className: "tagrow" }, [el("span", g), el("span", t.label), bar, el("span", t.score.toFixed(2))]));
    }
  $("tags").replaceChildren(...rows);
  $("caption").replaceChildren(...claimSpans(result.caption || "", (result.faithfulness || {}).checked || []));
  $("section-captions").replaceChildren(...(result.sections || []).map((s) => el("li", s.caption)));
  $("answer").textContent = "";
  drawWave(blob);
  drawTempo(a);
}

// the tempo over time, beat to beat (the median of 8 beat intervals, as `j2a ask "does it speed up?"` reads it):
// drawn on a scale of at least +-4% around its median, so a steady pulse is a flat line, not magnified jitter
function drawTempo(a) {
  const canvas = $("tempo");
  canvas.width = canvas.clientWidth || 1000;
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, dur = a.duration_s || 1;
  g.clearRect(0, 0, w, h);
  const b = a.beats || [];
  const pts = [];
  for (let i = 0; i + 8 < b.length; i++) {
    const ibi = b.slice(i, i + 9).map((t, k, xs) => (k ? t - xs[k - 1] : null)).slice(1).sort((x, y) => x - y);
    pts.push([(b[i] + b[i + 8]) / 2, 60 / ((ibi[3] + ibi[4]) / 2)]);
  }
  canvas.hidden = pts.length < 2;
  if (canvas.hidden) return;
  const bpms = pts.map((p) => p[1]).sort((x, y) => x - y);
  const mid = bpms[Math.floor(bpms.length / 2)];
  const lo = Math.min(bpms[0], mid * 0.96), hi = Math.max(bpms[bpms.length - 1], mid * 1.04);
  const y = (v) => h - 4 - ((v - lo) / (hi - lo)) * (h - 8);
  g.strokeStyle = "#f0a030";
  g.lineWidth = 2;
  g.beginPath();
  pts.forEach(([t, v], k) => (k ? g.lineTo : g.moveTo).call(g, (t / dur) * w, y(v)));
  g.stroke();
  g.fillStyle = "#1d2b3a";
  g.font = "11px system-ui, sans-serif";
  g.fillText(`${Math.round(bpms[bpms.length - 1])} BPM`, 4, 11);
  g.fillText(`${Math.round(bpms[0])}`, 4, h - 3);
  canvas.dataset.range = `${Math.round(bpms[0])}-${Math.round(bpms[bpms.length - 1])}`;
  canvas.title = `tempo from beat to beat (the median of 8 beats): ${canvas.dataset.range} BPM`;
}

function blocks(items, label, dur) {
  return items.map((x) => {
    const d = el("div", label(x), { className: "block", title: label(x) });
    d.style.left = `${(100 * x.start) / dur}%`;
    d.style.width = `${(100 * (x.end - x.start)) / dur}%`;
    d.dataset.start = x.start;
    d.dataset.end = x.end;
    d.addEventListener("click", () => {
      $("player").currentTime = x.start;
      $("player").play().catch(() => {});
    });
    return d;
  });
}
// chord roots spelled by the key's signature (Bb in F major, not A#), as `j2a describe` spells them
const FLAT_KEYS = ["F major", "Bb major", "Eb major", "Ab major", "Db major", "Gb major", "D minor", "G minor",
  "C minor", "F minor", "Bb minor", "Eb minor"];
const FLATS = { "C#": "Db", "D#": "Eb", "F#": "Gb", "G#": "Ab", "A#": "Bb" };
function chordName(h) {
  let [root, quality = "maj"] = h.split(":");
  const key = current && current.analysis.key && current.analysis.key.label;
  if (FLATS[root] && (FLAT_KEYS.includes(key) || (key && key[1] === "b"))) root = FLATS[root];
  return root + (quality === "maj" ? "" : quality === "min" ? "m" : quality);
}

// each claim of the caption underlined, its evidence (or why it was kept) on hover
function claimSpans(caption, checked) {
  const out = [];
  let rest = caption;
  for (const c of checked) {
    const i = rest.toLowerCase().indexOf(c.phrase.toLowerCase());
    if (i < 0 || !c.phrase) continue;
    out.push(document.createTextNode(rest.slice(0, i)));
    out.push(el("span", rest.slice(i, i + c.phrase.length), { className: "claim", title: c.evidence || "" }));
    rest = rest.slice(i + c.phrase.length);
  }
  out.push(document.createTextNode(rest));
  return out;
}

async function drawWave(blob) {
  const canvas = $("wave");
  canvas.width = canvas.clientWidth || 1000;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  try {
    const buf = await blob.arrayBuffer();
    const audio = await new (window.AudioContext || window.webkitAudioContext)().decodeAudioData(buf);
    const y = audio.getChannelData(0), w = canvas.width, h = canvas.height, step = Math.max(1, Math.floor(y.length / w));
    g.fillStyle = "#6a7f94";
    for (let x = 0; x < w; x++) {
      let lo = 1, hi = -1;
      for (let i = x * step; i < Math.min(y.length, (x + 1) * step); i++) {
        if (y[i] < lo) lo = y[i];
        if (y[i] > hi) hi = y[i];
      }
      g.fillRect(x, ((1 - hi) * h) / 2, 1, Math.max(1, ((hi - lo) * h) / 2));
    }
    canvas.dataset.drawn = "1";
  } catch (e) {
    canvas.dataset.drawn = "0"; // a format this browser cannot decode: the lanes still show
  }
}

// the playhead and the chord / section under it follow the player
function follow() {
  const p = $("player");
  if (current && current.analysis.duration_s) {
    $("playhead").style.left = `${(100 * p.currentTime) / current.analysis.duration_s}%`;
    document.querySelectorAll(".block").forEach((b) =>
      b.classList.toggle("now", p.currentTime >= +b.dataset.start && p.currentTime < +b.dataset.end)
    );
  }
  requestAnimationFrame(follow);
}
requestAnimationFrame(follow);

// ------------------------------------------------------------------------------------------- ask
$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const question = $("question").value;
  try {
    const body = jobId ? { job: jobId, question } : { track: trackId, question };
    const a = await api("/ask", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("answer").textContent = a.answer;
  } catch (e) {
    $("answer").textContent = e.message;
  }
});

// --------------------------------------------------------------------------------------- library
let listed = false; // the library has been searched (or listed) once
$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  runSearch();
});

async function runSearch() {
  listed = true;
  try {
    const params = new URLSearchParams({ q: $("query").value, limit: 50, strict: $("strict").checked });
    let asked = !!$("query").value.trim();
    for (const name of ["bpm", "key", "meter", "instrument", "genre", "vocals"]) {
      const v = $(`f-${name}`).value.trim();
      if (v) params.append(name, v);
      asked = asked || !!v;
    }
    const r = await api(`/search?${params}`);
    const size = `${r.library_size} track${r.library_size === 1 ? "" : "s"} in the library`;
    $("filters").textContent = asked
      ? `${size}; filters: ${r.filters}`
      : `${size}; the first ${r.tracks.length} music tracks (search by words or filters above; "not music" finds the rest)`;
    listTracks(r.tracks);
  } catch (e) {
    $("filters").textContent = e.message;
  }
}

function listTracks(tracks) {
  $("hits").tBodies[0].replaceChildren(
    ...tracks.map((t) => {
      const open = el("button", "open");
      open.addEventListener("click", () => openTrack(t.id));
      const like = el("button", "similar");
      like.addEventListener("click", async () => listTracks((await api(`/tracks/${t.id}/similar?limit=20`)).tracks));
      const tr = el("tr", null, { className: t.match < 1 ? "near" : "" }, [
        el("td", String(t.id)),
        el("td", t.path.split("/").pop()),
        el("td", t.bpm ? t.bpm.toFixed(0) : ""),
        el("td", t.key || ""),
        el("td", t.meter || ""),
        el("td", (t.why || []).join("; ")),
        el("td", null, {}, [open, like]),
      ]);
      return tr;
    })
  );
}

async function openTrack(id) {
  const t = await api(`/tracks/${id}`);
  const audio = await fetch(`${API}/tracks/${id}/audio`, { headers: headers() });
  const blob = await audio.blob();
  jobId = null;
  trackId = id;
  show({ analysis: t.analysis, caption: t.description || "", sections: t.sections || [] }, t.path.split("/").pop(), URL.createObjectURL(blob), blob);
  $("tab-track").click();
}

$("playlist").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await api(`/playlist?q=${encodeURIComponent($("query").value)}&minutes=${$("minutes").value}`);
  const m3u = ["#EXTM3U", ...r.tracks.flatMap((t) => [`#EXTINF:${Math.round(t.duration_s)},${t.path.split("/").pop()}`, t.path])];
  const a = el("a", "", { href: URL.createObjectURL(new Blob([m3u.join("\n") + "\n"], { type: "audio/x-mpegurl" })) });
  a.download = "j2a-playlist.m3u";
  a.click();
});

function el(tag, text, props = {}, children = []) {
  const e = Object.assign(document.createElement(tag), props);
  if (text !== null && text !== undefined) e.textContent = text;
  if (children.length) e.append(...children);
  return e;
}
