"""A unique idempotency key on account.move and sale.sale, and the RPCs that use it.

``marketsync_upsert(key, values)`` answers the document keyed ``key``: it finds it (by the
unique key, else among documents an older adapter keyed by the first word of their
description), or creates it from ``values``, and in the same transaction posts the move or
quotes and confirms the sale. Nothing is committed unless all of it succeeds, so no draft is
ever left behind, and the unique constraint makes a second document for a key impossible: a
concurrent writer that loses the race hits the constraint, is rolled back and retried by the
dispatcher (``DatabaseOperationalError``) with a fresh snapshot, and then finds the winner's
document.

``marketsync_find(key)`` answers the finished document keyed ``key`` or ``None``.

Both answer ``{"id", "number", "state", "created"}``. Two finished documents under one key
(left by an older adapter) are reported as a ``UserError`` whose description is
``duplicate_key ids=<id>,<id>``; extra drafts under one key are deleted.
"""
import re

from sql import Null

from trytond import backend
from trytond.exceptions import UserError
from trytond.model import Index, Unique, fields
from trytond.pool import PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction

KEY = re.compile(r"^[0-9a-z]{1,16}-[0-9a-f]{16,64}$")


def _check_key(key):
    if not isinstance(key, str) or not KEY.match(key):
        raise UserError('marketsync: invalid idempotency key', 'invalid_key')


class Keyed(object):
    __slots__ = ()
    marketsync_key = fields.Char(
        "Marketsync Key", readonly=True, strip=False,
        help="The marketsync idempotency key this document was created under.")

    # States of a document an interrupted write may have left unfinished.
    _marketsync_unfinished = ('draft',)
    # States that do not hold a key (a cancelled sale).
    _marketsync_void = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('marketsync_key_unique', Unique(t, t.marketsync_key),
                'marketsync.msg_key_unique'),
            ]
        # The legacy lookup (documents keyed by an older adapter through their description)
        # is a prefix search over unkeyed rows only.
        cls._sql_indexes.add(Index(
                t, (t.description, Index.Similarity(begin=True)),
                where=t.marketsync_key == Null))
        cls.__rpc__.update({
                'marketsync_upsert': RPC(
                    readonly=False, fresh_session=cls._marketsync_fresh),
                'marketsync_find': RPC(),
                })

    @classmethod
    def copy(cls, records, default=None):
        default = dict(default) if default else {}
        default.setdefault('marketsync_key', None)
        return super().copy(records, default=default)

    @classmethod
    def _marketsync_answer(cls, record, created):
        return {
            'id': record.id,
            'number': record.number,
            'state': record.state,
            'created': created,
            }

    @classmethod
    def _marketsync_legacy(cls, key):
        records = cls.search([
                ('marketsync_key', '=', None),
                ('description', 'like', key + '%'),
                ], order=[('id', 'ASC')])
        return [r for r in records
            if (r.description or '').split(' ', 1)[0] == key
            and r.state not in cls._marketsync_void]

    @classmethod
    def _marketsync_duplicates(cls, key, finished):
        ids = ','.join(str(r.id) for r in finished)
        raise UserError(
            'marketsync: the idempotency key %s is held by %d finished %s '
            'records (ids %s): keep one and cancel the others by hand'
            % (key, len(finished), cls.__name__, ids),
            'duplicate_key ids=%s' % ids)

    @classmethod
    def _marketsync_lookup(cls, key, repair):
        records = cls.search([('marketsync_key', '=', key)], limit=1)
        if records:
            return records[0]
        legacy = cls._marketsync_legacy(key)
        if not legacy:
            return None
        finished = [r for r in legacy
            if r.state not in cls._marketsync_unfinished]
        if len(finished) > 1:
            cls._marketsync_duplicates(key, finished)
        if not repair:
            return finished[0] if finished else None
        keep = finished[0] if finished else legacy[0]
        extras = [r for r in legacy if r.id != keep.id]
        if extras:
            cls._marketsync_discard(extras)
        cls._marketsync_claim(keep.id, key)
        return cls(keep.id)

    @classmethod
    def _marketsync_claim(cls, record_id, key):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        try:
            cursor.execute(*table.update(
                    [table.marketsync_key], [key], where=table.id == record_id))
        except backend.DatabaseIntegrityError as exception:
            # A concurrent writer committed this key after our snapshot was taken: the
            # dispatcher rolls back and retries (DatabaseOperationalError), and the retry
            # finds that writer's document.
            raise backend.DatabaseOperationalError(
                'marketsync key %s taken concurrently' % key) from exception

    @classmethod
    def marketsync_find(cls, key):
        _check_key(key)
        with Transaction().set_context(_check_access=False):
            record = cls._marketsync_lookup(key, repair=False)
            if record is None or record.state in cls._marketsync_unfinished:
                return None
            return cls._marketsync_answer(record, False)

    @classmethod
    def marketsync_upsert(cls, key, values):
        _check_key(key)
        with Transaction().set_context(_check_access=False):
            record = cls._marketsync_lookup(key, repair=True)
        if record is not None:
            cls._marketsync_finish([record])
            return cls._marketsync_answer(cls(record.id), False)
        values = dict(values)
        values.pop('marketsync_key', None)
        record, = cls.create([values])
        # The key is read-only for users: set it below the ORM, in this transaction. The
        # unique index makes a concurrent writer of the same key wait here until the first
        # commits (then fail) or rolls back (then go on).
        cls._marketsync_claim(record.id, key)
        cls._marketsync_finish([record])
        return cls._marketsync_answer(cls(record.id), True)


class Move(Keyed, metaclass=PoolMeta):
    __name__ = 'account.move'
    _marketsync_fresh = True

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._check_modify_exclude |= {'marketsync_key'}

    @classmethod
    def _marketsync_finish(cls, moves):
        drafts = [m for m in moves if m.state == 'draft']
        if drafts:
            cls.post(drafts)

    @classmethod
    def _marketsync_discard(cls, moves):
        cls.delete([m for m in moves if m.state == 'draft'])


class Sale(Keyed, metaclass=PoolMeta):
    __name__ = 'sale.sale'
    _marketsync_fresh = False
    _marketsync_unfinished = ('draft', 'quotation')
    _marketsync_void = ('cancelled',)

    @classmethod
    def _marketsync_finish(cls, sales):
        drafts = [s for s in sales if s.state == 'draft']
        if drafts:
            cls.quote(drafts)
        quoted = [s for s in cls.browse([s.id for s in sales])
            if s.state == 'quotation']
        if quoted:
            cls.confirm(quoted)

    @classmethod
    def _marketsync_discard(cls, sales):
        quoted = [s for s in sales if s.state == 'quotation']
        if quoted:
            cls.draft(quoted)
        cls.delete([s for s in cls.browse([s.id for s in sales])
                if s.state == 'draft'])
