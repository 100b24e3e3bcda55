"""Running SavedModel signatures through a C++ session, as TF Serving does."""


class SessionRunner:
  """Runs signatures as TF Serving does: a C++ session fed by tensor name,
  which does not check fed tensors against the signature's shapes."""

  def __init__(self, path: str):
    import tensorflow as tf
    self.session = tf.compat.v1.Session(graph=tf.Graph())
    meta_graph = tf.compat.v1.saved_model.loader.load(
        self.session, ['serve'], path)
    self.signature_defs = meta_graph.signature_def
    self._callables = {}

  def run(self, name: str, inputs: dict) -> dict:
    """Outputs of signature `name` for `inputs` (input key -> ndarray)."""
    from tensorflow.core.protobuf import config_pb2
    definition = self.signature_defs[name]
    keys = tuple(sorted(inputs))
    outputs = sorted(definition.outputs)
    if (name, keys) not in self._callables:
      options = config_pb2.CallableOptions(
          feed=[definition.inputs[k].name for k in keys],
          fetch=[definition.outputs[k].name for k in outputs])
      self._callables[name, keys] = self.session._make_callable_from_options(
          options)
    values = self._callables[name, keys](*[inputs[k] for k in keys])
    return dict(zip(outputs, values))

  def close(self) -> None:
    self.session.close()
