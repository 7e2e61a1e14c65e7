"""A row's progress through a run, and the `RowResult` it ends with.

The result builders are pure: they read the journal's `Item` (the truth about the purchase)
and the row's own notes, and write the messages the user sees in the annotated sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from batchprov.models import CheckedRow, FallbackOrder, OrderRequest, RowResult, Status
from batchprov.numbering.fallback import unavailable_text
from batchprov.order.journal import UNRESOLVED, Item, State

#: Ends every "no clear answer" message: the next run looks in the account before sending.
RUN_AGAIN = (
    "Run the same command again: batchprov first looks in the account, and never buys it twice"
)
#: What to do about a row for which no number matched.
NO_MATCH_HINT = (
    "Choose another area code (or none), or add a fallback, then run again with --retry-failed."
)
#: Ends the message of a row the run never reached.
NOT_REACHED = "Run the same command again to order it."
#: How a warning begins when the row's number may be a second purchase (the summary counts them).
MAYBE_TWICE = "This row may have been bought twice"


@dataclass(slots=True, eq=False)
class RowState:
    """One row's progress through this run.

    ``order`` is the order being tried: the row's own, then, each time the API answers that
    no number matches, its next fallback (``step`` of them used so far).
    """

    row: CheckedRow
    order: OrderRequest
    key: str
    item: Item | None = None
    result: RowResult | None = None
    sends: int = 0  # sends this run that count toward max_attempts
    throttles: int = 0
    ready_at: float = 0.0  # when a reconcile may look for it
    absent_since: float | None = None
    not_before: float = 0.0  # earliest resend
    unknown_detail: str = ""
    #: A 2xx said it bought without saying what: absent from the listing, it goes to review.
    claimed: bool = False
    #: Sent again after two listings did not show it: a number found later may be a second.
    resent_unseen: bool = False
    recovering: bool = False
    warnings: list[str] = field(default_factory=list)
    step: int = 0  # fallbacks used: 0 while the row's own order is tried
    holds_budget: bool = False  # a send that may have bought counts against the run's cap
    #: `payload`, once made: every attempt journals it, and the plan compares it.
    _payload: str | None = field(default=None, repr=False)

    @property
    def group(self) -> int:
        return self.order.group_id

    @property
    def payload(self) -> str:
        """The row's own order as the JSON the journal keeps (`primary`'s ``body_json``)."""
        if self._payload is None:
            self._payload = self.primary.body_json()
        return self._payload

    def body_json(self) -> str:
        """The JSON body of the order being tried: `payload`, or the fallback's."""
        return self.payload if self.order is self.primary else self.order.body_json()

    @property
    def primary(self) -> OrderRequest:
        """The row's own order, as written in the sheet."""
        return self.row.order or self.order

    @property
    def fallback(self) -> FallbackOrder | None:
        """The fallback being tried (None while the row's own order is)."""
        return self.row.fallbacks[self.step - 1] if self.step else None

    def has_fallback(self) -> bool:
        """True while a fallback is left to try."""
        return self.step < len(self.row.fallbacks)

    def advance(self) -> None:
        """Try the next fallback: the order before it found no number."""
        self.order = self.row.fallbacks[self.step].order
        self.step += 1

    def resume(self, item: Item) -> None:
        """Pick up at the order an earlier attempt sent, if it bought or may have bought."""
        if item.sent is None or (item.state is not State.DONE and item.state not in UNRESOLVED):
            return  # nothing bought: start again from the row's own order
        for step, fallback in enumerate(self.row.fallbacks, start=1):
            if fallback.order.body_json() == item.sent:
                self.order, self.step = fallback.order, step
                return


def owned_result(row: RowState, item: Item, status: Status) -> RowResult:
    """The row owns the item's number, or fails if the journal refused it."""
    if item.state is not State.DONE:  # the journal refused the number (already owned)
        return failed_result(row, item, item.last_error or "number already owned")
    warnings = list(row.warnings)
    if row.fallback is not None:
        warnings.append(fallback_text(row))
    actual = (item.actual_name or "").strip()
    if actual and actual != row.order.name.strip():
        warnings.append(f'name already in use in group {row.group}; the API assigned "{actual}"')
    return replace(
        _base_result(row, item, status),
        tracking_number=item.phone,
        number_id=item.number_id,
        route_id=item.route_id,
        assigned_name=item.actual_name,
        warnings=tuple(warnings),
        provisioned_at=item.provisioned_at,
    )


