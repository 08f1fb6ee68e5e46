"""Grid price: readers for market data, day-ahead price model, supply curve / price response."""
