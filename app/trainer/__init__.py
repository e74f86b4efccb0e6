"""Pasture's fine-tuning worker: Alpaca exports in, LoRA adapters or full weights out.

Imports neither the web service nor the database layer; see README.md in this folder.
"""
