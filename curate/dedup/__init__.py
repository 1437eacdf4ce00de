"""Exact and MinHash near-duplicate removal across a whole corpus (see stage.py)."""
