"""What the test modules share, in one package. It imports as `helpers` because pytest's
default ("prepend") import mode puts tests/ (the conftest's and the test modules' folder, which
has no __init__.py) first on sys.path; a test module run as a script gets it as its own folder.

  cli          running the real CLI as a subprocess: run_cli (its environments: misleading,
               dummies, shell, inherit), orderhist (the local target, misleading AWS_*)
  lines        order_line (and its presets runtime_order_line, order_record),
               ORDER_LINES_ONLY, pennies
  waiting      wait_until
  datasets     REAL_DATASET, where the real UCI dataset is
  agent        the agent's streams, configs, threads and processes
  emulator     emulator processes, raw clients, Twin (fast and stock emulator side by side)
  runtime      the runtime tests' Stack, RuntimeThread, probe functions, replay readings
  aws_target   the AWS target against the emulator: run_aws, up_args, snapshot, empty
  xlsx         workbooks as Excel writes them
  policies     the policies orderhist writes, for a made-up stack
  aws_faults, request_log_proxy, host_sandbox, stub_tools, sqs_inprocess: test machinery

Fixtures several modules use (local_target, twin_targets, fast_target, probe, ...) are in
tests/conftest.py."""
