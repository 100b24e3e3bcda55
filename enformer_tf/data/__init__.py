"""Sequence encoding, Basenji2 TFRecords, genomes, tracks, synthetic data.

  encoding    DNA strings <-> indices <-> one-hot; reverse complements
  genome      FASTA reading, BED records, interval resizing
  targets     targets.txt
  bigwig      reading bigWigs, binning coverage into targets
  regions     BED regions, genome tilings, train/valid/test splits
  basenji/    statistics.json and TFRecords: read, verify, write
  make_data   FASTA + bigWigs -> a Basenji2 data directory
  alignments  UCSC chain and net files; aligned bases per region pair
  homology_split  two genomes split so that homologs share a split
  extend_records  Basenji2 records with longer sequences from the FASTA
  synthetic/  the synthetic two-organism genome
"""
