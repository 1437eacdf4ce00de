"""`train export CKPT DIR`: a Hugging Face folder that `AutoModelForCausalLM.from_pretrained(DIR)` loads.

gpt2 style -> GPT2LMHeadModel, llama style -> LlamaForCausalLM; both architectures are the ones train/model.py
implements, so the weights only change names (and GPT-2's Conv1D layers store matrices transposed). Written:
model.safetensors (fp32), config.json (by hand: transformers is not imported), tokenizer.json,
tokenizer_config.json + special_tokens_map.json (bos = eos = pad = <|endoftext|>, so `generate` stops and pads),
generation_config.json and README.md (a model card with the data mix, the tokens actually trained against the
tokens the mix plans, and training figures).

A model option Hugging Face's class cannot express is refused with the option's name, never exported wrongly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from common.tokenizer import hf_tokenizer_files
from train import checkpoint
from train.metrics import share
from train.model import GPT, MLP, GPTConfig

# model_config keys the two HF architectures express; any other key must keep GPTConfig's default
EXPORTABLE = {"vocab_size", "seq_len", "n_layer", "n_head", "n_embd", "style", "dropout"}
EOT = "<|endoftext|>"


class ExportError(ValueError):
    pass


def check_exportable(model_config: dict) -> None:
    defaults = GPTConfig(vocab_size=1, seq_len=1).__dict__
    unsupported = {k: v for k, v in model_config.items() if k not in EXPORTABLE and v != defaults.get(k, object())}
    if unsupported:
        raise ExportError(
            f"cannot export: model option(s) {unsupported} have no equivalent in GPT2LMHeadModel / LlamaForCausalLM"
        )
    if model_config["style"] not in ("gpt2", "llama"):
        raise ExportError(f"cannot export style {model_config['style']!r}: expected gpt2 or llama")


def gpt2_weights(state: dict, c: GPTConfig) -> dict:
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    out = {}
    for name, tensor in state.items():
        if name == "lm_head.weight":
            continue  # tied to wte; transformers re-ties it on load
        if not name.startswith(("h.", "wte.", "wpe.", "ln_f.")):
            raise ExportError(f"cannot export: weight {name} has no place in GPT2LMHeadModel")
        out[f"transformer.{name}"] = tensor.t() if name.endswith(conv1d) else tensor
    return out


def llama_weights(state: dict, c: GPTConfig) -> dict:
    out = {"model.embed_tokens.weight": state["wte.weight"], "model.norm.weight": state["ln_f.weight"]}
    for i in range(c.n_layer):
        p, q = f"h.{i}.", f"model.layers.{i}."
        out[q + "input_layernorm.weight"] = state[p + "ln_1.weight"]
        out[q + "post_attention_layernorm.weight"] = state[p + "ln_2.weight"]
        # both use rotate-half RoPE on (first half, second half) of each head: q and k need no permutation
        for part, name in zip(state[p + "attn.c_attn.weight"].chunk(3, dim=0), ("q_proj", "k_proj", "v_proj")):
            out[q + f"self_attn.{name}.weight"] = part
        out[q + "self_attn.o_proj.weight"] = state[p + "attn.c_proj.weight"]
        gate, up = state[p + "mlp.c_fc.weight"].chunk(2, dim=0)
        out[q + "mlp.gate_proj.weight"], out[q + "mlp.up_proj.weight"] = gate, up
        out[q + "mlp.down_proj.weight"] = state[p + "mlp.c_proj.weight"]
    return out


def hf_config(c: GPTConfig, eot_id: int) -> dict:
    common = {
        "vocab_size": c.vocab_size,
        "bos_token_id": eot_id,
        "eos_token_id": eot_id,
        "pad_token_id": eot_id,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    if c.style == "gpt2":
        return {
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "n_positions": c.seq_len,
            "n_ctx": c.seq_len,
            "n_embd": c.n_embd,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_inner": None,
            "activation_function": "gelu",
            "layer_norm_epsilon": 1e-5,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "scale_attn_weights": True,
            "initializer_range": 0.02,
            **common,
        }
    with torch.device("meta"):
        hidden = MLP(c).c_proj.in_features  # the SwiGLU width model.py chose
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c.n_embd,
        "intermediate_size": hidden,
        "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_head,
        "head_dim": c.n_embd // c.n_head,
        "max_position_embeddings": c.seq_len,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        **common,
    }


def tokenizer_files(tokenizer_json: Path, out_dir: Path, seq_len: int) -> int:
    """Copy tokenizer.json and write its config and special tokens; returns the EOT id."""
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    specials = {a["content"]: a["id"] for a in spec.get("added_tokens", []) if a.get("special")}
    if EOT not in specials:
        raise ExportError(f"{tokenizer_json}: no special token {EOT} to use as bos/eos/pad")
    shutil.copyfile(tokenizer_json, out_dir / "tokenizer.json")
    for name, content in hf_tokenizer_files(EOT, seq_len).items():
        (out_dir / name).write_text(json.dumps(content, indent=1) + "\n")
    return specials[EOT]


def model_card(payload: dict, c: GPTConfig, architecture: str) -> str:
    with torch.device("meta"):
        params = GPT(c).num_params()
    config, state = payload.get("config", {}), payload["state"]
    tokens = state["step"] * payload.get("tokens_per_step", 0)
    planned = payload.get("plan", {}).get("planned_tokens")  # absent in checkpoints of older versions
    trained = f"{tokens:,}" + (
        f" of the {planned:,} the data mix plans ({share(tokens / planned)} of the plan)" if planned else ""
    )
    lines = [
        f"# {Path(config.get('out_dir', 'model')).name}",
        "",
        f"A {params / 1e6:.2f}M-parameter {c.style}-style decoder ({architecture}), trained with rawtollm's "
        "`train run` on data curated by `curate`.",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| layers / heads / width | {c.n_layer} / {c.n_head} / {c.n_embd} |",
        f"| context | {c.seq_len} tokens |",
        f"| vocabulary | {c.vocab_size} |",
        f"| steps | {state['step']:,} |",
        f"| tokens trained | {trained} |",
        f"| learning rate | {config.get('lr')} ({config.get('schedule')}) |",
    ]
    if state.get("best_val") not in (None, float("inf")):
        lines.append(f"| best validation loss | {state['best_val']:.4f} |")
    lines += ["", "## Data mix", ""]
    manifest = Path(config.get("manifest", ""))
    if manifest.is_file():
        from common.mix import format_plan, load_manifest, plan_mix

        try:
            lines += ["```", format_plan(plan_mix(load_manifest(manifest))), "```"]
            if planned and tokens < planned:
                lines += [
                    "",
                    f"This model was trained on the first {tokens:,} tokens of this plan "
                    f"({share(tokens / planned)} of it), drawn in the plan's proportions.",
                ]
        except ValueError as error:
            lines.append(f"manifest {manifest} could not be read now ({error})")
    else:
        lines.append(f"manifest: {manifest or 'not recorded'} (not found at export time)")
    lines += [
        "",
        f"Tokenizer sha256: `{payload.get('tokenizer_hash', '')}`",
        "",
        "Load with `AutoModelForCausalLM.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`.",
    ]
    return "\n".join(lines) + "\n"


def export_checkpoint(ckpt: str | Path, out_dir: str | Path, tokenizer_path: str | Path | None = None) -> Path:
    from train.sample import load_model

    try:
        from safetensors.torch import save_file
    except ImportError:
        raise ExportError("train export needs safetensors (pip install safetensors)") from None
    check_exportable(checkpoint.load(Path(ckpt))["model_config"])  # before building a model it may not fit
    model, payload = load_model(ckpt)
    c = model.config
    tokenizer_path = Path(tokenizer_path or payload.get("tokenizer_path") or "")
    if not tokenizer_path.is_file():
        raise FileNotFoundError(f"tokenizer.json not found ({tokenizer_path}); pass --tokenizer PATH")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    eot_id = tokenizer_files(tokenizer_path, out_dir, c.seq_len)
    state = {k: v.float() for k, v in model.state_dict().items()}
    weights = gpt2_weights(state, c) if c.style == "gpt2" else llama_weights(state, c)
    save_file(
        {k: v.contiguous() for k, v in weights.items()}, str(out_dir / "model.safetensors"), metadata={"format": "pt"}
    )
    config = hf_config(c, eot_id)
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out_dir / "generation_config.json").write_text(
        json.dumps({"bos_token_id": eot_id, "eos_token_id": eot_id, "pad_token_id": eot_id}, indent=1) + "\n"
    )
    (out_dir / "README.md").write_text(model_card(payload, c, config["architectures"][0]))
    return out_dir
