"""What a stack is made with beyond its names, as `up` records it in the state file. Apart
from the resources that read it so that the state file can be read without them (`orderhist
orders` starts without loading any resource)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    shards: int = 1
    on_demand: bool = False
    batch_size: int = 100
    max_retry_attempts: int = 10
    function_timeout: int = 60
    instance_type: str = "t4g.small"
    agent: str = "orderhist"  # or "kinesis-agent": what the EC2 host runs
    pitr: bool = False
