"""An app with orders and a job that reads them."""
