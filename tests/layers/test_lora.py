"""LoRA adapters (enformer_tf/layers/lora.py): the formula, merging, what
trains, serialisation."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.layers import lora
from enformer_tf.train import finetune

SMALL = dict(channels=24, num_transformer_layers=2, num_heads=2, key_size=4,
             conv_tower_divisible_by=4, sequence_length=1024, target_length=4,
             dropout_rate=0.0, attention_dropout_rate=0.0,
             positional_dropout_rate=0.0, final_dropout_rate=0.0)


def _model():
  keras.utils.set_random_seed(0)
  model = Enformer(heads={'human': 3}, **SMALL)
  model.build(tf.TensorShape([None, 1024, 4]))
  return model


def _x(seed=0):
  return tf.one_hot(np.random.RandomState(seed).randint(0, 4, (2, 1024)), 4)


def _randomise_adapters(model, seed=1):
  rng = np.random.RandomState(seed)
  for adapter in lora.lora_layers(model):
    adapter.lora_b.assign(rng.randn(*adapter.lora_b.shape) * 0.3)


def test_lora_dense_is_the_formula():
  dense = keras.layers.Dense(5)
  dense.build([None, 7])
  adapter = lora.LoRADense(dense, rank=3, alpha=6.0)
  adapter.build([None, 7])
  adapter.lora_b.assign(np.random.RandomState(0).randn(3, 5))
  x = np.random.RandomState(1).randn(4, 7).astype(np.float32)
  w, b = dense.kernel.numpy(), dense.bias.numpy()
  a, bb = adapter.lora_a.numpy(), adapter.lora_b.numpy()
  np.testing.assert_allclose(adapter(x), x @ w + b + 2.0 * (x @ a @ bb),
                             rtol=1e-5, atol=1e-5)
  clone = lora.LoRADense.from_config(adapter.get_config())
  assert (clone.rank, clone.alpha, clone.layer.units) == (3, 6.0, 5)
  restored = keras.layers.deserialize(keras.layers.serialize(adapter))
  assert isinstance(restored, lora.LoRADense) and restored.scale == 2.0


def test_new_adapters_change_nothing_and_merge_agrees_to_1e5():
  model = _model()
  x = _x()
  before = model(x)['human'].numpy()
  adapters = lora.apply_lora(model, rank=2, alpha=4.0)
  assert len(adapters) == 2 * 6
  np.testing.assert_allclose(model(x)['human'], before, rtol=1e-6, atol=1e-6)
  _randomise_adapters(model)
  unmerged = model(x)['human'].numpy()
  assert np.abs(unmerged - before).max() > 1e-2  # The adapters act.
  assert lora.merge_lora(model) == 12
  assert not lora.lora_layers(model)
  np.testing.assert_allclose(model(x)['human'], unmerged, rtol=1e-5,
                             atol=1e-5)


def test_only_adapters_and_heads_train():
  source = _model()
  # The attention output starts at zero, which would leave q and v without
  # gradient: give it weights, as a trained model has.
  for block in lora.transformer_blocks(source):
    kernel = block.mha.embedding_layer.kernel
    kernel.assign(np.random.RandomState(2).randn(*kernel.shape) * 0.2)
  model, _ = finetune.prepare_finetune(
      source, heads={'atac': 2}, keep_source_heads=False, train='heads',
      lora=dict(rank=2, alpha=4.0, targets=['q', 'v', 'mlp'], blocks=[-1]))
  # Counted from the shapes, rank 2: q [24 -> 2 heads x key 4], v [24 ->
  # 24], mlp1 [24 -> 48], mlp2 [48 -> 24]; head [48 -> 2] + bias. The
  # attention's own relative-position biases are frozen too.
  adapters = 2 * (24 + 8) + 2 * (24 + 24) + 2 * (24 + 48) + 2 * (48 + 24)
  head = 48 * 2 + 2
  assert finetune.trainable_counts(model)['trainable'] == adapters + head
  names = sorted(v.name for v in model.trainable_variables)
  assert all('lora_' in n or n.startswith('head_atac') for n in names), names
  frozen = [v for v in model.variables if all(
      v is not t for t in model.trainable_variables)]
  before = [v.numpy().copy() for v in frozen]
  optimizer = keras.optimizers.Adam(1e-2, jit_compile=False)
  variables = model.trainable_variables
  for seed in range(2):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(model.predict_head(_x(seed), 'atac',
                                               training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
  for v, value in zip(frozen, before):
    np.testing.assert_array_equal(v.numpy(), value, err_msg=v.name)
  moved = [v.name for v in variables if 'lora_b' in v.name]
  assert moved and all(np.abs(v.numpy()).max() > 0 for v in variables
                       if 'lora_b' in v.name)


def test_bad_targets_are_named():
  with pytest.raises(ValueError, match="Unknown LoRA target 'qq'"):
    lora.apply_lora(_model(), targets=['qq'])
  with pytest.raises(ValueError, match='block index 5 is out of range'):
    lora.apply_lora(_model(), blocks=[5])


def test_lora_config_restores_the_adapters_and_merged_model_copies(tmp_path):
  model = _model()
  lora.apply_lora(model, rank=2, alpha=4.0, dropout_rate=0.1,
                  targets=['v', 'mlp2'], blocks=[-1])
  _randomise_adapters(model)
  config = lora.lora_config(model)
  assert config == [
      dict(block=1, target=t, rank=2, alpha=4.0, dropout_rate=0.1)
      for t in ('v', 'mlp2')]
  prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / 'ckpt'))
  x = _x()
  expected = model(x)['human'].numpy()
  again = _model()
  assert len(lora.restore_lora(again, config)) == 2
  tf.train.Checkpoint(model=again).read(prefix).assert_existing_objects_matched()
  np.testing.assert_array_equal(again(x)['human'], expected)
  merged = lora.merged_model(again)
  assert merged is not again and not lora.lora_layers(merged)
  assert len(lora.lora_layers(again)) == 2  # Left adapted.
  np.testing.assert_allclose(merged(x)['human'], expected, rtol=1e-5,
                             atol=1e-5)
  assert lora.merged_model(merged) is merged  # Nothing to merge.
