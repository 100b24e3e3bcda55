"""Genomics on top of the model: interval predictions, genes, variant
effects, enhancer-gene prioritisation, contribution scores.

Each command of `enformer_tf/cli/` is a thin layer over one workflow here
(a `*_files.py` module: paths in, files out):

  enformer-predict                interval_files.predict_to_files
  enformer-predict-genes          gene_files.predict_genes_to_files
  enformer-evaluate-genes         gene_files.evaluate_genes_to_files
  enformer-score-variants         variant_files.score_variants_to_files
  enformer-fit-variant-normalizer variant_normalization
  enformer-variant-benchmark      variant_benchmark_files
  enformer-prioritize-enhancers   enhancer_files
  enformer-contrib                contribution_files.contributions_to_files

which stand on the computing modules: `intervals` (windows, the one head
predictor `window_predictor`), `track_writers`, `plotting`; `genes`,
`gene_evaluation`; `vcf`, `variant_windows`, `variant_effects`,
`variant_stats`, `variant_genes`, `variant_scoring`, `score_writers`;
`enhancers`, `enhancer_evaluation`; `contribution`, `contribution_plots`;
and share `tracks` (a head's targets and `--tracks`).
"""
