"""orderhist's own Kinesis agent: the Amazon Kinesis Agent's agent.json, without its gaps.

Modules: config (agent.json), files and tailer (following files through rotation),
processing (CSVTOJSON, partition keys, dead letters), sender (PutRecords and retries),
checkpoint (acknowledgement ledger and checkpoint file), stats (counters for `status`),
runner (the process). Standard library and boto3 only: it runs on the EC2 host too.

Files it keeps, all beside the checkpoint file (`checkpointFile`, by default
`<config>.checkpoints.json` next to agent.json): `<checkpointFile>.stats.json` (counters, see
read_stats; `agent run --stats` moves it), `<checkpointFile>.deadletter.jsonl` (records over
Kinesis' 1 MiB limit; `deadLetterFile` moves it) and `<checkpointFile>.lock`.
"""
from orderhist.agent.checkpoint import read_checkpoints
from orderhist.agent.config import load_config, local_agent_config
from orderhist.agent.processing import read_dead_letters
from orderhist.agent.runner import run_agent
from orderhist.agent.stats import default_stats_path, read_stats

__all__ = ["run_agent", "local_agent_config", "read_stats", "default_stats_path",
           "load_config", "read_checkpoints", "read_dead_letters"]
