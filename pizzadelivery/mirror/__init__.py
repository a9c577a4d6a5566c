"""The Redis mirror of orders and drivers: the one owner of that projection.

- ``keys``: every key name (nobody else spells one);
- ``documents``: the typed documents it holds, and how they are built from the rows;
- ``writer``: the projection the publisher applies with each batch, and the rebuild;
- ``readers``: the reads, each with the database behind it.
"""
