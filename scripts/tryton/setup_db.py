"""Sets up the marketsync test database of a Tryton server (run by scripts/tryton-up.sh).

Idempotent: every record is looked up by a stable key (currency code, party code, company
party code, fiscal year name, product code) and created only when missing, so a second run
changes nothing.

What it creates:
  * currencies CNY, USD, GBP, EUR;
  * one company per test legal entity (CN01 in CNY, US01 in USD, UK01 in GBP); the company's
    party carries the entity id as its code, which is how the adapter finds the company;
  * the "Universal Chart of Accounts" for each company;
  * fiscal years (monthly periods) for 2026 and the current year, per company;
  * a party per sales channel, its code the channel name (`tmall`, `amazon`, ...);
  * goods products SKU-0001 .. SKU-0020 (the product code is the SKU), with 100 units on hand
    in the default warehouse for company US01.

Usage: python setup_db.py CONFIG_FILE DATABASE
"""

import datetime
import sys
from decimal import Decimal

from proteus import Model, Wizard, config as proteus_config

ENTITIES = [("CN01", "CNY"), ("US01", "USD"), ("UK01", "GBP")]
CURRENCIES = {
    "CNY": ("Chinese Yuan Renminbi", "¥"),
    "USD": ("US Dollar", "$"),
    "GBP": ("Pound Sterling", "£"),
    "EUR": ("Euro", "€"),
}
CHANNELS = [
    "tmall", "taobao", "jd", "douyin", "pinduoduo", "xiaohongshu",
    "amazon", "shopify", "walmart", "ebay", "custom:conformance",
]
SKUS = ["SKU-%04d" % i for i in range(1, 21)]
STOCK_COMPANY = "US01"
STOCK_QUANTITY = 100


def use_company(company):
    """Makes `company` the admin's current company (record rules show and accept the current
    company's records only) and reloads the session context."""
    User = Model.get("res.user")
    cfg = proteus_config.get_config()
    if cfg.context.get("company") != company.id:
        User.set_preferences({"company": company.id}, cfg.context)
        cfg._context = User.get_preferences(True, {})


def log(msg):
    print("[tryton-setup] %s" % msg, flush=True)


def currencies():
    Currency = Model.get("currency.currency")
    out = {}
    for code, (name, symbol) in CURRENCIES.items():
        found = Currency.find([("code", "=", code)])
        if found:
            out[code] = found[0]
            continue
        c = Currency(name=name, code=code, symbol=symbol, rounding=Decimal("0.01"), digits=2)
        c.save()
        log("currency %s" % code)
        out[code] = c
    return out


def party(code, name):
    Party = Model.get("party.party")
    found = Party.find([("code", "=", code)])
    if found:
        return found[0], False
    p = Party(name=name, code=code)
    if not p.addresses:
        p.addresses.new()
    p.save()
    return p, True


def companies(cur):
    Company = Model.get("company.company")
    User = Model.get("res.user")
    out = {}
    for entity, currency in ENTITIES:
        found = Company.find([("party.code", "=", entity)])
        if found:
            out[entity] = found[0]
            continue
        p, _ = party(entity, "Marketsync %s" % entity)
        company = Company(party=p, currency=cur[currency])
        company.save()
        log("company %s (%s)" % (entity, currency))
        out[entity] = company
    admin, = User.find([("login", "=", "admin")])
    ids = {c.id for c in admin.companies}
    missing = [c for c in out.values() if c.id not in ids]
    if missing or admin.company is None:
        admin.companies.extend([Company(c.id) for c in missing])
        if admin.company is None:
            admin.company = Company(out[STOCK_COMPANY].id)
        admin.save()
    # Record rules follow the user's company filter, not the RPC context: with "all", the
    # adapter sees every company of the user and filters by company itself.
    User.set_preferences({"company_filter": "all"}, proteus_config.get_config().context)
    # Reload the preferences so the session context carries the companies.
    proteus_config.get_config()._context = User.get_preferences(True, {})
    return out


