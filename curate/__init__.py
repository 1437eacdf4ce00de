"""Curation: raw web crawls, books and code to clean, deduplicated, tokenized data.

The data flow is the architecture; each step has its own subpackage:
extract -> langid -> quality -> dedup -> toxicity -> tokenize -> mix (-> train/).
`curate.core` holds what every step shares: the document schema, the stage
interface, the pipeline YAML loader, executors and the resumable runner.
"""
