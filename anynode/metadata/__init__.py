"""Shared metadata ("the blockchain"): policies, their selection and extraction, the ledger."""
