"""Studies: loops that run the trainer (and curation) across many runs; they import train, never the reverse."""
