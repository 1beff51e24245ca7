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


def ingest_policy(*, stream_arn: str, table_arn: str, queue_arn: str, log_group_arn: str) -> str:
    """The Lambda's role: read its stream, write its table, send poison and failed batches to
    its queue, write its own logs. Nothing else."""
    return _document([
        {
            "Sid": "ReadOrderStream",
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards",
            ],
            "Resource": stream_arn,
        },
        {
            "Sid": "WriteOrderTable",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:PutItem"],
            "Resource": table_arn,
        },
        {
            "Sid": "SendRejects",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
            "Resource": queue_arn,
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, log_group_arn + ":*"],
        },
    ])


def host_policy(*, stream_arn: str, bucket_arn: str, artifacts_prefix: str,
                reports_prefix: str) -> str:
    """The EC2 host's role: put records to the stream, read its artifacts, leave generator
    reports for the CLI, be reachable by SSM (the core actions of
    AmazonSSMManagedInstanceCore, which name no resource type and so cannot be scoped)."""
    return _document([
        {
            "Sid": "PutOrderRecords",
            "Effect": "Allow",
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream",
                       "kinesis:DescribeStreamSummary", "kinesis:ListShards"],
            "Resource": stream_arn,
        },
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{artifacts_prefix.strip('/')}/*",
        },
        {
            "Sid": "WriteGeneratorReports",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{reports_prefix.strip('/')}/*",
        },
        {
            "Sid": "SsmAgentCore",
            "Effect": "Allow",
            "Action": [
                "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations",
                "ssm:DescribeInstanceProperties", "ssm:DescribeDocumentParameters",
                "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
                "ec2messages:FailMessage", "ec2messages:GetEndpoint",
                "ec2messages:GetMessages", "ec2messages:SendReply",
            ],
            "Resource": "*",
        },
    ])
