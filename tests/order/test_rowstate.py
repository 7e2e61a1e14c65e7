"""A row's bodies: the journaled payload is the row's own order, made once; each attempt
sends the order being tried."""

from __future__ import annotations

from batchprov.models import CheckedRow, Fallback, MatchType, OrderRequest
from batchprov.numbering.fallback import with_fallbacks
from batchprov.order.rows import RowState


def _row() -> RowState:
    order = OrderRequest(
        group_id=1,
        name="A",
        match_type=MatchType.LOCAL_TO_NUMBER,
        termination_number="4165551234",
        local_to_number="9056372046",
        number_match_filter="289",
    )
    (row,) = with_fallbacks([CheckedRow(0, 2, order, fallback=(Fallback.DROP_FILTER,))], ())
    return RowState(row=row, order=order, key="k")


def test_the_payload_is_the_rows_own_order_through_its_fallbacks() -> None:
    """Before and after a fallback, the payload is the row's own body; the body sent follows
    the order being tried."""
    state = _row()
    assert state.row.order is not None
    own = state.row.order.body_json()
    assert state.payload == own
    assert state.body_json() == own
    assert state.payload is state.payload  # made once
    state.advance()
    assert state.fallback is not None
    assert state.payload == own
    assert state.body_json() == state.fallback.order.body_json() != own
