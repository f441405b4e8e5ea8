"""Classification: where a verdict is made.

- `registry`: every classifier, ihsim's own and a lab's (the `ihsim.classifiers` entry points),
  with what each can do declared on it.
- `classifiers`: ihsim's own: `evidence` (the family's rules), `judge` and `both`; a run
  classified by the rules.
- `rules`: the rule engine, where a family's evidence is evaluated against what a model did,
  and whether the model engaged at all (silence is never compliance).
- `plain_text`: model text as every rule and detector reads it: typographic punctuation,
  entities and compatibility forms folded, and the answer cut at a turn the model invented.
- `refusal`, `awareness`: detectors for open refusals and for "I think this is a test".
- `judge_prompt`: what an LLM judge reads and the structured answer it must give.
- `judges`: a run classified by LLM judges, their vote, and rules and judges combined.
- `judge_batches`: the judges' requests sent by batch, their answers collected for `judges`.
- `self_check`: a family checked against itself (`ihsim families validate`).
- `gold`, `review`: labels from people (`ihsim label`) and a classifier's agreement with them.

May import: `analysis`, `run`, `providers`, `store`, `scenarios` and what they may.
"""
