"""Readers: documents that already exist (FineWeb Parquet, Dolma JSONL, CSV, save_to_disk folders, hf:// datasets)."""

from curate.read.config import FORMATS, SUPPORTED, ReaderConfig, infer_format
from curate.read.plan import Piece, list_inputs, plan
from curate.read.reader import Batch, check, read_piece

__all__ = [
    "FORMATS",
    "SUPPORTED",
    "ReaderConfig",
    "infer_format",
    "Piece",
    "list_inputs",
    "plan",
    "Batch",
    "check",
    "read_piece",
]
