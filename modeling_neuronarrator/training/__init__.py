"""Training with Accelerate: stage 1 (grounding) and stage 2 (narratives)."""
