"""A number's life after it is bought, as commands: export a group, release, the run history.

`export` writes a group's numbers as a batchprov input whose rows are all provisioned;
`release` gives numbers back (``DELETE /numbers/{id}``), journaled through `change.apply`
like purchases; `history` shows the journal's runs and writes one run as an audit workbook.
Updates (``run --update``) are part of a run: `change.update`, called by `pipeline`.
"""
