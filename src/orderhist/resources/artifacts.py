"""The host's artifacts in the bucket: orderhist's code, the dataset, the agent config.
Uploaded when missing or different (compared by ETag), so a second `up` uploads nothing."""
from __future__ import annotations

from orderhist import hostsetup
from orderhist.resources import CREATED, UNCHANGED, UPDATED, Resource, StackContext, missing


def _wanted(ctx: StackContext) -> dict[str, bytes]:
    from orderhist.loggen import bundled_dataset

    return hostsetup.artifacts(ctx.settings.agent, stream=ctx.names.stream,
                               region=ctx.names.region, dataset=bundled_dataset())


class Artifacts(Resource):
    name = "artifacts"

    def find(self, ctx):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        etags = {}
        for key in (hostsetup.CODE_KEY, hostsetup.DATASET_KEY, hostsetup.AGENT_CONFIG_KEY):
            try:
                etags[key] = s3.head_object(Bucket=bucket, Key=key)["ETag"]
            except Exception as error:
                if not missing(error):
                    raise
        if not etags:
            return None
        return {"id": f"s3://{bucket}/host/", "etags": etags}

    def drift(self, ctx, found):
        return [key for key, data in _wanted(ctx).items()
                if found["etags"].get(key) != hostsetup.etag_of(data)]

    def ensure(self, ctx):
        found = self.find(ctx) or {"etags": {}}
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        uploaded = []
        for key, data in _wanted(ctx).items():
            if found["etags"].get(key) != hostsetup.etag_of(data):
                s3.put_object(Bucket=bucket, Key=key, Body=data,
                              ServerSideEncryption="AES256")
                uploaded.append(key)
        record = {"id": f"s3://{bucket}/host/"}
        if not uploaded:
            return UNCHANGED, record
        return (CREATED if not found["etags"] else UPDATED), record

    def delete(self, ctx, record):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        for key in (hostsetup.CODE_KEY, hostsetup.DATASET_KEY, hostsetup.AGENT_CONFIG_KEY):
            try:
                s3.delete_object(Bucket=bucket, Key=key)
            except Exception as error:
                if not missing(error):
                    raise
