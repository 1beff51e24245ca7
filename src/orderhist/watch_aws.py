"""`orderhist watch` on the AWS target: CloudWatch's metrics of the stream, the function and
the table (one GetMetricData call a sample), the queue's depth and the refused records.

CloudWatch keeps these at one-minute resolution, a minute or two late: the counts are sums
over the last WINDOW_MIN minutes, the rates those sums per second, the sparklines one point
a minute; the end-to-end latency is the function's IteratorAge (how long records waited in
the stream before the invocation), p50 and p99, which is most of it.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from orderhist import aws
from orderhist.state import StackState
from orderhist.watch_local import table_counts
from orderhist.watch_sample import Sample, Verdict

WINDOW_MIN = 5
SERIES_MIN = 30
ITERATOR_AGE_BEHIND_MS = 60_000

# id: (namespace, metric, dimension name, which resource, stat, stage in the view or None)
METRICS = {
    "incoming": ("AWS/Kinesis", "IncomingRecords", "StreamName", "stream", "Sum", "shipped"),
    "read": ("AWS/Kinesis", "GetRecords.Records", "StreamName", "stream", "Sum", "streamed"),
    "lag": ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "stream",
            "Maximum", None),
    "invocations": ("AWS/Lambda", "Invocations", "FunctionName", "function", "Sum",
                    "invocations"),
    "errors": ("AWS/Lambda", "Errors", "FunctionName", "function", "Sum", None),
    "throttles": ("AWS/Lambda", "Throttles", "FunctionName", "function", "Sum", None),
    "age_p50": ("AWS/Lambda", "IteratorAge", "FunctionName", "function", "p50", None),
    "age_p99": ("AWS/Lambda", "IteratorAge", "FunctionName", "function", "p99", None),
    "writes": ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", "table", "Sum",
               "stored"),
}


# moto's GetMetricData answers a percentile statistic with a 500 (it serialises None), so
# behind an AWS-compatible endpoint the latency is the mean and the maximum instead.
STAND_INS = {"p50": "Average", "p99": "Maximum"}


def metric_queries(names: dict[str, str], percentiles: bool = True) -> list[dict]:
    return [{"Id": query_id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric,
                   "Dimensions": [{"Name": dimension, "Value": names[resource]}]},
        "Period": 60, "Stat": stat if percentiles else STAND_INS.get(stat, stat)}}
        for query_id, (namespace, metric, dimension, resource, stat, _) in METRICS.items()]


class AwsWatch:
    def __init__(self, state: StackState):
        self.state = state
        self.target = state.target()
        prefix = state.prefix
        self.names = {"stream": state.resource_id("stream") or f"{prefix}-orders",
                      "function": state.resource_id("function") or f"{prefix}-ingest",
                      "table": state.resource_id("table") or f"{prefix}-orders"}
        self.queue = state.resource_id("queue")
        self.history: list[Sample] = []

    def sample(self) -> Sample:
        series = self._series()
        window = {key: sum(values[-WINDOW_MIN:]) for key, values in series.items()}
        found = table_counts(self.target, self.names["table"], self.queue)
        rejects = None if found["refused"] is None else found["refused"] + (found["given_up"] or 0)
        counts: dict[str, int | None] = {"written": None, "rejects": rejects}
        stages = {}
        for query_id, spec in METRICS.items():
            if spec[5]:
                counts[spec[5]] = int(window[query_id])
                stages[spec[5]] = series[query_id]
        ages = {q: (series[q][-1] if series[q] else None) for q in ("age_p50", "age_p99", "lag")}
        facts = {
            "aws": True,
            "window_min": WINDOW_MIN,
            "series": stages,
            "rates": {stage: (counts[stage] or 0) / (WINDOW_MIN * 60) for stage in stages},
            "errors": int(window["errors"]), "throttles": int(window["throttles"]),
            "lag": {"iterator_age_ms": ages["lag"]},
            "latency_ms": {"p50": ages["age_p50"], "p99": ages["age_p99"],
                           "what": "function IteratorAge" + (
                               ", mean and max: the endpoint has no percentiles"
                               if self.target.endpoint_url else "")},
            "refused": found["refused"], "given_up": found["given_up"],
        }
        sample = Sample(time.time(), counts, facts)
        self.history = (self.history + [sample])[-60:]
        return sample

    def seed_latency(self) -> None:  # CloudWatch already says what recent lines took
        pass

    def _series(self) -> dict[str, list[float]]:
        """Each metric's per-minute values over the last SERIES_MIN minutes, oldest first,
        minutes without data as 0."""
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(minutes=SERIES_MIN)
        cloudwatch = aws.client("cloudwatch", self.target)
        points: dict[str, dict[datetime, float]] = {key: {} for key in METRICS}
        queries = metric_queries(self.names, percentiles=not self.target.endpoint_url)
        request = {"MetricDataQueries": queries, "StartTime": start,
                   "EndTime": end, "ScanBy": "TimestampAscending"}
        while True:
            reply = cloudwatch.get_metric_data(**request)
            for result in reply.get("MetricDataResults", []):
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                    points[result["Id"]][stamp.replace(second=0, microsecond=0)] = value
            if not reply.get("NextToken"):
                break
            request["NextToken"] = reply["NextToken"]
        minutes = [start + timedelta(minutes=i) for i in range(SERIES_MIN)]
        return {key: [found.get(minute, 0.0) for minute in minutes]
                for key, found in points.items()}


def verdict_aws(history) -> Verdict:
    last = history[-1]
    counts, facts = last.counts, last.facts
    minutes = facts.get("window_min", WINDOW_MIN)
    if facts.get("errors"):
        return Verdict("fail", "function", f"function failing: {facts['errors']} errors in "
                       f"the last {minutes} min (see `orderhist logs function`)")
    if (counts.get("shipped") or 0) > 0 and not counts.get("invocations"):
        return Verdict("fail", "invocations", f"mapping stuck: {counts['shipped']:,} records "
                       f"came into the stream in {minutes} min and no invocation")
    age = (facts.get("lag") or {}).get("iterator_age_ms")
    if age and age > ITERATOR_AGE_BEHIND_MS:
        return Verdict("warn", "streamed", f"consumer behind: iterator age {age / 1000:.0f} s")
    if facts.get("throttles"):
        return Verdict("warn", "function", f"function throttled {facts['throttles']} times in "
                       f"the last {minutes} min")
    if facts.get("given_up"):
        return Verdict("warn", "rejects", f"{facts['given_up']} given-up batches on the queue: "
                       "see `orderhist rejects`")
    if counts.get("stored"):
        return Verdict("ok", None, f"healthy: {counts['stored']:,} write units in {minutes} min")
    return Verdict("ok", None, f"healthy: idle for {minutes} min (CloudWatch lags 1-2 min)")
