"""From an analysis to words that stay true to it.

`prompts` (the one prompt format) -> an LLM (`j2a.llm`) -> `guard` (each claim, found by `claims` in the
words of `concepts`, is checked by `evidence` against the analysis and repaired or dropped) ->
`describe` (whole tracks), `sections` (time-stamped parts) and `ask` (questions; facts straight from the
analysis). `aspects` chooses what a prompt may say about an analysis.
"""
