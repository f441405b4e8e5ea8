"""Scenarios: what a model is asked, before any model is asked.

- `family`: scenario families, YAML data files a researcher writes without touching Python
  (the built-in ones are in `families/`).
- `axes`: the experimental axes a family may vary, and the `--axes` selection syntax.
- `templates`: `{{ slot }}` templates, filled in per dilemma.
- `evidence`: the evidence vocabulary, the declarative rules a family writes for each label;
  which rule fields are regular expressions is known here, once.
- `acts`: the shared library of act patterns (`acts.yaml`) a family's rules name as `@act:NAME`.
- `generate`: a family and a hierarchy turned into dilemmas, streamed to JSONL.
- `dilemma`: the dilemma record, one family rendered at one point of its axes.

May import: `hierarchy`, `conflicts.errors`, `conflicts.atomic`.
"""
