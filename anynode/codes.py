"""AnyLog's status codes, as one enum.

An error carries the code AnyLog gives the same failure (``get error <n>``
texts), so AnyLog clients that read ``err_code`` see the number they know.
Names follow AnyLog's texts; the numbers are AnyLog's. Nothing in the package
writes a code as a bare number: it names a member here.
"""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    """One AnyLog status code; prints and serialises as its number."""

    EXIT = -1  # Terminating node processes
    SUCCESS = 0
    UNRECOGNIZED_COMMAND = 1
    COMMAND_STRUCTURE = 2  # Error Command Structure
    PROCESS_FAILURE = 3  # Error Process Failure
    DBMS_NAME = 5  # Wrong DBMS Name or DBMS not connected
    DBMS_NOT_OPEN = 10
    NETWORK_ERROR = 15
    SQL_FAILURE = 16
    DEST_ADDRESS = 20  # IP and Port of destination servers are not properly provided
    SOURCE_ADDRESS = 21  # IP and Port of source server are not properly provided or accessible
    TIMEOUT = 26
    JSON_TO_SQL = 27  # Failed to map JSON to SQL insert
    MISSING_CONFIG = 33  # Missing configuration
    DBMS_NOT_CONNECTED = 50
    SCRIPT_ERROR = 56  # Error in script without 'on error' instruction
    NO_LOCAL_BLOCKCHAIN = 58
    EMPTY_LOCAL_BLOCKCHAIN = 59  # Empty local blockchain file
    BAD_JSON_FILE = 67  # Failed to analyze JSON file
    DUPLICATE_OBJECT_ID = 70  # Duplicate blockchain object id
    DUPLICATE_JSON_FILE = 86
    WRONG_POLICY = 87  # Wrong policy structure
    WRONG_DBMS_KEY_IN_DELETE = 101  # DBMS error: delete row failed - wrong key
    WRONG_DBMS_TYPE = 104
    MISSING_SCRIPT = 112  # Missing script file
    POLICY_NOT_AVAILABLE = 113  # Needed Policy is not available
    MISSING_PARENT_POLICY = 118
    FILE_NAME_STRUCTURE = 119  # Error with file name structure
    TABLE_EXCLUDED = 130  # a table the operator's limit_tables leaves out
    FOREIGN_MEMBER = 131  # File from an unrecognized member of the cluster
    TABLE_NOT_DECLARED = 132  # Local table not declared in blockchain
    ALREADY_ACTIVE = 136  # Process already active
    NOT_IN_COMMAND_TABLE = 141  # Unrecognized Command (not in command table)
    NON_UNIQUE_IP_PORT = 149  # None unique IP:Port in policy
    POLICY_NOT_IN_FILE = 151  # Policy not in local file
    NO_DESTINATION = 155  # Failed to determine destination node
    WRONG_HTTP_METHOD = 156
    UNKNOWN_USER_AGENT = 163
    TABLE_NOT_ALLOWED = 171  # Operator not allowed to declare table
    NON_UNIQUE_POLICY_VALUES = 180
    OPERATOR_NOT_ENABLED = 192  # Operator processes not enabled
    CONNECTION_REFUSED = 208  # Network connection to peer refused
    NON_UNIQUE_POLICY = 215
    MISSING_CLUSTER_POLICY = 222  # Missing cluster policy
    MISSING_POLICY_ATTRIBUTE = 263  # Missing required policy attribute

    # Shown as the number, the same on every Python (3.10 would print "Code.TIMEOUT").
    __str__ = int.__repr__
    __format__ = int.__format__  # type: ignore[assignment]
