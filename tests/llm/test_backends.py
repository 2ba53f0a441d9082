"""LLM backends: template, OpenAI-compatible HTTP, transformers (tiny random model), and the shipped J2A-LLM."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from j2a.llm import backends, decoding, loading
from j2a.text import prompts

FACTS = {
    "tempo_bpm": 121.6,
    "key": "A minor",
    "meter": "4/4",
    "chords": ["A:min", "A:min", "F:maj", "C:maj", "G:7", "N"],
    "duration_s": 184.2,
}


# ------------------------------------------------------------------------------------ template
def test_template_backend_is_deterministic_and_uses_only_inputs():
    t = backends.load_llm("none")
    assert t is backends.load_llm("none")  # cached per process
    p = prompts.format_prompt(["jazz", "trumpet", "piano"], FACTS)
    a, b = t.generate([p, p]), t.generate([p])
    assert a[0] == a[1] == b[0]
    assert a[0] == (
        "This is a jazz piece featuring trumpet and piano. It moves at about 122 BPM in 4/4 time. "
        "It is in A minor, and the chords move through Am - F - C - G7. It lasts 184 seconds."
    )
    assert prompts.template_caption([], {}) == "This is a piece of music."


def test_template_names_each_instrument_once():
    """A family beside its member and a name inside a longer one say nothing new ("violin, cello and strings")."""
    caption = prompts.template_caption(
        ["violin", "strings", "cello", "acoustic guitar", "guitar", "drum kit", "percussion"]
    )
    assert caption == "This is a piece of music featuring violin, cello, acoustic guitar and drum kit."
    assert (
        prompts.template_caption(["strings", "drum kit"]) == "This is a piece of music featuring strings and drum kit."
    )


def test_unknown_spec_is_one_line_error():
    with pytest.raises(ValueError, match="unknown LLM spec"):
        backends.load_llm("gpt5")
    with pytest.raises(ValueError, match="openai:<model>@<base_url>"):
        backends.load_llm("openai:nourl")


# ------------------------------------------------------------------------------------ openai
class _Handler(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, body, self.headers.get("Authorization")))
        if self.path == "/v1/completions":
            out = {
                "choices": [
                    {"text": f" A {body['model']} caption for: {body['prompt'].splitlines()[0]}\n\nMusic tags: junk"}
                ]
            }
        elif self.path == "/v1/chat/completions":
            out = {"choices": [{"message": {"content": "Chat answer about " + body["messages"][0]["content"][:15]}}]}
        else:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such route")
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def server():
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_openai_completions(server):
    _Handler.seen.clear()
    llm = backends.load_llm(f"openai:tiny@{server}/v1", api_key="k123")
    assert llm.name == f"openai:tiny@{server}/v1"
    out = llm.generate([prompts.format_prompt(["rock"]), prompts.format_prompt(["jazz"])], max_new_tokens=33)
    # the completion is cut where a base model starts a new example
    assert out == ["A tiny caption for: Music tags: rock", "A tiny caption for: Music tags: jazz"]
    path, body, auth = _Handler.seen[0]
    assert (
        path == "/v1/completions" and body["max_tokens"] == 33 and body["temperature"] == 0.0 and auth == "Bearer k123"
    )


def test_openai_chat_and_errors(server):
    chat = backends.load_llm(f"openai:tiny@{server}/v1", chat=True)
    assert chat.generate(["Describe this music please"]) == ["Chat answer about Describe this m"]
    bad = backends.load_llm(f"openai:tiny@{server}/nope")
    with pytest.raises(RuntimeError, match="HTTP 404"):
        bad.generate(["x"])
    dead = backends.OpenAILLM("tiny", "http://127.0.0.1:9", timeout=2)
    with pytest.raises(RuntimeError, match="cannot connect"):
        dead.generate(["x"])


# ------------------------------------------------------------------------------------ hf (tiny)
def test_hf_backend_batched_generation_matches_single(tiny_lm):
    llm = backends.load_llm(f"hf:{tiny_lm}", dtype="fp32")
    assert llm.name == f"hf:{tiny_lm}"
    ps = [
        prompts.format_prompt(["rock", "guitar"]),
        prompts.format_prompt(["jazz"], {"tempo_bpm": 120, "key": "A minor"}),
    ]
    both = llm.generate(ps, max_new_tokens=8)
    assert len(both) == 2 and all(isinstance(s, str) for s in both)
    # left padding in a batch must not change what each prompt generates
    assert [llm.generate([p], max_new_tokens=8)[0] for p in ps] == both
    assert backends.load_llm(f"hf:{tiny_lm}", dtype="fp32") is llm


def test_load_folder_equals_transformers_loader(tiny_lm, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(str(tiny_lm), dtype=torch.float32).eval()
    fast, tok = loading.load_folder(tiny_lm, dtype="fp32")
    x = torch.tensor([[2, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():  # j2a.llm.gemma: same network, products in another order (last-bit differences)
        torch.testing.assert_close(fast(x).logits, ref(x).logits, atol=1e-6, rtol=1e-5)
    assert fast.get_output_embeddings().weight is fast.get_input_embeddings().weight  # still tied
    assert isinstance(tok, loading.FastTokenizer) and tok.eos_token_id == 1
    # a folder whose weights do not fit its config is a clear error, not a half-random model
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "bad"
    shutil.copytree(tiny_lm, bad)
    state = load_file(str(bad / "model.safetensors"))
    state.pop(next(k for k in state if "mlp" in k))
    save_file(state, str(bad / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="do not match"):
        loading.load_folder(bad, dtype="fp32")


def test_local_backend_without_adapter_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "ASSET_DIR", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="adapter missing"):
        backends.load_llm("local", adapter=None, dtype="bf16", batch_size=3)


# ------------------------------------------------------------------------------------ real J2A-LLM
def test_shipped_adapter_exists_with_gemma_notice():
    files = {p.name for p in loading.ASSET_DIR.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "NOTICE"} <= files
    size = (loading.ASSET_DIR / "adapter_model.safetensors").stat().st_size
    assert 1e6 < size < 20e6
    assert "Gemma" in (loading.ASSET_DIR / "NOTICE").read_text()


@pytest.mark.slow
def test_j2a_llm_captions_mention_the_instrument():
    llm = backends.load_llm("local")
    assert "j2a-llm" in llm.name
    out = llm.generate(
        [
            prompts.format_prompt(
                ["acoustic guitar", "folk", "male vocal", "slow tempo"], {"tempo_bpm": 72, "key": "G major"}
            ),
            prompts.format_prompt(["piano", "classical", "instrumental"]),
        ],
        max_new_tokens=48,
    )
    assert "guitar" in out[0].lower() and len(out[0].split()) >= 10
    assert "piano" in out[1].lower()


@pytest.mark.slow
def test_fp32_decoding_loads_an_fp32_model_where_auto_means_bf16(monkeypatch):
    """caption-tags and the bench scripts ask for decode='fp32': that must be an fp32 model even on CPUs
    with native bf16 (there 'auto' loads bf16 weights, and 40 of the first 100 dev captions change)."""
    import torch

    monkeypatch.setenv("J2A_DTYPE", "bf16")  # what 'auto' is on an AMX / avx512_bf16 machine
    assert next(backends.load_llm("local", decode="fp32").model.parameters()).dtype is torch.float32
    assert backends.load_llm("local", decode="fp32") is backends.load_llm(
        "local", decode="fp32", dtype="fp32"
    )  # one model
    assert next(backends.load_llm("local", decode="auto").model.parameters()).dtype is torch.bfloat16
    assert next(backends.load_llm("local", decode="fp32", dtype="bf16").model.parameters()).dtype is torch.bfloat16


@pytest.mark.slow
def test_local_inference_is_fp32_with_int8_steps_even_where_the_cpu_has_bf16(monkeypatch):
    """On CPUs with native bf16 (fast_bf16) training uses bf16, but `local` inference keeps fp32 weights with
    int8 decode steps: faster there (memory-bound steps) and the same captions as on any other CPU."""
    import torch

    from j2a.llm import gemma

    monkeypatch.delenv("J2A_DTYPE", raising=False)
    monkeypatch.delenv("J2A_DECODE", raising=False)
    monkeypatch.setattr(loading, "fast_bf16", lambda: True)
    assert loading.torch_dtype("auto") is torch.bfloat16  # what training and the J2A-2.x models get
    llm = backends.load_llm("local")
    assert next(llm.model.parameters()).dtype is torch.float32
    assert llm.model.decode_precision == ("int8" if gemma._int8_kernel_works() else "fp32")  # fp32: no int8 kernel
    assert llm is backends.load_llm("local", dtype="fp32")  # one model, not a second copy
    assert loading.local_dtype("fp32") == loading.local_dtype("auto") == "fp32"
    monkeypatch.setenv("J2A_DTYPE", "bf16")  # an explicit opt-in still gives bf16 weights
    assert loading.local_dtype("auto") == "bf16" and loading.local_dtype("fp32") == "fp32"


@pytest.mark.slow
def test_fast_tokenizer_matches_transformers_on_gemma():
    """`local` uses j2a.llm.loading.FastTokenizer (the Rust tokenizer alone); it must give transformers' ids and text."""
    import torch
    from transformers import AutoTokenizer

    folder = loading.merged_dir(loading.ASSET_DIR)
    fast, ref = loading.FastTokenizer(folder), AutoTokenizer.from_pretrained(str(folder))
    texts = [
        prompts.format_prompt(["lo-fi", "piano", "rain sounds"], {"key": "F# minor", "tempo_bpm": 84})
        + " A calm, dreamy piece.",
        "Ünïcode — ‘quotes’, emoji 🎸 and\nnew lines\n\n",
        "  leading spaces and <b>tags</b> 4/4 120 BPM",
    ]
    for t in texts:
        assert fast(t)["input_ids"] == ref(t)["input_ids"]
        ids = ref(t, add_special_tokens=False)["input_ids"]
        assert fast(t, add_special_tokens=False)["input_ids"] == ids
        assert fast.decode(ids, skip_special_tokens=True) == ref.decode(ids, skip_special_tokens=True)
    fast.padding_side = ref.padding_side = "left"
    a, b = fast(texts, return_tensors="pt", padding=True), ref(texts, return_tensors="pt", padding=True)
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["attention_mask"], b["attention_mask"])
    assert (fast.eos_token_id, fast.pad_token_id, fast.bos_token_id) == (
        ref.eos_token_id,
        ref.pad_token_id,
        ref.bos_token_id,
    )
    assert fast.convert_tokens_to_ids("<end_of_turn>") == ref.convert_tokens_to_ids("<end_of_turn>")


