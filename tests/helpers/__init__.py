"""Helpers shared by the test suites, imported as `from helpers.<module> import ...` (pytest puts tests/ on
the path: `pythonpath` in pyproject.toml):

- `run_folders`: tiny run folders written through ft_core.runfolder (outputs, scores).
- `synthetic`: simulated campaigns with known answers, as frames or judged through the real store.
- `login_as`: log a user in on an AppTest the way the login page does.
- `fake_jobs`: tiny child processes and a fake `nvidia-smi` for the job tests.
- `tiny_runs`: the tiny training run's settings, as a config's values or as `--set` arguments.
- `bench_scripts`: the scripts of bench/ run as the tests run them (`run_bench`).
- `at_once`: one action started on several threads together (`at_once`), and the exceptions it raised.
- `streamlit_server`: the app in a subprocess on a free port, for the browser tests and benches.
"""
