"""forecast: hourly power, price and cost-pledge forecasting for AI data centres."""

__version__ = "0.1.0"
