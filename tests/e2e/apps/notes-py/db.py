"""The notes database: SQLite in the instance folder, beside the code."""
import os
import sqlite3

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "instance", "notes.db")


def connect():
    conn = sqlite3.connect(PATH, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn
