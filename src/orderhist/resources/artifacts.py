"""The artifacts bucket and the host's artifacts in it: orderhist's code, the dataset, the
agent config. The host runs that code as root, so the bucket must be this account's: its name
is predictable, and one that exists in another account is refused, never written to. Every
call names the expected owner (ExpectedBucketOwner), so AWS itself refuses a bucket that
changed hands. Artifacts are uploaded when missing or different (compared by ETag), so a
second `up` uploads nothing."""
from __future__ import annotations

import json

from orderhist import aws_errors, hostsetup
from orderhist.errors import OrderhistError
from orderhist.resources import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Resource,
    StackContext,
    missing,
    unless_missing,
)

ARTIFACT_KEYS = (hostsetup.CODE_KEY, hostsetup.DATASET_KEY, hostsetup.AGENT_CONFIG_KEY)


class BucketNotOurs(OrderhistError):
    pass


def owner(ctx: StackContext) -> dict:
    """The argument every S3 call on the bucket carries."""
    return {"ExpectedBucketOwner": ctx.names.account}


def _refusal(ctx: StackContext) -> BucketNotOurs:
    return BucketNotOurs(
        f"the S3 bucket {ctx.names.bucket} already exists in another AWS account, and the "
        "host would run code from it: nothing was uploaded; choose another --prefix (after "
        "`orderhist down`, or with another --home)")


def tls_only_policy(bucket: str) -> dict:
    """Deny every request made without TLS, to the bucket and to its objects."""
    arn = f"arn:aws:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyWithoutTLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]}


def wants_tls_policy(target) -> bool:
    """AWS itself and https endpoints get the policy. Over plain HTTP (the local emulator, a
    moto server) every request has aws:SecureTransport false, so the policy would refuse
    orderhist's own calls: a moto server does exactly that, refusing every object call."""
    return target.endpoint_url is None or target.endpoint_url.startswith("https:")


class Bucket(Resource):
    name = "bucket"

    def find(self, ctx):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        try:
            s3.head_bucket(Bucket=bucket, **owner(ctx))
        except Exception as error:  # botocore's ClientError, told apart by its code
            if missing(error):
                return None
            # AWS's answer when ExpectedBucketOwner is not the bucket's owner (or the bucket
            # is another account's that does not let us in).
            if aws_errors.kind(error) == aws_errors.DENIED:
                raise _refusal(ctx) from None
            raise
        # AWS answers 403 above when the owner differs; an emulator may ignore the header
        # (moto does), so the account's own bucket list has the last word.
        if not self._listed(s3, bucket):
            raise _refusal(ctx)
        return {"id": bucket, "arn": f"arn:aws:s3:::{bucket}"}

    @staticmethod
    def _listed(s3, bucket: str) -> bool:
        try:
            listed = s3.list_buckets(Prefix=bucket)["Buckets"]
        except Exception as error:
            # no s3:ListAllMyBuckets: HeadBucket decided
            if aws_errors.kind(error) == aws_errors.DENIED:
                return True
            raise
        return any(entry["Name"] == bucket for entry in listed)

    def find_strays(self, ctx):
        # `down` after a refused `up` must not touch the other account's bucket.
        try:
            return super().find_strays(ctx)
        except BucketNotOurs:
            return []

    def create(self, ctx):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        extra = {} if ctx.names.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": ctx.names.region}}
        try:
            s3.create_bucket(Bucket=bucket, **extra)
        except Exception as error:
            if aws_errors.kind(error) == aws_errors.TAKEN:  # made elsewhere since find
                raise _refusal(ctx) from None
            if aws_errors.kind(error) != aws_errors.ALREADY_EXISTS:
                raise
        s3.put_public_access_block(Bucket=bucket, **owner(ctx), PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=bucket, **owner(ctx), ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        s3.put_bucket_tagging(Bucket=bucket, **owner(ctx), Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in ctx.tags().items()]})
        if wants_tls_policy(ctx.target):
            self._put_policy(ctx)
        return {"id": bucket, "arn": f"arn:aws:s3:::{bucket}"}

    @staticmethod
    def _put_policy(ctx) -> None:
        ctx.client("s3").put_bucket_policy(
            Bucket=ctx.names.bucket, **owner(ctx),
            Policy=json.dumps(tls_only_policy(ctx.names.bucket)))

    def drift(self, ctx, found):
        if not wants_tls_policy(ctx.target):
            return []
        try:
            policy = ctx.client("s3").get_bucket_policy(Bucket=found["id"], **owner(ctx))
        except Exception as error:
            if not missing(error):
                raise
            return ["TLS-only policy missing"]
        if json.loads(policy["Policy"]) != tls_only_policy(found["id"]):
            return ["policy differs"]
        return []

    def update(self, ctx, found):
        if not self.drift(ctx, found):
            return UNCHANGED, found
        self._put_policy(ctx)  # a bucket made by an older orderhist gets it here
        return UPDATED, found

    def delete(self, ctx, record):
        s3 = ctx.client("s3")
        try:
            paginator = s3.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=record["id"], **owner(ctx)):
                objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                           for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                if objects:
                    s3.delete_objects(Bucket=record["id"], Delete={"Objects": objects},
                                      **owner(ctx))
            s3.delete_bucket(Bucket=record["id"], **owner(ctx))
        except Exception as error:
            if not missing(error):
                raise


def wanted(ctx: StackContext) -> dict[str, bytes]:
    """Every artifact the host should have now, by key."""
    from orderhist.dataset.bundled import bundled_dataset

    return hostsetup.artifacts(ctx.settings.agent, stream=ctx.names.stream,
                               region=ctx.names.region, dataset=bundled_dataset())


class Artifacts(Resource):
    name = "artifacts"

    def find(self, ctx):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        etags = {}
        for key in ARTIFACT_KEYS:
            found = unless_missing(s3.head_object, Bucket=bucket, Key=key, **owner(ctx))
            if found is not None:
                etags[key] = found["ETag"]
        if not etags:
            return None
        return {"id": f"s3://{bucket}/host/", "etags": etags}

    def find_strays(self, ctx):
        # Only ever in our own bucket (see Bucket.find_strays).
        return super().find_strays(ctx) if Bucket().find_strays(ctx) else []

    def drift(self, ctx, found):
        return [key for key, data in wanted(ctx).items()
                if found["etags"].get(key) != hostsetup.etag_of(data)]

    def ensure(self, ctx):
        found = self.find(ctx) or {"etags": {}}
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        uploaded = []
        for key, data in wanted(ctx).items():
            if found["etags"].get(key) != hostsetup.etag_of(data):
                s3.put_object(Bucket=bucket, Key=key, Body=data, **owner(ctx),
                              ServerSideEncryption="AES256")
                uploaded.append(key)
        record = {"id": f"s3://{bucket}/host/"}
        if not uploaded:
            return UNCHANGED, record
        return (CREATED if not found["etags"] else UPDATED), record

    def delete(self, ctx, record):
        s3, bucket = ctx.client("s3"), ctx.names.bucket
        for key in ARTIFACT_KEYS:
            unless_missing(s3.delete_object, Bucket=bucket, Key=key, **owner(ctx))
