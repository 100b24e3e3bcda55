"""Corrupt TFRecord files met in the middle of training.

Real damage to a Basenji-format file: cut short in the middle of a record
(as an interrupted copy leaves it), or a flipped byte inside a record's
payload (the ZLIB stream stays valid, the TFRecord CRC fails). Training
through `enformer-train` must stop with one line naming the file and the
step, or, with `basenji_datasets.skip_corrupt = True`, skip the damage and
report what was lost.
"""
import logging
import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.data import basenji
from enformer_tf.cli import train as cli
from enformer_tf.train import Trainer
from enformer_tf.train import config
from reliability import train_child as child

NUM_EXAMPLES = 8
PER_FILE = 2
BAD_FILE = 'train-1.tfr'  # Examples 2 and 3: the batch of global step 2.


def _record_spans(raw: bytes):
  """(start, end) of each record in an uncompressed TFRecord stream.

  A record is a little-endian uint64 length, its masked CRC (4 bytes), the
  payload and the payload's masked CRC (4 bytes).
  """
  spans, position = [], 0
  while position < len(raw):
    (length,) = struct.unpack('<Q', raw[position:position + 8])
    spans.append((position, position + 16 + length))
    position += 16 + length
  return spans


def _truncate_in_record(path: str, record: int):
  """Cuts the compressed file where its `record`-th record is half read."""
  with open(path, 'rb') as f:
    compressed = f.read()
  start, end = _record_spans(zlib.decompress(compressed))[record]
  middle = (start + end) // 2
  cut = next(n for n in range(len(compressed))
             if len(zlib.decompressobj().decompress(compressed[:n])) >= middle)
  with open(path, 'wb') as f:
    f.write(compressed[:cut])


def _flip_byte_in_record(path: str, record: int):
  """Flips a payload byte of the `record`-th record; the ZLIB stream stays
  valid, so the TFRecord CRC is what catches it."""
  with open(path, 'rb') as f:
    raw = bytearray(zlib.decompress(f.read()))
  start, end = _record_spans(bytes(raw))[record]
  raw[(start + 12 + end - 4) // 2] ^= 0xFF
  with open(path, 'wb') as f:
    f.write(zlib.compress(bytes(raw)))


DAMAGE = {'truncated mid-record': _truncate_in_record,
          'flipped byte, CRC fails': _flip_byte_in_record}


@pytest.fixture(params=sorted(DAMAGE))
def damaged_data(request, tmp_path):
  """A human data directory of 4 files x 2 examples; the second record of
  train-1.tfr damaged. Returns (data_dir, bad_path)."""
  data_dir = str(tmp_path / 'human')
  rng = np.random.default_rng(0)
  examples = [(np.eye(4, dtype=np.float32)[rng.integers(
      0, 4, child.SEQUENCE_LENGTH)], rng.gamma(1.0, 1.0, (
          child.TARGET_LENGTH, 3)).astype(np.float32))
              for _ in range(NUM_EXAMPLES)]
  basenji.write_tfrecords(data_dir, 'train', examples, seqs_per_file=PER_FILE)
  basenji.write_statistics(
      data_dir, num_targets=3, train_seqs=NUM_EXAMPLES, valid_seqs=0,
      test_seqs=0, seq_length=child.SEQUENCE_LENGTH,
      pool_width=child.SEQUENCE_LENGTH // child.TARGET_LENGTH, crop_bp=0,
      target_length=child.TARGET_LENGTH)
  bad = os.path.join(data_dir, 'tfrecords', BAD_FILE)
  DAMAGE[request.param](bad, record=1)
  # The damage is real: TensorFlow's own reader fails on that file.
  check = basenji.verify_tfrecords(data_dir, ['train'])[bad]
  assert check.records == 1 and check.error.startswith('DataLossError'), check
  return data_dir, bad


def _args(tmp_path, data_dir, num_steps, skip_corrupt=None):
  child.register_gin()
  gin_file = child.toy_gin(
      str(tmp_path / 'toy.gin'), num_steps,
      train_data='@enformer_tf.train.basenji_datasets',
      bindings=[f"enformer_tf.train.basenji_datasets.data_dirs = "
                f"{{'human': '{data_dir}'}}"])
  args = ['--gin_file', gin_file, '--model_dir', str(tmp_path / 'run')]
  if skip_corrupt is not None:
    args += ['--gin_param', 'enformer_tf.train.basenji_datasets.skip_corrupt'
             f' = {skip_corrupt}']
  return args


def test_enformer_train_stops_naming_the_file_and_step(tmp_path, capsys,
                                                       damaged_data):
  data_dir, bad = damaged_data
  status = cli.main(_args(tmp_path, data_dir, num_steps=4))
  _, err = capsys.readouterr()

  assert status == 1
  [line] = err.strip().splitlines()
  assert line.startswith('enformer-train: error: InvalidArgumentError: '
                         'Training stopped at global step 2: TFRecord file '
                         f'{bad} is corrupt or truncated: reading failed '
                         'after 1 good records.')
  assert line.endswith(
      f'(latest checkpoint: {tmp_path / "run" / "ckpt-1"}). To skip them '
      "here: --gin_param 'enformer_tf.train.basenji_datasets.skip_corrupt = "
      "True'.")
  assert 'function_node' not in line and '[[' not in line
  assert child.state_latest(str(tmp_path / 'run')).endswith('ckpt-1')


def test_trainer_error_keeps_its_type_and_names_the_file(tmp_path,
                                                         damaged_data):
  data_dir, bad = damaged_data
  trainer = Trainer(
      lambda: child.ToyModel(heads={'human': 3}),
      config.basenji_datasets({'human': data_dir}), str(tmp_path / 'run'),
      **child.trainer_kwargs())
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=f'global step 2: TFRecord file {bad} is corrupt'):
    trainer.train(4)
  assert int(trainer.optimizer.iterations.numpy()) == 1


def test_skip_corrupt_trains_on_and_reports_what_was_lost(
    tmp_path, capsys, caplog, damaged_data):
  data_dir, bad = damaged_data
  # 6 steps of 2 examples: more than one pass over the 7 readable examples.
  with caplog.at_level(logging.WARNING):
    status = cli.main(_args(tmp_path, data_dir, num_steps=6,
                            skip_corrupt=True))
  out, err = capsys.readouterr()

  assert status == 0, err
  assert (f'train/human data: skipped 1 corrupt TFRecord file: {bad} (kept '
          'its first 1 record); 1 of 8 records lost per pass.') in out
  assert f'skipping TFRecord file {bad}' in caplog.text
  run = str(tmp_path / 'run')
  assert child.state_latest(run).endswith('ckpt-6')
  child.assert_all_finite(run)


def test_skip_corrupt_counts_in_the_trainer_read_reports(tmp_path,
                                                         damaged_data):
  data_dir, bad = damaged_data
  trainer = Trainer(
      lambda: child.ToyModel(heads={'human': 3}),
      config.basenji_datasets({'human': data_dir}, skip_corrupt=True),
      str(tmp_path / 'run'), **child.trainer_kwargs())
  trainer.train(6)
  report = trainer.read_reports['train/human']
  assert report.corrupt_files == {bad: 1}
  assert report.records_lost == 1 and report.expected_records == NUM_EXAMPLES
  # 12 examples trained on, from a stream of 7 per pass: no batch was lost.
  assert int(trainer.optimizer.iterations.numpy()) == 6
