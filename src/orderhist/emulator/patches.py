"""Targeted replacements of moto 5.2 internals, installed only inside the emulator process:
Kinesis in `kinesis_store`, DynamoDB here; each declared in `registry` and handed to its
collector (`patch`), never assigned here.

DynamoDB (moto/dynamodb/models/): Items are built without the O(attributes^2) size check of
LimitedSizeDict (one check of the total instead) and share the DynamoType objects of repeated
scalar values (immutable in moto; only sets, lists and maps are changed in place), which keeps
the full dataset well inside memory. Every write path keeps the sorted `index` in step:
Table.put_item and delete_item (used by PutItem, BatchWriteItem, TransactWriteItems, PartiQL
and UpdateItem's creation of new items) and DynamoDBBackend.update_item (changes in place).
Queries left to moto (filters, projections, KeyConditions) keep moto's logic but draw their
candidates from the index: the partition the key names, not every item of the table.
"""
from __future__ import annotations

from orderhist.emulator import index as table_index
from orderhist.emulator import kinesis_store
from orderhist.emulator.sizes import ITEM_SIZE_LIMIT, item_size, stored_item_size

# Scalar DynamoType objects shared between items; cleared when full, so unique values (sort
# keys, timestamps) cannot make it grow without bound.
SHARED_CAP = 1 << 17

_shared: dict[str, dict] = {"S": {}, "N": {}, "BOOL": {}, "NULL": {}}


def install(kinesis_lock, dynamodb_lock, patch) -> None:
    kinesis_store.install(kinesis_lock, patch)
    _install_dynamodb(dynamodb_lock, patch)


def shared_type(raw):
    """The DynamoType for a wire value such as {"S": "x"}: shared for repeated scalars."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if type(raw) is dict and len(raw) == 1:
        for kind, value in raw.items():
            cache = _shared.get(kind)
            if cache is not None and type(value) in (str, bool):
                found = cache.get(value)
                if found is None:
                    if len(cache) >= SHARED_CAP:
                        cache.clear()
                    found = cache[value] = DynamoType(raw)
                return found
    return DynamoType(raw)


def store(table, attrs: dict, size: int):
    """An unconditional put of an item the caller has already checked the way Table.put_item
    checks one (types, key sizes, item size): the item moto would store, built once, its key
    DynamoTypes shared with its attributes. Caller holds the DynamoDB lock."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    # moto annotates BaseModel.__new__ as returning BaseModel (not Self): it makes an Item.
    item: Item = Item.__new__(Item)  # type: ignore[assignment]
    built = LimitedSizeDict.__new__(LimitedSizeDict)
    put = dict.__setitem__
    for key, value in attrs.items():
        for kind, scalar in value.items():
            cache = _shared[kind]  # checked: S, N, BOOL or NULL
            found = cache.get(scalar)
            if found is None:
                if len(cache) >= SHARED_CAP:
                    cache.clear()
                found = cache[scalar] = DynamoType(value)
            put(built, key, found)
    item.attrs = built
    item.hash_key = built[table.hash_key_attr]
    item.range_key = built[table.range_key_attr]
    partition = table.items[item.hash_key]
    current = partition.get(item.range_key)
    partition[item.range_key] = item
    if table.stream_shard is not None:
        table.stream_shard.add(current, item)
    known = table_index.existing(table)
    if known is not None:
        known.on_put(item, size)
    elif table_index.ATTRIBUTE not in table.__dict__:
        table_index.of(table)
    return item


