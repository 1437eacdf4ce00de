"""Language identification with fastText lid.176: the langid stage (see stage.py)."""
