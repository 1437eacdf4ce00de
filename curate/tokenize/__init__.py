"""Tokenization: train a byte-level BPE tokenizer on curated Parquet
(`curate train-tokenizer`) and turn documents into Megatron-style
token shards (the `tokenize` stage), the input of `curate mix` and
the trainer."""
