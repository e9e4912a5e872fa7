"""One file per page; the router in `dashboard/app.py` executes them."""
