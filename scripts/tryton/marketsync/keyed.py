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

A customer shipment is not created from values: ``marketsync_upsert`` on stock.shipment.out
takes the open shipment the confirmed sale made, ships the requested quantities through
Tryton's own workflow (assigned, picked, packed, done; the sale makes a new shipment for what
is left) and keys it. A credit note is an ``out`` invoice with negative lines and the
marketplace's own tax amounts as manual invoice taxes, validated (not posted: the ledger side of
a refund is the marketsync refund reversal journal, as sales are not invoiced by Tryton either).

Both answer ``{"id", "number", "state", "created"}``. Two finished documents under one key
(left by an older adapter) are reported as a ``UserError`` whose description is
``duplicate_key ids=<id>,<id>``; extra drafts under one key are deleted.
"""
import re

from sql import Null

from trytond import backend
from trytond.exceptions import UserError
from trytond.model import Index, Unique, fields
from trytond.pool import Pool, PoolMeta
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

    # The field an adapter before 0.2 put the key in (first word), or None.
    _marketsync_legacy_field = 'description'
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
        if cls._marketsync_legacy_field:
            cls._sql_indexes.add(Index(
                    t, (getattr(t, cls._marketsync_legacy_field),
                        Index.Similarity(begin=True)),
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
            'number': getattr(record, 'number', None),
            'state': record.state,
            'created': created,
            }

    @classmethod
    def _marketsync_legacy(cls, key):
        if not cls._marketsync_legacy_field:
            return []
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
        record = cls._marketsync_create(values)
        # The key is read-only for users: set it below the ORM, in this transaction. The
        # unique index makes a concurrent writer of the same key wait here until the first
        # commits (then fail) or rolls back (then go on).
        cls._marketsync_claim(record.id, key)
        cls._marketsync_finish([record])
        return cls._marketsync_answer(cls(record.id), True)


    @classmethod
    def _marketsync_create(cls, values):
        record, = cls.create([values])
        return record


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


def _user_error(message, code):
    """A refusal the adapter reads by its description (``<code> …``)."""
    raise UserError('marketsync: ' + message, code)


class ShipmentOut(Keyed, metaclass=PoolMeta):
    """A fulfilment: the confirmed sale's own customer shipment, shipped.

    ``values``: ``sale`` (id), ``lines`` (``[[product code, quantity], …]``; empty ships the
    whole shipment), ``effective_date`` (when it left), ``reference`` (carrier and tracking).
    """
    __name__ = 'stock.shipment.out'
    _marketsync_fresh = False
    _marketsync_legacy_field = None
    _marketsync_unfinished = (
        'draft', 'waiting', 'assigned', 'picked', 'packed', 'shipped')
    _marketsync_void = ('cancelled',)
    _marketsync_open = ('draft', 'waiting', 'assigned', 'picked', 'packed')

    @classmethod
    def _marketsync_open_shipments(cls, sale):
        return sorted(
            (s for s in sale.shipments
                if s.state in cls._marketsync_open and not s.marketsync_key),
            key=lambda s: s.id)

    @classmethod
    def _marketsync_create(cls, values):
        pool = Pool()
        Sale = pool.get('sale.sale')
        Move = pool.get('stock.move')
        Date = pool.get('ir.date')

        sale = Sale(int(values['sale']))
        if sale.state not in ('confirmed', 'processing', 'done'):
            _user_error(
                'sale %s is %s: only a confirmed sale ships' % (
                    sale.id, sale.state),
                'sale_not_confirmed sale=%s' % sale.id)
        shipments = cls._marketsync_open_shipments(sale)
        if not shipments and sale.state != 'done':
            # The sale is processed after its confirmation commits (a queue task): make sure
            # its shipments exist.
            Sale.process([sale])
            sale = Sale(sale.id)
            shipments = cls._marketsync_open_shipments(sale)
        if not shipments:
            _user_error(
                'sale %s has nothing left to ship' % sale.id,
                'nothing_to_ship sale=%s' % sale.id)
        shipment = shipments[0]
        # The first write takes the shipment's row lock: a concurrent writer of the same
        # fulfilment waits here, then fails on the concurrent update and is retried by the
        # dispatcher with a fresh snapshot, in which it finds this shipment keyed.
        with Transaction().set_context(company=shipment.company.id):
            today = Date.today()
        effective = values.get('effective_date') or today
        if effective > today:
            effective = today
        cls.write([shipment], {
                'reference': values.get('reference') or shipment.reference,
                'effective_date': effective,
                })
        shipment = cls(shipment.id)
        if shipment.state == 'draft':
            cls.wait([shipment])
            shipment = cls(shipment.id)

        wanted = {}
        for code, quantity in values.get('lines') or []:
            if not isinstance(quantity, (int, float)) or quantity <= 0:
                _user_error('invalid quantity %r for %s' % (quantity, code),
                    'invalid_quantity')
            wanted[code] = wanted.get(code, 0) + quantity
        if wanted:
            pending = {}
            for move in shipment.outgoing_moves:
                if move.state in ('done', 'cancelled'):
                    continue
                code = move.product.code
                pending[code] = pending.get(code, 0) + move.quantity
            for code, quantity in wanted.items():
                if code not in pending:
                    _user_error(
                        'shipment %s of sale %s holds no %s' % (
                            shipment.id, sale.id, code),
                        'unknown_sku code=%s' % code)
                if quantity > pending[code]:
                    _user_error(
                        'shipment %s of sale %s holds %s x %s, not %s' % (
                            shipment.id, sale.id, pending[code], code,
                            quantity),
                        'over_shipment code=%s' % code)
            if wanted == pending:
                wanted = {}

        if wanted and shipment.state == 'assigned':
            # Quantities of assigned moves are fixed: back to waiting to set them.
            cls.wait([shipment])
            shipment = cls(shipment.id)
        if wanted and shipment.state in ('picked', 'packed'):
            _user_error(
                'shipment %s of sale %s is already %s: ship it whole or finish it in '
                'Tryton' % (shipment.id, sale.id, shipment.state),
                'shipment_in_progress shipment=%s' % shipment.id)
        if wanted and shipment.state == 'waiting':
            # Ship only the requested quantities: the inventory moves carry them, picking
            # brings the outgoing moves to the same quantities, packing drops the rest (the
            # sale makes a new shipment for it).
            left = dict(wanted)
            to_write = []
            for move in shipment.inventory_moves:
                if move.state != 'draft':
                    continue
                code = move.product.code
                take = min(move.quantity, left.get(code, 0))
                left[code] = left.get(code, 0) - take
                if take != move.quantity:
                    to_write.extend(([move], {'quantity': take}))
            if to_write:
                Move.write(*to_write)
            shipment = cls(shipment.id)
        if shipment.state == 'waiting':
            cls.assign_try([shipment])
            shipment = cls(shipment.id)
        if shipment.state == 'waiting':
            # The goods have left (the marketplace says so): a book stock that is behind
            # reality becomes negative stock, not a refused fulfilment.
            cls.assign_force([shipment])
            shipment = cls(shipment.id)
        moves = [m for m in shipment.moves if m.state not in ('done', 'cancelled')]
        if moves:
            Move.write(moves, {'effective_date': effective})
        if shipment.state == 'assigned':
            cls.pick([shipment])
            shipment = cls(shipment.id)
        if shipment.state == 'picked':
            cls.pack([shipment])
            shipment = cls(shipment.id)
        if shipment.state in ('packed', 'shipped'):
            cls.do([shipment])
        return cls(shipment.id)

    @classmethod
    def _marketsync_finish(cls, shipments):
        # Shipped when created; nothing is left half-done under a key.
        pass

    @classmethod
    def _marketsync_discard(cls, shipments):
        pass


class Invoice(Keyed, metaclass=PoolMeta):
    """A credit note: an ``out`` invoice with negative lines, validated.

    ``values``: ``company``, ``party``, ``currency``, ``invoice_date``, ``reference``,
    ``description``, ``lines`` (``product`` id or null, ``description``, ``quantity`` (negative),
    ``unit_price``), ``taxes`` (``description``, ``base``, ``amount``, ``account`` id: the
    marketplace's own tax amounts, as manual invoice taxes), and optionally ``return`` (goods
    coming back to stock, see ``_marketsync_return``).
    """
    __name__ = 'account.invoice'
    _marketsync_fresh = False
    _marketsync_legacy_field = None
    _marketsync_unfinished = ('draft',)
    _marketsync_void = ('cancelled',)

    @classmethod
    def _marketsync_create(cls, values):
        pool = Pool()
        Party = pool.get('party.party')
        Line = pool.get('account.invoice.line')
        InvoiceTax = pool.get('account.invoice.tax')
        Product = pool.get('product.product')
        Configuration = pool.get('account.configuration')

        company = int(values['company'])
        party = Party(int(values['party']))
        with Transaction().set_context(company=company):
            invoice = cls(
                company=company,
                type='out',
                party=party,
                invoice_address=party.address_get(type='invoice'),
                currency=int(values['currency']),
                invoice_date=values.get('invoice_date'),
                reference=values.get('reference'),
                description=values.get('description'),
                account=party.account_receivable_used,
                )
            invoice.set_journal()
            fallback = Configuration(1).get_multivalue(
                'default_category_account_revenue', company=company)
            lines = []
            for v in values.get('lines') or []:
                line = Line(
                    invoice=invoice, type='line', company=company,
                    currency=invoice.currency,
                    quantity=v['quantity'], description=v.get('description'))
                line.account = fallback
                line.taxes = []
                product = Product(int(v['product'])) if v.get('product') else None
                category = product.account_category if product else None
                if category and category.account_revenue_used:
                    # The product's revenue account, through its accounting category.
                    line.product = product
                    line.unit = product.sale_uom or product.default_uom
                    line.account = category.account_revenue_used
                elif product:
                    # A product without accounting category (never invoiced by Tryton: the
                    # sales are not) cannot be on an invoice line: the line names it instead
                    # and books to the company's default revenue account.
                    line.description = '[%s] %s' % (
                        product.code, v.get('description') or product.rec_name)
                line.unit_price = v['unit_price']
                if not line.account:
                    _user_error(
                        'no revenue account for a credit note line of company %s'
                        % company, 'no_revenue_account')
                lines.append(line)
            invoice.lines = lines
            invoice.taxes = [
                InvoiceTax(
                    manual=True, description=t['description'],
                    base=t['base'], amount=t['amount'],
                    account=int(t['account']))
                for t in values.get('taxes') or []]
            invoice.save()
            cls._marketsync_return(invoice, values.get('return') or {})
        return cls(invoice.id)

    @classmethod
    def _marketsync_return(cls, invoice, values):
        """The goods coming back to stock: a customer return shipment in the same transaction
        (received and done when they have arrived, else a draft for the warehouse to receive).

        ``values``: ``warehouse`` (id), ``date``, ``received``, ``reference``, ``lines``
        (``product`` id, ``quantity``, ``unit_price``)."""
        pool = Pool()
        ShipmentReturn = pool.get('stock.shipment.out.return')
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        Product = pool.get('product.product')
        lines = values.get('lines') or []
        if not lines:
            return
        Date = pool.get('ir.date')
        warehouse = Location(int(values['warehouse']))
        party = invoice.party
        date = values.get('date')
        with Transaction().set_context(company=invoice.company.id):
            today = Date.today()
        if date and date > today:
            date = today
        shipment = ShipmentReturn(
            company=invoice.company, customer=party, warehouse=warehouse,
            contact_address=party.address_get(),
            reference=values.get('reference'), planned_date=date)
        shipment.on_change_warehouse()
        shipment.save()
        moves = []
        for line in lines:
            product = Product(int(line['product']))
            moves.append(Move(
                    product=product, unit=product.default_uom,
                    quantity=line['quantity'],
                    from_location=party.customer_location,
                    to_location=shipment.warehouse_input,
                    company=invoice.company, shipment=shipment,
                    planned_date=date, unit_price=line['unit_price'],
                    currency=invoice.currency, state='draft'))
        Move.save(moves)
        if values.get('received'):
            Move.write(moves, {'effective_date': date})
            ShipmentReturn.write([shipment], {'effective_date': date})
            # The moves from the customer have no origin (no return sale: the credit note of
            # this transaction, with the same reference, is their document), which Tryton
            # asks a person to confirm; this call is that confirmation.
            with Transaction().set_context(_skip_warnings=True):
                ShipmentReturn.receive([shipment])
                shipment = ShipmentReturn(shipment.id)
                Move.write(
                    [m for m in shipment.inventory_moves if m.state == 'draft'],
                    {'effective_date': date})
                ShipmentReturn.do([shipment])

    @classmethod
    def _marketsync_finish(cls, invoices):
        drafts = [i for i in invoices if i.state == 'draft']
        if drafts:
            cls.validate_invoice(drafts)

    @classmethod
    def _marketsync_discard(cls, invoices):
        cls.delete([i for i in invoices if i.state == 'draft'])