def charts(comps):
    Account = Model.get("account.account")
    AccountTemplate = Model.get("account.account.template")
    ModelData = Model.get("ir.model.data")
    template = AccountTemplate(ModelData.get_id("account", "account_template_root_en", {}))
    for entity, company in comps.items():
        use_company(company)
        if Account.find([("company", "=", company.id), ("code", "=", "1.1.1")]):
            continue
        wizard = Wizard("account.create_chart")
        wizard.execute("account")
        wizard.form.account_template = template
        wizard.form.company = company
        wizard.execute("create_account")

        def one(domain):
            found = Account.find([("company", "=", company.id), ("closed", "!=", True)] + domain, limit=1)
            return found[0] if found else None

        receivable = one([("type.receivable", "=", True), ("party_required", "=", True)])
        payable = one([("type.payable", "=", True), ("party_required", "=", True)])
        if receivable is not None:
            wizard.form.account_receivable = receivable
        if payable is not None:
            wizard.form.account_payable = payable
        if hasattr(wizard.form, "category_account_revenue"):
            wizard.form.category_account_revenue = one([("type.revenue", "=", True)])
        if hasattr(wizard.form, "category_account_expense"):
            wizard.form.category_account_expense = one([("type.expense", "=", True)])
        wizard.execute("create_properties")
        log("chart of accounts for %s" % entity)


def fiscal_years(comps):
    FiscalYear = Model.get("account.fiscalyear")
    SequenceStrict = Model.get("ir.sequence.strict")
    SequenceType = Model.get("ir.sequence.type")
    move_type, = SequenceType.find([("name", "=", "Account Move")], limit=1)
    invoice_type, = SequenceType.find([("name", "=", "Invoice")], limit=1)
    years = sorted({2026, datetime.date.today().year})
    for entity, company in comps.items():
        use_company(company)
        for year in years:
            name = "%s %s" % (year, entity)
            if FiscalYear.find([("name", "=", name), ("company", "=", company.id)]):
                continue
            fy = FiscalYear(
                name=name,
                start_date=datetime.date(year, 1, 1),
                end_date=datetime.date(year, 12, 31),
                company=company,
            )
            move_seq = SequenceStrict(name="Moves %s" % name, sequence_type=move_type, company=company)
            move_seq.save()
            fy.move_sequence = move_seq
            invoice_seq = SequenceStrict(name="Invoices %s" % name, sequence_type=invoice_type, company=company)
            invoice_seq.save()
            for seq in fy.invoice_sequences:
                seq.out_invoice_sequence = invoice_seq
                seq.in_invoice_sequence = invoice_seq
                seq.out_credit_note_sequence = invoice_seq
                seq.in_credit_note_sequence = invoice_seq
            fy.save()
            fy.click("create_period")
            log("fiscal year %s" % name)


def channel_parties():
    for channel in CHANNELS:
        _, created = party(channel, "Marketplace %s" % channel)
        if created:
            log("party %s" % channel)


def products():
    Product = Model.get("product.product")
    Template = Model.get("product.template")
    Uom = Model.get("product.uom")
    unit, = Uom.find([("name", "=", "Unit")], limit=1)
    out = []
    for sku in SKUS:
        found = Product.find([("code", "=", sku)])
        if found:
            out.append(found[0])
            continue
        t = Template(
            name="Product %s" % sku,
            code=sku,
            type="goods",
            default_uom=unit,
            list_price=Decimal("10.00"),
            salable=True,
            sale_uom=unit,
        )
        t.save()
        log("product %s" % sku)
        out.append(t.products[0])
    return out


def stock(comps, prods):
    Inventory = Model.get("stock.inventory")
    Location = Model.get("stock.location")
    storage, = Location.find([("code", "=", "STO")], limit=1)
    company = comps[STOCK_COMPANY]
    use_company(company)
    if Inventory.find([("location", "=", storage.id), ("company", "=", company.id), ("state", "=", "done")]):
        return
    inv = Inventory(location=storage, company=company, date=datetime.date(2026, 1, 1))
    for p in prods:
        line = inv.lines.new()
        line.product = p
        line.quantity = STOCK_QUANTITY
    inv.save()
    inv.click("confirm")
    log("initial stock %s x %d" % (len(prods), STOCK_QUANTITY))


def main():
    conf, db = sys.argv[1], sys.argv[2]
    proteus_config.set_trytond(database=db, config_file=conf)
    cur = currencies()
    comps = companies(cur)
    charts(comps)
    fiscal_years(comps)
    channel_parties()
    prods = products()
    stock(comps, prods)
    log("ready")


if __name__ == "__main__":
    main()
