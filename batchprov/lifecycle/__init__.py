"""A number's life after it is bought: export a group, update, release, and the run history.

`export` writes a group's numbers as a batchprov input whose rows are all provisioned;
`release` gives numbers back (``DELETE /numbers/{id}``) and `update` changes them
(``PUT /numbers/{id}``), both journaled through `changer` like purchases; `history` shows
the journal's runs. `shape` maps a number as the API shows it to the columns of a sheet.
"""
