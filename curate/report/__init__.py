"""`curate report` and `curate sample`: look at a pipeline run before trusting it."""
