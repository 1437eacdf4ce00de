"""Licenses of code: detection (detect.py, run by extract) and the license filter stage (stage.py)."""