@pytest.mark.slow
def test_min_new_tokens_holds_back_the_stop():
    llm = backends.load_llm("local")
    p = [prompts.format_prompt(["piano", "solo"])]
    free = llm.generate(p, max_new_tokens=90, num_beams=1)[0]
    held = llm.generate(p, max_new_tokens=90, min_new_tokens=80, num_beams=1)[0]
    n = lambda s: len(llm.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    assert n(held) >= 75 and "\n" not in held
    assert n(free) < 75 and held.startswith(free[:20])  # the same caption, kept going
    beams = llm.generate(p, max_new_tokens=90, min_new_tokens=80)[0]  # beam search holds it back too
    assert n(beams) >= 75 and "\n" not in beams


@pytest.mark.slow
def test_stop_penalty_lengthens_captions_without_forcing_them():
    llm = backends.load_llm("local")
    p = [prompts.format_prompt(["piano", "solo"])]
    n = lambda s: len(llm.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    for beams in (1, 4):
        free = llm.generate(p, max_new_tokens=120, num_beams=beams, stop_penalty=0.0)[0]
        longer = llm.generate(p, max_new_tokens=120, num_beams=beams, stop_penalty=6.0)[0]
        assert n(longer) > n(free) and longer.split()[:8] == free.split()[:8]  # same opening, kept going
        assert n(longer) < 120 or "\n" not in longer  # a soft push: it can still end (and never mid-line junk)


def test_hf_backend_sampling_is_seeded_and_ignores_unknown_keywords(tiny_lm):
    llm = backends.load_llm(f"hf:{tiny_lm}", dtype="fp32")
    p = [prompts.format_prompt(["rock", "guitar"])]
    a = llm.generate(p, max_new_tokens=12, temperature=1.5, seed=3, num_beams=6, top_k=7)  # sampling: no beams
    assert a == llm.generate(p, max_new_tokens=12, temperature=1.5, seed=3)
    outs = {llm.generate(p, max_new_tokens=12, temperature=1.5, seed=s)[0] for s in range(6)}
    assert len(outs) > 1  # sampling differs from seed to seed


def test_beam_search_batches_like_single_prompts_and_blocks_ngrams(tiny_lm):
    llm = backends.load_llm(f"hf:{tiny_lm}", dtype="fp32")
    ps = [
        prompts.format_prompt(["rock", "guitar"]),
        prompts.format_prompt(["jazz"], {"tempo_bpm": 120, "key": "A minor"}),
        prompts.format_prompt(["piano", "sad", "slow"]),
    ]
    beams = llm.generate(ps, max_new_tokens=10, num_beams=3)
    assert [llm.generate([p], max_new_tokens=10, num_beams=3)[0] for p in ps] == beams
    greedy = [
        decoding.decode(llm.model, llm.tokenizer, [p], 10, decoding.GenConfig(num_beams=1), llm.stops, llm.vocab)[0]
        for p in ps
    ]
    assert llm.generate(ps, max_new_tokens=10, num_beams=1) == greedy
    for text in beams:
        words = text.split()
        grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
        assert len(grams) == len(set(grams))


def test_beam_search_finds_a_likelier_caption_than_greedy(tiny_lm):
    """Beam search keeps greedy's path among its candidates, so its best sum of log-probs is no worse."""
    import torch

    llm = backends.load_llm(f"hf:{tiny_lm}", dtype="fp32")
    p = prompts.format_prompt(["rock", "guitar"])

    def logprob(text):
        ids = llm.tokenizer(p, return_tensors="pt")["input_ids"]
        cont = llm.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        full = torch.cat([ids, cont], 1)
        with torch.no_grad():
            lp = torch.log_softmax(llm.model(full).logits[0, :-1].float(), -1)
        tgt = full[0, 1:]
        return float(lp[torch.arange(len(tgt)), tgt][ids.shape[1] - 1 :].sum())

    greedy = llm.generate([p], max_new_tokens=6, no_repeat_ngram_size=0)[0]
    beam = llm.generate([p], max_new_tokens=6, no_repeat_ngram_size=0, num_beams=4, length_penalty=0.0)[0]
    assert logprob(beam) >= logprob(greedy) - 1e-4


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_merged_adapter_is_cached_once_and_matches_in_memory_merge(tiny_lm, tmp_path, monkeypatch, dtype):
    """`local` loads a merged copy from the user cache; it must equal peft's in-memory merge."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_lm), dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)  # LoRA B starts at zero: make the adapter change the model
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(str(adapter))

    out = loading.merged_dir(adapter, base=tiny_lm, dtype=dtype)
    assert out.parent == tmp_path / "cache" / "j2a" / loading.GEMMA_DIRNAME
    assert out.name.endswith("float32" if dtype == "fp32" else "bfloat16")  # one copy per compute dtype
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert loading.merged_dir(adapter, base=tiny_lm, dtype=dtype) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # built once, then reused

    ids = torch.tensor([[2, 5, 6, 7, 8, 9]])
    ref, _ = loading.load_hf(str(tiny_lm), adapter, dtype=dtype)
    got, _ = loading.load_hf(str(out), None, dtype=dtype)
    plain, _ = loading.load_hf(str(tiny_lm), None, dtype=dtype)
    with torch.no_grad():
        a, b, c = (m(input_ids=ids).logits for m in (ref, got, plain))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)  # the adapter really is in the merged copy


def test_auto_dtype_is_fp32_without_native_bf16(monkeypatch):
    """'auto' picks bf16 only where it is fast; $J2A_DTYPE overrides (emulated bf16 is ~20x slower)."""
    import torch

    monkeypatch.setenv("J2A_DTYPE", "fp32")
    assert loading.torch_dtype("auto") is torch.float32
    monkeypatch.setenv("J2A_DTYPE", "bf16")
    assert loading.torch_dtype("auto") is torch.bfloat16
    assert loading.torch_dtype("fp32") is torch.float32  # an explicit choice wins
    monkeypatch.delenv("J2A_DTYPE")
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    native = torch.cuda.is_available() or "avx512_bf16" in flags or "amx_bf16" in flags
    assert loading.fast_bf16() is native
