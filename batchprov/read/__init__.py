"""Stage 1, read: an input file → a `models.Table` of text cells.

`files` opens workbooks (python-calamine) and delimited text (the csv module) and finds the
header row; `headers` matches header texts to batchprov's fields and recognises its own
result columns.
"""
