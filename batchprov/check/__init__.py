"""Stage 2, check: a `models.Table` → checked rows, every problem of every row as an `Issue`.

`checker` is the entry (`check_table`); `values` normalises each column once per distinct
text, using the cell `parsers` and `phones`, and infers each row's match type (`matchtype`);
`rules` states every rule as a problem column, `schema` runs the error rules through pandera;
`orders` turns a checked row into the order it will send.
"""
