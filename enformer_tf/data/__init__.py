"""Sequence encoding, Basenji2 TFRecords, genomes, tracks, synthetic data."""
