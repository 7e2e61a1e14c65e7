"""Stage 5, write: every result and every problem written back beside the user's data.

`output` is the entry (`write_output`): the user's workbook kept, `datasheet` adds the result
columns and colours, `reports` the Summary and Errors sheets, `styles` holds the looks they
share, `atomic` the write-and-rename. `template` writes the blank input workbook.
"""
