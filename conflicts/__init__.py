"""Everything that turns a principal hierarchy into measurements: families and generation,
providers, the runner, the store, classifiers, statistics, reports and the CLI."""
