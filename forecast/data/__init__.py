"""Inputs: data contracts, readers, the scenario simulator, features and windows."""
