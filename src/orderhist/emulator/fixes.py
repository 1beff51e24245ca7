"""Correctness fixes of moto, in both modes (fast and stock): without them moto is wrong, not
merely slow. Each is declared in `registry` (mode FIX) and handed to its collector.

- Lambda: no inline invocation of a Kinesis mapping's function (orderhist's runtime polls,
  with AWS's batching); a mapping's StartingPositionTimestamp returned; GetFunction's
  Code.Location a URL serving the deployed zip (set once the server's port is known).
- Kinesis: puts to a stream serialised (moto's shard append is not thread-safe); sequence
  numbers shaped like AWS's: 56-digit decimal strings that grow, unique across the stream's
  shards (the shard's number is part of them).
- DynamoDB: numbers stored as DynamoDB stores them ("0.10" -> "0.1", "1e2" -> "100"),
  whichever path builds them (puts, updates, projections); the 400 KB item limit counted
  as AWS counts it (ItemSizeTooLarge past 409,600 bytes).
"""
from __future__ import annotations

from orderhist.emulator import sizes
from orderhist.emulator.kinesis_store import sequence_base

# Set by the server once it is bound: where GetFunction's Code.Location points.
code_base_url = {"url": ""}


def install(patch, kinesis_lock, route_prefix: str) -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
    from moto.core.config import default_user_config
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.kinesis.models import Record, Shard, Stream

    # No Docker here: Lambda code is run by orderhist's own runtime, never by moto.
    default_user_config["lambda"]["use_docker"] = False

    def no_inline_invocation(self, *args, **kwargs):
        return None

    patch(LambdaBackend, "send_kinesis_message", no_inline_invocation)

    stock_stream_put = Stream.put_record

    def locked_put_record(self, *args, **kwargs):
        with kinesis_lock:
            return stock_stream_put(self, *args, **kwargs)

    patch(Stream, "put_record", locked_put_record)

    def shard_put_record(self, partition_key, data, explicit_hash_key):
        # moto's own append, numbered from the shard's AWS-shaped base instead of 1.
        last = self.get_max_sequence_number() if self.records else sequence_base(self)
        sequence_number = last + 1
        self.records[sequence_number] = Record(partition_key, data, sequence_number,
                                               explicit_hash_key)
        return str(sequence_number)

    patch(Shard, "put_record", shard_put_record)

    stock_configuration = EventSourceMapping.get_configuration

    def get_configuration(self):
        reply = stock_configuration(self)
        if getattr(self, "starting_position_timestamp", None) is not None:
            reply["StartingPositionTimestamp"] = self.starting_position_timestamp
        return reply

    patch(EventSourceMapping, "get_configuration", get_configuration)

    stock_get_code = LambdaFunction.get_code

    def get_code(self):
        reply = stock_get_code(self)
        if getattr(self, "code_bytes", None):
            reply["Code"] = {
                "RepositoryType": "S3",
                "Location": f"{code_base_url['url']}{route_prefix}lambda-code/"
                            f"{self.account_id}/{self.region}/{self.function_name}",
            }
        return reply

    patch(LambdaFunction, "get_code", get_code)

    stock_type_init = DynamoType.__init__

    def type_init(self, type_as_dict):
        stock_type_init(self, type_as_dict)
        kind = self.type
        if kind == "N" and type(self.value) is str:
            self.value = _stored(self.value)
        elif kind == "NS" and type(self.value) is list:
            self.value = [_stored(member) if type(member) is str else member
                          for member in self.value]

    patch(DynamoType, "__init__", type_init)

    def set_attribute(self, key, value):
        # The whole item's size as AWS counts it, checked on each insert as moto does.
        size = sizes.text_size(key) + _size(value)
        size += sum(sizes.text_size(name) + _size(member) for name, member in self.items()
                    if name != key)
        if size > sizes.ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    patch(LimitedSizeDict, "__setitem__", set_attribute)


def _stored(text: str) -> str:
    try:
        return sizes.normal_number(text)
    except sizes.NumberError:
        return text  # moto's own validation refuses it


def _size(value) -> int:
    if hasattr(value, "type") and hasattr(value, "value"):
        return sizes.stored_size(value)
    return sizes.text_size(str(value))