def _install_dynamodb(lock, patch) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table

    def item_init(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        for key, value in attrs.items():
            dict.__setitem__(built, key, shared_type(value) if type(value) is dict
                             else DynamoType(value))
        self.attrs = built
        # One check of the total, as AWS counts it: the verdict of LimitedSizeDict's check
        # per insert (see fixes).
        if stored_item_size(built) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge

    patch(Item, "__init__", item_init)
    # moto keeps every model object it ever made (for its /moto-api/data.json view), so each
    # overwritten item would live on; items are not tracked here.
    patch(Item, "__new__", staticmethod(_untracked_new))

    stock_put, stock_delete = Table.put_item, Table.delete_item
    stock_update = DynamoDBBackend.update_item

    def put_item(self, item_attrs, *args, **kwargs):
        with lock:
            known = table_index.existing(self)
            item = stock_put(self, item_attrs, *args, **kwargs)
            if known is not None:
                known.on_put(item, item_size(item))
            elif table_index.ATTRIBUTE not in self.__dict__:
                table_index.of(self)
            return item

    def delete_item(self, hash_key, range_key):
        with lock:
            item = stock_delete(self, hash_key, range_key)
            known = table_index.existing(self)
            if item is not None and known is not None:
                known.on_delete(item)
            return item

    def update_item(self, table_name, key, *args, **kwargs):
        with lock:
            try:
                table = self.get_table(table_name)
            except Exception:  # moto's own not-found error: let the stock path raise it
                table = None
            known = table_index.of(table) if table is not None else None
            at = _key_natives(known, key) if known is not None and known.gsis else None
            if at is None:
                return stock_update(self, table_name, key, *args, **kwargs)
            item = known.find(*at)
            # A new item is first indexed by put_item with its key attributes alone.
            before = known.entries(item.attrs if item is not None else {
                known.hash_attr: DynamoType(key[known.hash_attr]),
                known.range_attr: DynamoType(key[known.range_attr])})
            try:
                return stock_update(self, table_name, key, *args, **kwargs)
            finally:
                after = known.find(*at)
                if after is not None:
                    known.on_update(after, before, item_size(after))

    def forget_index(method):
        # A changed schema (new or dropped GSI) is indexed afresh on next use.
        def wrapper(self, *args, **kwargs):
            with lock:
                result = method(self, *args, **kwargs)
                for table in self.tables.values():
                    table.__dict__.pop(table_index.ATTRIBUTE, None)
                return result
        return wrapper

    stock_query = Table.query

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
              scan_index_forward, projection_expressions, index_name=None,
              consistent_read=False, filter_expression=None, hash_key_conditions=None,
              range_key_conditions=None, **filter_kwargs):
        # The Query shapes the fast path leaves to moto (filters, projections, KeyConditions,
        # ...) still get moto's own answer, but moto picks its candidates from all_items():
        # for this call that is just the partition the key condition names, from the index.
        args = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name, consistent_read,
                filter_expression)
        more = dict(hash_key_conditions=hash_key_conditions,
                    range_key_conditions=range_key_conditions, **filter_kwargs)
        with lock:
            candidates = _candidates(self, hash_key, index_name, hash_key_conditions)
            if candidates is None:
                return stock_query(*args, **more)
            self.__dict__["all_items"] = lambda: candidates
            try:
                return stock_query(*args, **more)
            finally:
                self.__dict__.pop("all_items", None)

    patch(Table, "query", query)
    patch(Table, "put_item", put_item)
    patch(Table, "delete_item", delete_item)
    patch(DynamoDBBackend, "update_item", update_item)
    patch(DynamoDBBackend, "update_table", forget_index(DynamoDBBackend.update_table))

    # Whatever walks a table's dicts must not run while another request changes them.
    for name in ("put_item", "delete_item", "get_item", "query", "scan", "describe_table",
                 "transact_write_items", "transact_get_items", "execute_statement",
                 "execute_transaction", "batch_execute_statement", "create_backup",
                 "restore_table_from_backup", "restore_table_to_point_in_time",
                 "export_table", "delete_table"):
        method = getattr(DynamoDBBackend, name, None)
        if method is not None:
            patch(DynamoDBBackend, name, _locked(method, lock))


def _candidates(table, hash_key, index_name, hash_key_conditions) -> list | None:
    """The items moto's Query of this key can match, a superset of its answer in the order
    all_items() would list them; None where the index cannot tell."""
    known = table_index.of(table)
    if known is None:
        return None
    if not index_name:
        hn = table_index.native_of(hash_key, known.hash_type)
        if hn is None:
            return None
        run, _ = table_index.checked_run(table, known, hn, hash_key)
        return run.items if run is not None else []
    gsi = known.gsis.get(index_name)
    conditions = hash_key_conditions or []
    if gsi is None or gsi.odd or len(conditions) != 1 or conditions[0][0] != gsi.hash_attr:
        return None
    hn = table_index.native_of(conditions[0][1], gsi.hash_type)
    run = gsi.parts.get(hn) if hn is not None else None
    return run.items if run is not None else []


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


def _locked(method, lock):
    def wrapper(self, *args, **kwargs):
        with lock:
            return method(self, *args, **kwargs)
    wrapper.__name__ = method.__name__
    wrapper.__wrapped__ = method
    return wrapper


def _key_natives(known, key: dict):
    """(hash, range) natives of a wire key; None if it is not a well-typed key."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(key, dict):
        return None
    try:
        hn = table_index.native_of(DynamoType(key[known.hash_attr]), known.hash_type)
        rn = table_index.native_of(DynamoType(key[known.range_attr]), known.range_type)
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    if hn is None or rn is None:
        return None
    return hn, rn
