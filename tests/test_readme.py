"""The README's Python quick start runs as written and its comments hold."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'


def _python_blocks():
  return re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)


def test_quick_start_runs_and_shapes_match_comments():
  block = next(b for b in _python_blocks() if 'model.embed' in b)
  namespace = {}
  exec(compile(block, str(README), 'exec'), namespace)  # noqa: S102
  assert namespace['x'].shape == (1, 16_384, 4)
  assert {k: tuple(v.shape) for k, v in namespace['predictions'].items()} == {
      'human': (1, 64, 4), 'mouse': (1, 64, 3)}
  assert tuple(namespace['embedding'].shape) == (1, 64, 192)
  assert tuple(namespace['human_only'].shape) == (1, 64, 4)
  assert [tuple(w.shape) for w in namespace['attention']] == [
      (1, 8, 128, 128)] * 2
