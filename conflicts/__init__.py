"""Everything that turns a principal hierarchy into measurements, in areas layered one way.

Each area is a subpackage of one kind of thing; an area imports only from the areas listed
before it (and from `hierarchy`, the pure domain, which imports nothing of `conflicts`):

    errors, atomic  the input errors every area raises; files that appear whole or not at all
    inert           text from models shown on a terminal with its control sequences made visible
    plugins         the entry points through which a lab's package joins the registries
    scenarios       families, axes, templates, generation, the evidence vocabulary, dilemmas
    store           the database, its migrations, transcripts and verdicts as stored
    providers       model names to providers: the SDK providers, the personas, retries, TLS
    run             planning and executing runs: tool environment, cache, prices, imports
    analysis        the report's numbers: aggregation, intervals, tests, comparisons
    classify        verdicts: the rule engine, refusal and awareness detectors, judges, gold
    formats         the report and the rows rendered: terminal, Markdown, tidy, HTML, export
    cli             the `ihsim` command line, one module per area, shared option bundles

`tests/test_layers.py` enforces the order. Subpackages import nothing on import, so
`ihsim --help` loads no SDK.
"""
