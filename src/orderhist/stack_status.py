"""The library behind `orderhist status`: the state's record checked against the stack, the
local processes and their stats, a few cheap counts; gathered into a StatusReport."""
from __future__ import annotations

from orderhist import aws, emulator, processes, stack, validate
from orderhist.lifecycle import (
    IAM_ENFORCED,
    IAM_OFF,
    LOCAL_PROCESSES,
    agent_checkpoint_path,
    context_for,
    iam_enforced,
)
from orderhist.state import Home, require_state
from orderhist.status_report import (
    ProcessStatus,
    ResourceStatus,
    StatusReport,
    StreamFacts,
    StreamLag,
    TableFacts,
)


def status(home: Home) -> StatusReport:
    state = require_state(home)
    from orderhist.agent import default_stats_path
    from orderhist.agent import read_stats as agent_stats
    from orderhist.runtime import read_stats as runtime_stats

    target = state.target()
    report = StatusReport(
        target=state.kind,
        endpoint=state.endpoint if target.is_local or target.endpoint_url else None,
        region=state.region, prefix=state.prefix, home=str(home.root),
        processes={name: ProcessStatus(**processes.status(home, name))
                   for name in LOCAL_PROCESSES} if target.is_local else {},
        agent=agent_stats(default_stats_path(agent_checkpoint_path(home)))
        if target.is_local else None,
        runtime=runtime_stats(home.runtime_dir) if target.is_local else None)
    if target.is_local:
        from orderhist.denials import denials

        report.iam = IAM_ENFORCED if iam_enforced(state) else IAM_OFF
        report.denied = denials(report.agent, report.runtime)
    report.problem = validate.unservable(target)
    reachable = report.problem is None and (not target.is_local
                                            or emulator.is_healthy(target.endpoint_url))
    if reachable and target.is_local:
        # The emulator serves stock moto when moto differs from the one it was verified on.
        report.warning, report.warning_asked = emulator.warning(target.endpoint_url), True
    if not reachable or not state.account:
        report.resources = {name: ResourceStatus(record.get("id"), record.get("arn"), False,
                                                 recorded=dict(record))
                            for name, record in state.resources.items()}
        return report
    ctx = context_for(state, target)
    report.resources = {name: ResourceStatus(**found)
                        for name, found in stack.check(ctx, state).items()}
    names = ctx.names
    refused = 0
    if report.resources["table"].exists:
        from orderhist.rejects import count_refused

        dynamodb = aws.client("dynamodb", target, patient=False)
        table = dynamodb.describe_table(TableName=names.table)["Table"]
        refused = count_refused(target, names.table)
        # Refused records live in the table too; the items are the order lines. (On AWS the
        # ItemCount is refreshed about every six hours, so both are approximate there.)
        items = table.get("ItemCount")
        report.table = TableFacts(names.table,
                                  max(0, items - refused) if items is not None else None)
        report.rejects = refused
    if report.resources["stream"].exists:
        summary = aws.client("kinesis", target, patient=False).describe_stream_summary(
            StreamName=names.stream)["StreamDescriptionSummary"]
        runtime = report.runtime or {}
        report.stream = StreamFacts(names.stream, summary.get("OpenShardCount"),
                                    StreamLag(runtime.get("millis_behind_latest"),
                                              runtime.get("records_behind"))
                                    if runtime.get("present") else None)
    if report.resources["queue"].exists:
        attributes = aws.client("sqs", target, patient=False).get_queue_attributes(
            QueueUrl=report.resources["queue"].id,
            AttributeNames=["ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        # Given-up batches (and an older orderhist's refused records) wait on the queue.
        report.rejects = refused + sum(int(v) for v in attributes.values())
    return report
