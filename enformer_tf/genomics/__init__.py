"""Genomics on top of the model: interval predictions, variant effects,
contribution scores.

Each command of `enformer_tf/cli/` is a thin layer over one workflow here:

  enformer-predict         interval_files.predict_to_files
  enformer-score-variants  variant_files.score_variants_to_files
  enformer-contrib         contribution_files.contributions_to_files

which stand on the library modules (`intervals`, `track_writers`,
`plotting`; `vcf`, `variant_effects`, `score_writers`; `contribution`,
`contribution_plots`) and share `tracks` (a head's targets and `--tracks`).
"""
