"""Training with Accelerate: stage 1 (grounding) and stage 2 (narratives).

- ``config``: the YAML training config (``configs/*.yaml``), validated key by key.
- ``data``: corpus -> batches (Parquet corpus via ``datasets``, K-segment histories, topomaps
  recomputed with the feature extractor's functions, collation through the processor).
- ``loop``: the shared loop (epochs, accumulation, checkpoints every N steps, exact resume,
  JSONL metrics, tqdm).
- ``trainer``: the two stages (``train_stage``).
- ``cli``: ``neuronarrator train stage1|stage2 --config FILE [--resume]``, also an
  ``accelerate launch -m modeling_neuronarrator.training.cli`` entry point.
- ``quality``: per-field clinical accuracy of generated narratives.
- ``default_recipe``: the one command that rebuilds the embedded default model.
- ``tokenizer``, ``smollm2``: the narrative tokenizer and the SmolLM2 conversion (model engineer).
"""