def failed_result(
    row: RowState, item: Item | None, error: str, status: Status = Status.FAILED
) -> RowResult:
    """A row without a number, and why."""
    return replace(_base_result(row, item, status), error=error)


def stopped_result(row: RowState, item: Item | None, halt: str | None) -> RowResult:
    """The result of a row left open when the run stopped, from the journal's truth."""
    why = halt or "the run stopped"
    if item is None or (item.state is State.PENDING and item.attempts == 0):
        reason = "" if why == "interrupted" else f" ({why})"
        text = f"Not sent: the run was stopped{reason} before this row's turn. {NOT_REACHED}"
        return failed_result(row, item, text, Status.NOT_ATTEMPTED)
    if item.state is State.DONE:
        return owned_result(row, item, Status.PROVISIONED)
    if item.state is State.REVIEW:
        return failed_result(row, item, review_text(item))
    if item.unresolved:
        detail = row.unknown_detail or item.last_error or "no answer"
        return failed_result(row, item, unknown_text(detail))
    if item.state is State.FAILED:
        return failed_result(row, item, item.last_error or "failed")
    if item.last_error and item.last_error in why:  # this row's own answer stopped the run
        return failed_result(row, item, f"Not bought: {why}. {NOT_REACHED}")
    return failed_result(
        row,
        item,
        f"Not bought yet ({item.last_error}): the run was stopped ({why}) before it was sent "
        f"again. {NOT_REACHED}",
    )


def unknown_text(detail: str, why: str = "") -> str:
    """A row sent without a clear answer: it may have been bought."""
    extra = f", and the group's numbers cannot be listed ({why})" if why else ""
    return (
        f"No clear answer came for this row ({detail}){extra}, so it may have been bought. "
        f"{RUN_AGAIN}."
    )


def fallback_text(row: RowState) -> str:
    """``No 289 number was available, so a number in overlay area code 905 was ordered
    instead``."""
    assert row.fallback is not None
    text = f"{unavailable_text(row.primary)}, so {row.fallback.label} was ordered instead"
    tried = [f.label for f in row.row.fallbacks[: row.step - 1]]
    return f"{text} ({_either(tried)} had none either)" if tried else text


def refused_text(row: RowState, detail: str, *, no_match: bool) -> str:
    """The error of a row refused for good: the API's text, and the fallbacks it tried."""
    if row.fallback is None:
        return f"{detail}\n{NO_MATCH_HINT}" if no_match else detail
    if not no_match:
        return f"{detail} (when asked for {row.fallback.label} instead)"
    tried = _either([f.label for f in row.row.fallbacks[: row.step]])
    return (
        f"{unavailable_text(row.primary)}, nor {tried}. {NO_MATCH_HINT[0].upper()}"
        f"{NO_MATCH_HINT[1:].removesuffix('.')}; last answer: {detail}"
    )


def _either(labels: list[str]) -> str:
    """``a, b or c``."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def earlier_review_text(item: Item) -> str:
    """What a row an earlier run left for review says when a run reports it again."""
    return f"{review_text(item)} (from an earlier run)"


def earlier_failure_text(item: Item) -> str:
    """What a row an earlier run failed says when a run reports it again, unsent."""
    return f"{item.last_error} (from an earlier run; use --retry-failed to try again)"


def review_text(item: Item) -> str:
    """Why an item waits for a person: its recorded reason, or the numbers to look at."""
    if item.last_error:
        return item.last_error
    return (
        f"This row may have been bought twice: review numbers {item.review_numbers} in the "
        "account and release the one you do not want"
    )


def _base_result(row: RowState, item: Item | None, status: Status) -> RowResult:
    """The fields every result of a row has, owned or not."""
    return RowResult(
        index=row.row.index,
        excel_row=row.row.excel_row,
        status=status,
        match_type=row.order.match_type.value,
        warnings=tuple(row.warnings),
        attempts=item.attempts if item else 0,
    )
