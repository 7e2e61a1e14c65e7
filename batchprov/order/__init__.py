"""Stage 4, order: buying the numbers, concurrently and exactly once.

`runner` is the entry (`order_rows`). `client` is the only module speaking HTTP to the API;
`journal` writes every attempt down before it is sent; `state` holds a run's shared state and
`rows` each row's; `dispatch` sends the creates at the pace `rate` sets; `reconcile` finds
out what became of lost answers, deciding with the pure name `matching` rules; `crashpoints`
lets tests kill the process at the worst moments. The protocol is `docs/design.md`.
"""
