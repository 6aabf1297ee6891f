"""Drives the exchange simulator through its control API: the trades a scenario asks for."""
