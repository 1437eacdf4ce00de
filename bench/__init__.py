"""The benchmarks: one module per comparison, run from the repository root as `python -m bench.<name>`.
bench/harness.py times a system and compares two side by side; bench/baseline.json holds the headline
ratios of bench/RESULTS.md and `python -m bench.compare NEW.json` checks a new run against them."""
