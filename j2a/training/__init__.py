"""Training J2A's models: `j2a2` (`j2a train`, the J2A-2.x projector), `llm` (`j2a train-llm`, the J2A-LLM
LoRA, and `j2a caption-tags`; its examples from MusicCaps rows in `llm_data`), `pretrain`
(`j2a pretrain-encoder`, MW-MAE); all three run the optimizer loop, schedule, checkpoints and log of `loop`."""
