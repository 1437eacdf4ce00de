"""Toxicity filtering: URL blocklist, bad-word ratio, toxicity classifier (see stage.py)."""
