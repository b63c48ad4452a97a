"""Random valid Repzo invoices, as a van-sales rep could issue them."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from sandboxes.repzo.documents import Sold

quantities = st.one_of(
    st.integers(min_value=1, max_value=500).map(Decimal),
    st.integers(min_value=1, max_value=4000).map(lambda n: Decimal(n) / 8),  # 0.125 kg steps
    st.integers(min_value=1, max_value=999).map(lambda n: Decimal(n) / 1000),
)
"""Whole units, eighths (weighed goods) and thousandths."""


@st.composite
def sold_lines(draw: st.DrawFn, index: int = 0) -> Sold:
    return Sold(
        variant_id=f"v{index:023d}",
        product_id=f"p{index:023d}",
        product_name=f"Product {index}",
        variant_name=f"I-{index:05d}",
        qty=draw(quantities),
        price=draw(st.integers(min_value=0, max_value=250_000)),
        factor=draw(st.sampled_from([1, 6, 12, 24])),
        discount_percent=draw(
            st.sampled_from([Decimal(0), Decimal(5), Decimal("12.5"), Decimal(100)])
        ),
        tax_rate=draw(st.sampled_from([Decimal(0), Decimal(4), Decimal(16)])),
        tax_type=draw(st.sampled_from(["additive", "inclusive", "N/A"])),
    )


def line_lists(max_size: int = 6) -> st.SearchStrategy[list[Sold]]:
    return st.lists(sold_lines(), min_size=1, max_size=max_size)
