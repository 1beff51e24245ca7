"""What the test modules share, in one package (tests/ is on sys.path: pytest's default
rootdir-relative "prepend" import mode puts the directory of the rootless conftest.py there).

  cli          running the real CLI as a subprocess (`run_cli`, and `orderhist` for the local
               target with a misleading AWS environment)
  lines        order lines and records (`order_line`), ORDER_LINES_ONLY
  agent        the agent's streams, configs, threads and processes
  emulator     emulator processes, the stock-moto twin, raw clients
  runtime      the runtime tests' provisioning: Stack, RuntimeThread, wait_until, Probe
  aws_target   the AWS target against the emulator: run_aws, up_args, snapshot, empty
  aws_faults, request_log_proxy, host_sandbox, stub_tools, sqs_inprocess: test machinery
  misc         small helpers (pennies, excel_like, policy documents)

Fixtures several modules use live in tests/conftest.py."""
