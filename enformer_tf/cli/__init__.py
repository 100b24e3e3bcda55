"""The console scripts: one thin `main()` per command over a library
function, with one parser and one error convention (`cli/common.py`).

  enformer-<name>  ->  enformer_tf/cli/<name>.py: main(argv) -> exit code

Exit codes: 0 done; 1 a user error (one line on stderr: what was wrong and
what was expected); 2 bad arguments (argparse's usage error, on one line);
130 interrupted. Options are spelled `--snake_case`, as the gin bindings.
"""
