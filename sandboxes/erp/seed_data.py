"""Generated master data and documents of a Levant/Gulf FMCG distributor: shops in Jordan and
Saudi Arabia with English and Arabic names, groceries with EAN-13 barcodes and cartons, two
price lists, VAT, a main store and vans, and a few posted documents.

Pure functions of a ``random.Random`` and their arguments, so a seed always gives the same
records; the seeder stores them through the same checks a POST goes through.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandboxes.erp import arithmetic

Record = dict[str, Any]

RETAIL = "PL-RETAIL"
WHOLESALE = "PL-WHOLESALE"
MAIN_WAREHOUSE = "WH-MAIN"
WHOLESALE_DISCOUNT = Decimal("0.90")

TAXES: tuple[Record, ...] = (
    {"code": "VAT16", "name": "VAT 16%", "rate": "16.00", "inclusive": False},
    {"code": "VAT0", "name": "Zero-rated", "rate": "0.00", "inclusive": False},
)
PRICE_LISTS: tuple[Record, ...] = (
    {"code": RETAIL, "name": "Retail", "currency": "JOD"},
    {"code": WHOLESALE, "name": "Wholesale", "currency": "JOD"},
)


@dataclass(frozen=True)
class _Group:
    code: str
    name: str
    name_local: str
    tax: str
    carton: int
    products: tuple[tuple[str, str, str], ...]
    """(English name, Arabic name, retail price in JOD)."""
    brands: tuple[tuple[str, str], ...]


GROUPS: tuple[_Group, ...] = (
    _Group(
        "BEV",
        "Beverages",
        "مشروبات",
        "VAT16",
        24,
        (
            ("Mineral Water 1.5L", "مياه معدنية 1.5 لتر", "0.350"),
            ("Orange Juice 1L", "عصير برتقال 1 لتر", "1.200"),
            ("Cola 330ml Can", "كولا علبة 330 مل", "0.400"),
            ("Iced Tea 500ml", "شاي مثلج 500 مل", "0.750"),
            ("Energy Drink 250ml", "مشروب طاقة 250 مل", "1.100"),
        ),
        (("Hayat", "حياة"), ("Rawabi", "روابي"), ("Al Rabie", "الربيع")),
    ),
    _Group(
        "DAIRY",
        "Dairy",
        "ألبان",
        "VAT0",
        12,
        (
            ("Fresh Milk 1L", "حليب طازج 1 لتر", "0.950"),
            ("Laban 2L", "لبن 2 لتر", "1.600"),
            ("Labneh 500g", "لبنة 500 غم", "1.850"),
            ("Yogurt 1kg", "لبن رائب 1 كغم", "1.400"),
            ("White Cheese 400g", "جبنة بيضاء 400 غم", "2.300"),
        ),
        (("Almarai", "المراعي"), ("Hammoudeh", "حمودة"), ("Nadec", "نادك")),
    ),
    _Group(
        "SNACK",
        "Snacks",
        "وجبات خفيفة",
        "VAT16",
        24,
        (
            ("Potato Chips 80g", "شيبس بطاطا 80 غم", "0.500"),
            ("Chocolate Wafer 40g", "ويفر شوكولاتة 40 غم", "0.300"),
            ("Salted Peanuts 150g", "فول سوداني مملح 150 غم", "0.900"),
            ("Biscuits 200g", "بسكويت 200 غم", "0.850"),
            ("Date Bar 30g", "لوح تمر 30 غم", "0.450"),
        ),
        (("Tiffany", "تيفاني"), ("Master", "ماستر"), ("Al Durra", "الدرة")),
    ),
    _Group(
        "CLEAN",
        "Cleaning",
        "منظفات",
        "VAT16",
        12,
        (
            ("Dish Soap 750ml", "سائل جلي 750 مل", "1.250"),
            ("Laundry Powder 3kg", "مسحوق غسيل 3 كغم", "4.900"),
            ("Bleach 1L", "مبيض 1 لتر", "0.950"),
            ("Floor Cleaner 1L", "منظف أرضيات 1 لتر", "1.350"),
            ("Tissue Box 200", "محارم 200 منديل", "0.700"),
        ),
        (("Fine", "فاين"), ("Dettol", "ديتول"), ("Clorox", "كلوركس")),
    ),
    _Group(
        "BAKERY",
        "Bakery",
        "مخبوزات",
        "VAT0",
        6,
        (
            ("Arabic Bread 6 pcs", "خبز عربي 6 حبات", "0.350"),
            ("Toast Bread 600g", "خبز توست 600 غم", "0.950"),
            ("Croissant 6 pcs", "كرواسون 6 حبات", "1.500"),
            ("Kaak 400g", "كعك 400 غم", "1.200"),
            ("Maamoul 500g", "معمول 500 غم", "2.750"),
        ),
        (("L'usine", "لوزين"), ("Al Mashriq", "المشرق"), ("Golden Loaf", "الرغيف الذهبي")),
    ),
    _Group(
        "CANNED",
        "Canned Food",
        "معلبات",
        "VAT16",
        24,
        (
            ("Chickpeas 400g", "حمص حب 400 غم", "0.550"),
            ("Foul Medammas 400g", "فول مدمس 400 غم", "0.500"),
            ("Tuna 160g", "تونة 160 غم", "1.150"),
            ("Tomato Paste 400g", "معجون طماطم 400 غم", "0.650"),
            ("Sweet Corn 340g", "ذرة حلوة 340 غم", "0.800"),
        ),
        (
            ("California Garden", "كاليفورنيا جاردن"),
            ("Al Alali", "العلالي"),
            ("Americana", "أمريكانا"),
        ),
    ),
    _Group(
        "PERSONAL",
        "Personal Care",
        "عناية شخصية",
        "VAT16",
        12,
        (
            ("Shampoo 400ml", "شامبو 400 مل", "2.600"),
            ("Toothpaste 100ml", "معجون أسنان 100 مل", "1.450"),
            ("Hand Soap 500ml", "صابون يدين 500 مل", "1.300"),
            ("Deodorant 150ml", "مزيل عرق 150 مل", "2.200"),
            ("Shaving Foam 200ml", "رغوة حلاقة 200 مل", "1.900"),
        ),
        (("Signal", "سيجنال"), ("Lux", "لوكس"), ("Nivea", "نيفيا")),
    ),
    _Group(
        "RICE",
        "Rice & Grains",
        "أرز وحبوب",
        "VAT0",
        6,
        (
            ("Basmati Rice 5kg", "أرز بسمتي 5 كغم", "6.500"),
            ("Egyptian Rice 4kg", "أرز مصري 4 كغم", "4.200"),
            ("Red Lentils 1kg", "عدس أحمر 1 كغم", "1.100"),
            ("Bulgur 1kg", "برغل 1 كغم", "0.950"),
            ("Sugar 2kg", "سكر 2 كغم", "1.300"),
        ),
        (("Al Walimah", "الوليمة"), ("Abu Kass", "أبو كاس"), ("Al Dahabi", "الذهبي")),
    ),
)


@dataclass(frozen=True)
class _City:
    name: str
    region: str
    postcode: str
    streets: tuple[str, ...]


_JORDAN = (
    _City(
        "Amman",
        "Amman Governorate",
        "11181",
        ("Mecca Street", "Zahran Street", "Wasfi Al-Tal Street"),
    ),
    _City("Irbid", "Irbid Governorate", "21110", ("University Street", "Al-Hashemi Street")),
    _City("Zarqa", "Zarqa Governorate", "13110", ("King Abdullah II Street", "Al-Jaish Street")),
    _City("Aqaba", "Aqaba Governorate", "77110", ("Al-Hammamat Street", "King Hussein Street")),
    _City("Madaba", "Madaba Governorate", "17110", ("King Talal Street",)),
    _City("Salt", "Balqa Governorate", "19110", ("Al-Maydan Street",)),
)
_SAUDI = (
    _City(
        "Riyadh", "Riyadh Province", "12211", ("Olaya Street", "King Fahd Road", "Tahlia Street")
    ),
    _City("Jeddah", "Makkah Province", "23521", ("Prince Sultan Road", "Palestine Street")),
    _City("Dammam", "Eastern Province", "32241", ("King Saud Street", "Prince Mohammed Street")),
    _City("Madinah", "Madinah Province", "42311", ("Quba Road",)),
)
_SHOP_NAMES = (
    ("Al-Noor", "النور"),
    ("Al-Amal", "الأمل"),
    ("Al-Salam", "السلام"),
    ("Al-Baraka", "البركة"),
    ("Al-Rawda", "الروضة"),
    ("Al-Yasmeen", "الياسمين"),
    ("Al-Khair", "الخير"),
    ("Al-Manar", "المنار"),
    ("Al-Sharq", "الشرق"),
    ("Abu Ali", "أبو علي"),
)
_SHOP_KINDS = (
    ("Supermarket", "سوبرماركت"),
    ("Grocery", "بقالة"),
    ("Mini Market", "ميني ماركت"),
    ("Pharmacy", "صيدلية"),
    ("Bakery", "مخبز"),
    ("Trading Est.", "مؤسسة تجارية"),
)
_CONTACTS = (
    "Ahmad Khalil",
    "Mohammad Saleh",
    "Omar Haddad",
    "Lina Nasser",
    "Rania Odeh",
    "Yousef Mansour",
    "Khaled Al-Otaibi",
    "Fahad Al-Qahtani",
    "Sara Al-Harbi",
    "Abdullah Al-Shehri",
)
_DRIVERS = ("Ahmad", "Omar", "Khaled", "Yousef", "Bilal", "Tareq", "Sami", "Hani")
_CREDIT_LIMITS = ("0", "500", "1000", "2500", "5000", "15000")
_RETURN_REASONS = ("Damaged goods", "Expired", "Wrong item delivered", "Customer refused")
_LINE_DISCOUNTS = (0, 0, 0, 5, 10)
"""Percent off a line: most lines are at list price, some carry a promotion."""
BACK_OFFICE = "Back Office"
"""Who issues what no van rep issued: documents of the main store, refunds at the office."""


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP):f}"


def quantity(value: int | Decimal) -> str:
    return f"{Decimal(value).quantize(Decimal('0.001')):f}"


# Master data


def item_groups() -> list[Record]:
    return [{"code": g.code, "name": g.name, "name_local": g.name_local} for g in GROUPS]


def warehouse(number: int) -> Record:
    """0 is the main store; 1, 2... are the reps' vans."""
    if number == 0:
        return {"code": MAIN_WAREHOUSE, "name": "Main Warehouse - Amman", "type": "store"}
    driver = _DRIVERS[(number - 1) % len(_DRIVERS)]
    return {"code": f"VAN-{number:02d}", "name": f"Van {number:02d} - {driver}", "type": "van"}


