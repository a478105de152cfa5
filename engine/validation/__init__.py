"""One layer that checks every table entering the engine: reading (engine.validation.reading), the rules of a
patient table (engine.validation.rules), and what a stored run needs of new patients
(engine.validation.new_patients)."""

from engine.validation.reading import read_table_bytes, read_table_described, read_table_file
from engine.validation.rules import CheckedTable, TableRoles, check_table, raise_problems

__all__ = [
    "CheckedTable",
    "TableRoles",
    "check_table",
    "raise_problems",
    "read_table_bytes",
    "read_table_described",
    "read_table_file",
]
