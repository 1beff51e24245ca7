"""IAM documents as pure functions: least privilege, every data action scoped to an ARN.

moto cannot attach AWS-managed policies, and they grant more than this stack needs anyway,
so the roles carry inline policies written here.
"""
from __future__ import annotations

import json

VERSION = "2012-10-17"


def _document(statements: list[dict]) -> str:
    return json.dumps({"Version": VERSION, "Statement": statements}, sort_keys=True)


def trust_policy(service: str) -> str:
    """Who may assume the role: one AWS service principal."""
    return _document([{
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }])


# Each action below is here because a named caller makes that call; nothing else is granted.

# The event source mapping reads the stream as the function's role. Lambda's guide ("Process
# Amazon Kinesis Data Streams records with Lambda") lists these; kinesis:SubscribeToShard is only
# for enhanced fan-out consumers, which the mapping does not use.
MAPPING_STREAM_ACTIONS = (
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:ListShards",
)
# function/handler.py writes with BatchWriteItem only (refused records included).
HANDLER_TABLE_ACTIONS = ("dynamodb:BatchWriteItem",)
# The mapping's OnFailure destination: Lambda sends the batch info with the function's role.
ONFAILURE_QUEUE_ACTIONS = ("sqs:SendMessage",)
# The function's own log group /aws/lambda/<function>: its streams and events. Not
# CreateLogGroup (AWSLambdaBasicExecutionRole has it): `up` makes the group with a retention,
# and a function allowed to make it would bring it back, kept forever, after `down`.
FUNCTION_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

# Both agents the host may run send with PutRecords and nothing else: orderhist's
# (agent/sender.py) and the Kinesis Agent (KinesisSender.attemptSend in
# awslabs/amazon-kinesis-agent; its CloudWatch metrics are off in our agent.json).
AGENT_STREAM_ACTIONS = ("kinesis:PutRecords",)
# What SSM Agent needs for Run Command (`orderhist generate` on AWS) and Session Manager (the
# host has no inbound rule: SSM is the way in), per AWS's "Reference: ec2messages, ssmmessages,
# and other API operations": the agent registers and heartbeats with
# ssm:UpdateInstanceInformation (without it the instance is never "managed"); commands reach
# it over the Message Gateway Service's control channel (ssmmessages Create/OpenControlChannel),
# or, where that is not available, from the Message Delivery Service (the six ec2messages
# actions: get the endpoint, get, acknowledge, delete or fail a message, send the reply);
# Session Manager's sessions use the data channel (ssmmessages Create/OpenDataChannel).
# Every one is in AmazonSSMManagedInstanceCore; that policy's other actions (associations,
# inventory, patching, documents, parameters) serve State Manager, Inventory and Patch
# Manager, which this host does not use. None of these actions takes a resource type the
# role could be scoped to before the instance exists, so they name "*".
RUN_COMMAND_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
)


def ingest_policy(*, stream_arn: str, table_arn: str, queue_arn: str, log_group_arn: str) -> str:
    """The Lambda's role: its mapping reads the stream and sends given-up batches to the
    queue; the handler writes the table and its own logs. Nothing else."""
    return _document([
        {"Sid": "ReadOrderStream", "Effect": "Allow",
         "Action": list(MAPPING_STREAM_ACTIONS), "Resource": stream_arn},
        {"Sid": "WriteOrderTable", "Effect": "Allow",
         "Action": list(HANDLER_TABLE_ACTIONS), "Resource": table_arn},
        {"Sid": "SendFailedBatches", "Effect": "Allow",
         "Action": list(ONFAILURE_QUEUE_ACTIONS), "Resource": queue_arn},
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": list(FUNCTION_LOG_ACTIONS),
         # Both act on the group's streams ("<group>:log-stream:<name>").
         "Resource": log_group_arn + ":*"},
    ])


def host_policy(*, stream_arn: str, bucket_arn: str, artifacts_prefix: str,
                reports_prefix: str) -> str:
    """The EC2 host's role: its agent puts records to the stream, its set-up reads the
    artifacts, `generate` leaves its report for the CLI, and SSM reaches it (Run Command and
    Session Manager only)."""
    return _document([
        {"Sid": "PutOrderRecords", "Effect": "Allow",
         "Action": list(AGENT_STREAM_ACTIONS), "Resource": stream_arn},
        {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": f"{bucket_arn}/{artifacts_prefix.strip('/')}/*"},
        {"Sid": "WriteGeneratorReports", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"{bucket_arn}/{reports_prefix.strip('/')}/*"},
        {"Sid": "RunCommandAndSessions", "Effect": "Allow",
         "Action": list(RUN_COMMAND_ACTIONS), "Resource": "*"},
    ])
