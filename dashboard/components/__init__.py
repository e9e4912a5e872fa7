"""Reusable pieces of the dashboard: charts, the attention graph, tables, shared controls, theme and errors."""
