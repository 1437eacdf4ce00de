"""`curate mix`: check a dataset-mix manifest and print the plan
the trainer will draw by (common.mix)."""
