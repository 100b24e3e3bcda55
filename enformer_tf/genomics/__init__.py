"""Genomics on top of the model: interval predictions, variant effects,
contribution scores (each with its CLI)."""
