"""A population's purchase lines as typed parallel arrays: the one input of offer features and scoring."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_CATEGORY = -1


@dataclass(frozen=True)
class PurchaseLog:
    """Purchase lines of many customers, one entry per distinct (basket, product).

    Codes are dense: customers 0..n_customers-1, products 0..n_products-1, baskets 0..n_baskets-1, and a
    basket belongs to one customer on one day. Arrays are int64 and of equal length; `product_category`
    (length n_products) maps a product to its category code (NO_CATEGORY when unknown). Lines are sorted by
    (customer, basket order, product), so a customer's lines and baskets are contiguous and in time order.
    """

    customer: np.ndarray
    basket: np.ndarray
    day: np.ndarray
    product: np.ndarray
    product_category: np.ndarray
    n_customers: int
    n_products: int

    @classmethod
    def build(
        cls,
        customer: np.ndarray,
        day: np.ndarray,
        product: np.ndarray,
        product_category: np.ndarray,
        n_customers: int,
        order: np.ndarray | None = None,
    ) -> "PurchaseLog":
        """Sort lines, drop repeated (basket, product) lines and number the baskets.

        A basket is one customer on one day, or one customer's `order` value when given (orders that share
        a day stay separate baskets; `order` must increase with time within a customer).
        """
        customer = np.asarray(customer, dtype=np.int64)
        day = np.asarray(day, dtype=np.int64)
        product = np.asarray(product, dtype=np.int64)
        within = day if order is None else np.asarray(order, dtype=np.int64)
        sort = np.lexsort((product, within, day, customer))
        customer, day, product, within = customer[sort], day[sort], product[sort], within[sort]
        new_basket = np.ones(len(customer), dtype=bool)
        new_basket[1:] = (customer[1:] != customer[:-1]) | (within[1:] != within[:-1]) | (day[1:] != day[:-1])
        basket = np.cumsum(new_basket) - 1
        keep = np.ones(len(customer), dtype=bool)
        keep[1:] = new_basket[1:] | (product[1:] != product[:-1])
        return cls(customer[keep], basket[keep], day[keep], product[keep],
                   np.asarray(product_category, dtype=np.int64), int(n_customers), len(product_category))

    def __len__(self) -> int:
        return len(self.product)

    @property
    def n_baskets(self) -> int:
        return int(self.basket[-1]) + 1 if len(self.basket) else 0

    def select(self, mask: np.ndarray) -> "PurchaseLog":
        """The lines where `mask` is true, baskets renumbered densely (order kept)."""
        basket = self.basket[mask]
        if len(basket):
            new = np.ones(len(basket), dtype=bool)
            new[1:] = basket[1:] != basket[:-1]
            basket = np.cumsum(new) - 1
        return PurchaseLog(self.customer[mask], basket, self.day[mask], self.product[mask],
                           self.product_category, self.n_customers, self.n_products)

    def basket_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per basket: (customer, day, index of its first line); baskets in order."""
        if not len(self.basket):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        first = np.flatnonzero(np.r_[True, self.basket[1:] != self.basket[:-1]])
        return self.customer[first], self.day[first], first