def salesperson(warehouse_code: str | None) -> str:
    """Who issues the documents of a warehouse: a van's driver sells from it; the main store's
    documents come from the back office."""
    van = (warehouse_code or "").removeprefix("VAN-")
    if van != warehouse_code and van.isdigit():
        return _DRIVERS[(int(van) - 1) % len(_DRIVERS)]
    return BACK_OFFICE


def customer(rng: random.Random) -> Record:
    saudi = rng.random() < 0.3
    city = rng.choice(_SAUDI if saudi else _JORDAN)
    base, base_local = rng.choice(_SHOP_NAMES)
    kind, kind_local = rng.choice(_SHOP_KINDS)
    english, arabic = f"{base} {kind}", f"{kind_local} {base_local}"
    limit = Decimal(rng.choice(_CREDIT_LIMITS))
    record: Record = {
        "name": english,
        "name_local": arabic,
        "contact": rng.choice(_CONTACTS),
        "phone": phone(rng, saudi=saudi, mobile=False),
        "mobile": phone(rng, saudi=saudi, mobile=True),
        "address": {
            "street": f"{rng.randint(1, 250)} {rng.choice(city.streets)}",
            "city": city.name,
            "region": city.region,
            "country": "Saudi Arabia" if saudi else "Jordan",
            "postcode": city.postcode,
        },
        "tax_id": (
            f"3{rng.randint(10**12, 10**13 - 1)}3" if saudi else str(rng.randint(10**7, 10**8 - 1))
        ),
        "credit_limit": money(limit),
        "balance": money(limit * Decimal(rng.randint(0, 80)) / 100),
        "price_list": WHOLESALE if rng.random() < 0.3 else RETAIL,
        "payment_terms_days": 0 if not limit else rng.choice((15, 30, 45, 60)),
        "status": "inactive" if rng.random() < 0.05 else "active",
    }
    if rng.random() < 0.6:
        slug = english.lower().replace("al-", "al").replace(" ", "-").replace(".", "")
        record["email"] = f"{slug}{rng.randint(1, 999)}@example.com"
    if rng.random() < 0.2:
        # Some shops are known in the ERP by their Arabic name only.
        record["name"] = arabic
        del record["name_local"]
    return record


