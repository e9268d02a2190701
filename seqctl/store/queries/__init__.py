"""The queries of each concept, in the SQL both databases read (postgres/dialect.py
translates SQLite's spellings), as mixins the stores are composed of.
"""
