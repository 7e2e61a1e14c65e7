"""The North American numbering plan: what the data knows, and what follows for an order.

`nanp` reads the area codes, exchanges and places from phonenumbers' geographic data; `area`
says where a row's number will be local to (the Expected Area) and warns when the data says
a filter or city cannot be served; `fallback` says what to order instead when the API answers
that no number matches.
"""
