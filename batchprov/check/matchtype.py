"""Which match type a row asks for when its match_type cell is blank: the product's core rule.

A row names its match type, or its filled cells imply one, in this order:

1. a ``local_to_number`` → ``localtonumber`` (local to the advertiser's own number);
2. else a ``city`` or a ``state`` → ``localtocity``;
3. else a toll-free ``number_match_filter`` (800, 833, …) → ``tollfree``;
4. else it cannot be told, and the row is invalid ("match_type is required …").

A tollfree row must say so (or carry a toll-free filter): a blank row is never bought as
toll-free by default.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from batchprov.models import MatchType
from batchprov.numbering import nanp

__all__ = ["infer_match_type", "infer_match_types"]


def infer_match_type(cells: Mapping[str, str]) -> MatchType | None:
    """The match type one row's cleaned cells imply (None: cannot tell)."""
    if cells.get("local_to_number"):
        return MatchType.LOCAL_TO_NUMBER
    if cells.get("city") or cells.get("state"):
        return MatchType.LOCAL_TO_CITY
    if cells.get("number_match_filter", "")[:3] in nanp.TOLLFREE_NPAS:
        return MatchType.TOLLFREE
    return None


def infer_match_types(blank: pd.DataFrame, filter_: pd.Series) -> pd.Series:
    """`infer_match_type` for a whole sheet: ``blank`` says which cells are empty."""
    inferred = pd.Series([None] * len(blank), index=blank.index, dtype=object)
    tollfree_filter = [bool(f) and f[:3] in nanp.TOLLFREE_NPAS for f in filter_.tolist()]
    inferred[pd.Series(tollfree_filter, index=filter_.index, dtype=bool)] = MatchType.TOLLFREE
    inferred[~(blank["city"] & blank["state"])] = MatchType.LOCAL_TO_CITY
    inferred[~blank["local_to_number"]] = MatchType.LOCAL_TO_NUMBER
    return inferred
