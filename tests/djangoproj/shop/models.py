"""One model: an order."""

from django.db import models


class Order(models.Model):
    """A customer's order."""

    customer = models.CharField(max_length=100)
    total = models.IntegerField()
