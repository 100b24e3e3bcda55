"""Sequence encoding, Basenji2 TFRecords, genomes, tracks, synthetic data.

  encoding    DNA strings <-> indices <-> one-hot; reverse complements
  genome      FASTA reading, BED records, interval resizing
  targets     targets.txt
  bigwig      reading bigWigs, binning coverage into targets
  regions     BED regions, genome tilings, train/valid/test splits
  basenji/    statistics.json and TFRecords: read, verify, write
  make_data   FASTA + bigWigs -> a Basenji2 data directory
  synthetic/  the synthetic two-organism genome
"""