def phone(rng: random.Random, *, saudi: bool, mobile: bool) -> str:
    """Numbers in E.164: Saudi mobiles +9665..., Riyadh landlines +96611...; Jordanian mobiles
    +96277/78/79..., Amman landlines +9626..."""
    if saudi:
        prefix, digits = ("+9665", 8) if mobile else ("+96611", 7)
    else:
        prefix, digits = (f"+9627{rng.choice('789')}", 7) if mobile else ("+9626", 7)
    return f"{prefix}{rng.randint(10 ** (digits - 1), 10**digits - 1)}"


def item(rng: random.Random, number: int) -> Record:
    """Item ``I-<number>``; the catalogue cycles through group x product x brand, so names stay
    unique for the first 120 and get a pack suffix after that."""
    index = number - 1
    group = GROUPS[index % len(GROUPS)]
    product, product_local, price = group.products[index // len(GROUPS) % len(group.products)]
    combos = len(GROUPS) * len(group.products)
    brand, brand_local = group.brands[index // combos % len(group.brands)]
    cycle = index // (combos * len(group.brands))
    suffix = f" (pack {cycle + 1})" if cycle else ""
    carton = f"CTN{group.carton}"
    barcodes = [ean13(f"625{GROUPS.index(group)}{number:08d}")]
    if rng.random() < 0.5:
        barcodes.append(ean13(f"6259{number:08d}"))
    return {
        "code": f"I-{number:05d}",
        "name": f"{brand} {product}{suffix}",
        "name_local": f"{product_local} {brand_local}{suffix}",
        "description": f"{product} by {brand}; sold by the piece or the carton of {group.carton}",
        "barcodes": barcodes,
        "group": group.code,
        "brand": brand,
        "uom": "PCS",
        "units": [{"code": "PCS", "factor": 1}, {"code": carton, "factor": group.carton}],
        "price": money(Decimal(price) * Decimal(rng.randint(90, 115)) / 100),
        "tax_code": group.tax,
        "status": "discontinued" if rng.random() < 0.03 else "active",
    }


def ean13(twelve: str) -> str:
    """The digits with their EAN-13 check digit."""
    digits = [int(char) for char in twelve]
    odd, even = sum(digits[0::2]), sum(digits[1::2])
    return twelve + str((10 - (odd + 3 * even) % 10) % 10)


def price_list_line(price_list: str, item_record: Record) -> Record:
    price = Decimal(item_record["price"])
    carton = max(unit["factor"] for unit in item_record["units"])
    wholesale = price_list == WHOLESALE
    return {
        "price_list": price_list,
        "item": item_record["code"],
        "price": money(price * WHOLESALE_DISCOUNT if wholesale else price),
        "min_qty": quantity(carton if wholesale else 1),
    }


def stock_level(rng: random.Random, warehouse_code: str, item_code: str) -> Record:
    on_hand = rng.randint(100, 2400) if warehouse_code == MAIN_WAREHOUSE else rng.randint(0, 96)
    return {"warehouse": warehouse_code, "item": item_code, "on_hand": quantity(on_hand)}


# Documents. Their numbers follow the ERP's own series (INV/2026/00001, as Odoo writes them),
# which can never collide with the numbers Repzo gives the documents syncer posts here.


@dataclass(frozen=True)
class Catalogue:
    """What documents are drawn from: the active cards and the prices that apply to them."""

    customers: Sequence[Record]
    items: Sequence[Record]
    vans: Sequence[str]
    tax_rates: dict[str, Decimal]
    prices: dict[tuple[str, str], str]
    """(price list, item) -> price."""


def invoice(rng: random.Random, number: int, catalogue: Catalogue, today: date) -> Record:
    buyer = rng.choice(catalogue.customers)
    van = rng.choice(catalogue.vans)
    issued = today - timedelta(days=rng.randint(0, 30))
    lines = [
        _line(
            catalogue,
            buyer,
            chosen,
            rng.choice((1, 2, 3, 6, 12, 24)),
            Decimal(rng.choice(_LINE_DISCOUNTS)),
        )
        for chosen in rng.sample(
            list(catalogue.items), min(len(catalogue.items), rng.randint(1, 4))
        )
    ]
    return {
        "number": f"INV/{today.year}/{number:05d}",
        "customer": buyer["id"],
        "warehouse": van,
        "date": issued.isoformat(),
        "due_date": (issued + timedelta(days=buyer.get("payment_terms_days", 0))).isoformat(),
        "status": rng.choice(("open", "open", "paid", "paid", "partial")),
        **arithmetic.header_totals(lines),
        "salesperson": salesperson(van),
        "lines": lines,
    }


def credit_note(rng: random.Random, number: int, original: Record, today: date) -> Record:
    """Part of one line of ``original`` comes back: its discount and tax are returned in
    proportion, and the line and header add up as the ERP requires. ``original`` has a line
    of a positive quantity (see ``returnable``)."""
    sold = rng.choice([entry for entry in original["lines"] if returnable(entry)])
    qty = min(Decimal(sold["qty"]), Decimal(rng.randint(1, 2)))
    share = qty / Decimal(sold["qty"])
    line = {
        **{name: value for name, value in sold.items() if name != "total"},
        "qty": quantity(qty),
        "discount": money(Decimal(sold.get("discount") or 0) * share),
        "tax": money(Decimal(sold.get("tax") or 0) * share),
    }
    line["total"] = arithmetic.line_total(line)
    return {
        "number": f"RINV/{today.year}/{number:05d}",
        "customer": original["customer"],
        "warehouse": original.get("warehouse"),
        "original_invoice": original["id"],
        "date": today.isoformat(),
        "reason": rng.choice(_RETURN_REASONS),
        **arithmetic.header_totals([line]),
        "salesperson": original.get("salesperson") or salesperson(original.get("warehouse")),
        "lines": [line],
    }


def returnable(line: Record) -> bool:
    """Whether goods of the line can come back: a client may have posted a correction line of
    a negative quantity, or of none, which nothing can be returned from."""
    return Decimal(line["qty"]) > 0


def payment(rng: random.Random, number: int, settled: Record, today: date) -> Record:
    total = Decimal(settled["total"])
    amount = total if settled.get("status") != "partial" else total / 2
    method = rng.choice(("cash", "cash", "cheque", "transfer", "card"))
    record: Record = {
        "number": f"PAY/{today.year}/{number:05d}",
        "customer": settled["customer"],
        "invoice": settled["id"],
        "amount": money(amount),
        "method": method,
        "date": max(date.fromisoformat(settled["date"]), today - timedelta(days=3)).isoformat(),
        "salesperson": settled.get("salesperson") or salesperson(settled.get("warehouse")),
    }
    if method in ("cheque", "transfer"):
        record["reference"] = (
            f"{'CHQ' if method == 'cheque' else 'TRF'}-{rng.randint(100000, 999999)}"
        )
    return record


def refund(rng: random.Random, number: int, note: Record) -> Record:
    """The money of a credit note paid back to the customer at the office, in cash or by
    cheque."""
    method = rng.choice(("cash", "cash", "cheque"))
    record: Record = {
        "number": f"RFND/{date.fromisoformat(note['date']).year}/{number:05d}",
        "customer": note["customer"],
        "amount": note["total"],
        "method": method,
        "date": note["date"],
        "settles": note["number"],
        "salesperson": BACK_OFFICE,
    }
    if method == "cheque":
        record["reference"] = f"CHQ-{rng.randint(100000, 999999)}"
    return record


def _line(
    catalogue: Catalogue, buyer: Record, chosen: Record, qty: int, discount_percent: Decimal
) -> Record:
    """A line at the buyer's price: the discount off the gross amount, the tax on what is left
    (VAT is charged on the discounted price)."""
    key = (str(buyer.get("price_list") or RETAIL), str(chosen["code"]))
    unit_price = Decimal(money(Decimal(catalogue.prices.get(key) or chosen["price"])))
    gross = unit_price * qty
    discount = Decimal(money(gross * discount_percent / 100))
    rate = catalogue.tax_rates.get(chosen.get("tax_code") or "", Decimal(0))
    line = {
        "item": chosen["code"],
        "qty": quantity(qty),
        "unit_price": money(unit_price),
        "tax_included": False,
        "discount": money(discount),
        "tax": money((gross - discount) * rate / 100),
    }
    return {**line, "total": arithmetic.line_total(line)}
