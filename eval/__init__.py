"""NeuroNarrator evaluation (installed as ``neuronarrator_eval``): metrics, baselines, leaderboard, benchmarks."""
