"""Files that sit beside a `tokenizers` tokenizer.json, written by both `curate train-tokenizer` and `train export`."""

from __future__ import annotations


def hf_tokenizer_files(eot: str = "<|endoftext|>", model_max_length: int | None = None) -> dict[str, dict]:
    """tokenizer_config.json and special_tokens_map.json to sit beside a tokenizer.json, so transformers'
    AutoTokenizer loads it with bos/eos/pad set (without them eos_token is None and `generate` never stops).
    One end-of-text token serves as all three, as in GPT-2. Written by `curate train-tokenizer` and `train export`."""
    special = {"bos_token": eot, "eos_token": eot, "pad_token": eot, "unk_token": eot}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False, **special}
    if model_max_length:
        config["model_max_length"] = model_max_length
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}
