#!/usr/bin/env bash
# Regenerate the offline leaderboards: VALIDATION (the default's three held-out subjects, which its
# design was tuned on) and the SEALED TEST (three whole sources it never saw). Needs the recipe's
# corpus, test_corpus, blind and evaluate steps (`python -m modeling_neuronarrator.training.default_recipe`),
# whose evaluate step writes the default's and the blind model's narratives to runs/grounded_cpu/predictions/,
# and the paper's configuration trained from the same stage 1 (configs/default_cpu.yaml, runs/paper_cpu),
# which is narrated here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RESULTS=${RESULTS:-runs/lb_results}
PRED=runs/grounded_cpu/predictions
PAPER=runs/paper_cpu/stage2/final
VALIDATION_SUBJECTS=pylossless/s02,alice/alice-01,eegmmidb_s001/S001
EVAL="python -m modeling_neuronarrator.cli evaluate --max-new-tokens 320 --fit-cache runs/lb_fit_cache"
# Validation: the held-out subjects' recorded segments and scenario copies 1-30 (the rows the recipe's
# evaluate step scores: data.heldout_scenario_copies); the baselines are fit on the other (training) subjects.
VAL=(--corpus corpus/offline_grounded --split all --train-split all --leave-out "$VALIDATION_SUBJECTS" --max-scenario-copy 30
     --role validation -o "$RESULTS")
# Sealed test: its own corpus; the baselines are fit on the training subjects of the training corpus.
TEST=(--corpus corpus/offline_sealed_test --split test --train-corpus corpus/offline_grounded --train-split all
      --train-exclude "$VALIDATION_SUBJECTS" --role test -o "$RESULTS")
for board in VAL TEST; do
  declare -n args=$board
  role=$([ "$board" = VAL ] && echo validation || echo test)
  $EVAL --no-model --baselines majority,nearest-neighbour,findings-classifier,oracle "${args[@]}"
  $EVAL --predictions "$PRED/${role}_model.jsonl" --system-name neuronarrator-default_model --system-kind model --baselines none "${args[@]}"
  $EVAL --predictions "$PRED/${role}_blind_trained.jsonl" --system-name blind-model --system-kind baseline --baselines none "${args[@]}"
  $EVAL --model "$PAPER" --system-name paper-config-no-findings --baselines none --batch-size 32 "${args[@]}"
  # The default as strict mode (the Space's) leaves it before its repair (stop 31): greedy narratives
  # that contradict their measured findings narrated again with 4 samples.
  $EVAL --sample-and-check 4 --system-name neuronarrator-default_model-sample-and-check --baselines none --batch-size 32 "${args[@]}"
  # The default as the report decodes it by default (stop 32): greedy under each row's measured grammar.
  $EVAL --measured-grammar --system-name neuronarrator-default_model-measured-grammar --baselines none --batch-size 32 "${args[@]}"
done
python -m modeling_neuronarrator.cli leaderboard "$RESULTS" -o eval/leaderboards/offline/leaderboard.md --system neuronarrator-default_model
